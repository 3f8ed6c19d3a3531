import type { PlotDocument, PlotLib } from "./plot-lib.js";

/** One plot of the report: its SVG (or a note why it is left out) and the data behind it. */
export interface Figure {
  /** HTML id, `plot-<name>`; the browser tests find plots by it. */
  id: string;
  title: string;
  /** One or two sentences: what is plotted, units, and how the data were aggregated. */
  caption: string;
  /** Plot's output (an `<svg>` or a `<figure>` with legend and svg); null when left out. */
  html: string | null;
  /** Why the plot is left out (shown instead of it). */
  note?: string;
  /** The data behind the plot, offered as a CSV download. */
  csv: { name: string; text: string } | null;
}

/** Width of every plot's coordinate system, px. CSS scales the SVG to the page (viewBox). */
export const PLOT_WIDTH = 480;

/** Plot options shared by every figure: document, width, readable font size. */
export function baseOptions(lib: PlotLib, extra: { width?: number } = {}): { document: PlotDocument; width: number; style: Record<string, string> } {
  return { document: lib.document, width: extra.width ?? PLOT_WIDTH, style: { fontSize: "13px" } };
}

/**
 * Plot's output as HTML. Plot returns an `<svg>`, or a `<figure>` when it adds a legend; the
 * element is detached from the document afterwards so the shared document does not grow.
 */
export function serialise(element: unknown): string {
  const e = element as { outerHTML: string; remove(): void };
  const html = e.outerHTML;
  e.remove();
  return html;
}

/**
 * CSV text (RFC 4180: comma-separated, fields with commas, quotes or newlines quoted).
 * @param columns - header, in order
 * @param rows - one record per row; missing values are left empty
 */
export function toCsv(columns: readonly string[], rows: readonly Record<string, unknown>[]): string {
  const cell = (v: unknown): string => {
    if (v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v))) return "";
    const s = typeof v === "number" ? String(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [columns.join(","), ...rows.map((r) => columns.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}

/** Numbers for labels: 0.1, 0.0142, 217, 1.5e-5. */
export function num(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e-4 && a < 1e5) return String(Number.parseFloat(v.toPrecision(4)));
  return v.toExponential(2).replace(/\.?0+e/, "e");
}

/** Short tick labels: two significant digits (0.15, 0.24, 217 stays 217). */
export function shortNum(v: number): string {
  return Math.abs(v) >= 100 ? String(Math.round(v)) : num(Number.parseFloat(v.toPrecision(2)));
}

/** Distinct values in ascending numeric order. */
export function sortedUnique(values: Iterable<number>): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Label of a metallicity value: `Z = 0.0142`. */
export function zLabel(z: number): string {
  return `Z = ${num(z)}`;
}
