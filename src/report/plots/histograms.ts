import type { ScienceData } from "../types.js";
import { baseOptions, num, serialise, sortedUnique, toCsv, zLabel, type Figure } from "./figure.js";
import type { PlotLib } from "./plot-lib.js";

/** One histogrammed quantity of merging BBHs. */
interface Quantity {
  key: string;
  label: string;
  /** Per DCO row; NaN leaves the row out. */
  value: (science: ScienceData, i: number) => number;
  /** Fixed range, or null to span the data. */
  range: [number, number] | null;
}

const QUANTITIES: Quantity[] = [
  { key: "m1", label: "m1, primary mass [Msol]", value: (s, i) => s.dco.m1[i]!, range: null },
  { key: "q", label: "q = m2 / m1", value: (s, i) => s.dco.q[i]!, range: [0, 1] },
  { key: "chi_eff", label: "chi_eff", value: (s, i) => s.dco.chi_eff[i]!, range: [-1, 1] },
  { key: "chi_p", label: "chi_p", value: (s, i) => s.dco.chi_p[i]!, range: [0, 1] },
  { key: "log10_t_delay", label: "log10 t_delay [Myr]", value: (s, i) => Math.log10(s.dco.t_delay[i]!), range: null },
  { key: "log10_a_final", label: "log10 a_final [AU]", value: (s, i) => (s.dco.a_final ? Math.log10(s.dco.a_final[i]!) : NaN), range: null },
];

/** Bins of each histogram. */
export const HISTOGRAM_BINS = 20;

/** Rows of merging BBHs (COMPAS's Merges_Hubble_Time flag) in the stacked DCO table. */
export function mergingBbhRows(science: ScienceData): number[] {
  const rows: number[] = [];
  for (let i = 0; i < science.dco.length; i++) if (science.dco.type[i] === "BBH" && science.dco.merges_hubble_time[i] === 1) rows.push(i);
  return rows;
}

/**
 * Equal-width bins over `range` (or the data's extent), counting per metallicity; values
 * outside a fixed range go to the first or last bin, as in the summary vector x.
 */
function binCounts(values: { z: number; v: number }[], range: [number, number] | null): { lo: number; hi: number; z: number; count: number }[] {
  const finite = values.filter((p) => Number.isFinite(p.v));
  if (finite.length === 0) return [];
  // A loop, not Math.min(...values): a spread of a million values overflows the stack.
  let [lo, hi] = range ?? finite.reduce<[number, number]>(([a, b], p) => [Math.min(a, p.v), Math.max(b, p.v)], [Infinity, -Infinity]);
  if (!(hi > lo)) [lo, hi] = [lo - 0.5, hi + 0.5];
  const width = (hi - lo) / HISTOGRAM_BINS;
  const counts = new Map<number, number[]>();
  for (const p of finite) {
    const bin = Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor((p.v - lo) / width)));
    let c = counts.get(p.z);
    if (!c) counts.set(p.z, (c = new Array<number>(HISTOGRAM_BINS).fill(0)));
    c[bin]!++;
  }
  const out: { lo: number; hi: number; z: number; count: number }[] = [];
  for (const z of sortedUnique(counts.keys())) {
    counts.get(z)!.forEach((count, b) => out.push({ lo: lo + b * width, hi: b === HISTOGRAM_BINS - 1 ? hi : lo + (b + 1) * width, z, count }));
  }
  return out;
}

/**
 * Histograms of merging BBHs, one figure per quantity (m1, q, chi_eff, chi_p, log10 t_delay,
 * log10 a_final) with one panel per metallicity; bars are the fraction of that metallicity's
 * merging BBHs in each of 20 equal-width bins. a_final is left out with a note when the source
 * has no final separations (datasets before format 2).
 * @param science - the science section's data
 * @param lib - Plot and its document
 */
export function histogramFigures(science: ScienceData, lib: PlotLib): Figure[] {
  const { Plot } = lib;
  const rows = mergingBbhRows(science);
  const zOf = (i: number): number => science.runs[science.dco.run_index[i]!]!.params.metallicity;
  const zs = sortedUnique(rows.map(zOf));
  return QUANTITIES.map((q) => {
    const id = `plot-hist-${q.key.replaceAll("_", "-")}`;
    const title = `Merging BBHs: ${q.label}`;
    if (q.key === "log10_a_final" && !science.dco.a_final) {
      return {
        id,
        title,
        caption: "",
        html: null,
        note: "This source has no final separations (a_final comes with SBI datasets of format 2 and later), so this histogram is left out.",
        csv: null,
      };
    }
    const bins = binCounts(rows.map((i) => ({ z: zOf(i), v: q.value(science, i) })), q.range);
    const totals = new Map<number, number>();
    for (const b of bins) totals.set(b.z, (totals.get(b.z) ?? 0) + b.count);
    const data = bins.map((b) => ({ ...b, Z: zLabel(b.z), fraction: b.count / (totals.get(b.z) ?? 1) }));
    const csv = { name: `hist_${q.key}.csv`, text: toCsv(["metallicity", "bin_lo", "bin_hi", "count", "fraction"], data.map((d) => ({ metallicity: d.z, bin_lo: d.lo, bin_hi: d.hi, count: d.count, fraction: d.fraction }))) };
    if (data.length === 0) {
      return { id, title, caption: "", html: null, note: rows.length === 0 ? "No merging BBH in this ensemble." : `No merging BBH has a finite ${q.key}.`, csv };
    }
    const panels = sortedUnique(data.map((d) => d.z)).map(zLabel);
    const html = serialise(
      Plot.plot({
        ...baseOptions(lib, { width: 360 }),
        height: 50 + 70 * panels.length,
        marginLeft: 50,
        marginRight: 95,
        x: { label: `${q.label} →`, tickFormat: num },
        y: { label: "↑ fraction", ticks: 2 },
        fy: { domain: panels, label: null },
        marks: [
          // Empty bins draw nothing, so the bars are exactly the non-zero rows of the CSV.
          Plot.rectY(data.filter((d) => d.count > 0), { x1: "lo", x2: "hi", y: "fraction", fy: "Z", fill: "#4e79a7", inset: 0.5, title: (d: { count: number; lo: number; hi: number }) => `${d.count} in [${num(d.lo)}, ${num(d.hi)})` }),
          Plot.ruleY([0]),
        ],
      }),
    );
    return {
      id,
      title,
      caption: `Fraction of each metallicity's merging BBHs (${rows.length} in all, over ${zs.length} metallicit${zs.length === 1 ? "y" : "ies"}) in ${HISTOGRAM_BINS} bins of ${q.label}.`,
      html,
      csv,
    };
  });
}
