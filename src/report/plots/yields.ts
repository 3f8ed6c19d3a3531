import { SUMMARY_DCO_TYPES } from "../../dataset/summary.js";
import type { ScienceData } from "../types.js";
import { baseOptions, num, serialise, shortNum, sortedUnique, toCsv, zLabel, type Figure } from "./figure.js";
import type { PlotLib } from "./plot-lib.js";

/** Value of one x column for one run, NaN when the dataset has no such column. */
export function xColumn(science: ScienceData, column: string): (run: number) => number {
  const i = science.xColumns.indexOf(column);
  return (run) => (i < 0 ? NaN : (science.x[run]![i] as number));
}

/** Runs grouped by (metallicity, alpha_ce), averaging over the other axes. */
export function byMetallicityAndAlpha(science: ScienceData): { metallicity: number; alpha_ce: number; runs: number[] }[] {
  const groups = new Map<string, { metallicity: number; alpha_ce: number; runs: number[] }>();
  science.runs.forEach((r, i) => {
    const key = `${r.params.metallicity}|${r.params.alpha_ce}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { metallicity: r.params.metallicity, alpha_ce: r.params.alpha_ce, runs: [] }));
    g.runs.push(i);
  });
  return [...groups.values()].sort((a, b) => a.metallicity - b.metallicity || a.alpha_ce - b.alpha_ce);
}

/**
 * DCO yields against alpha_ce: one panel per DCO type, one line per metallicity, log y. Solid:
 * all DCOs; dashed: those merging within a Hubble time. Per solar mass of star formation when
 * the dataset has `yield_per_msun_*` (the rates issue), else per simulated binary. Runs that
 * share alpha_ce and metallicity (other axes differ) are averaged.
 * @param science - the science section's data
 * @param lib - Plot and its document
 */
export function yieldsFigure(science: ScienceData, lib: PlotLib): Figure {
  const { Plot } = lib;
  const perMsun = science.yieldUnit === "Msol";
  const prefix = perMsun ? "yield_per_msun_" : "yield_";
  const unit = perMsun ? "per Msol of star formation [Msol^-1]" : "per simulated binary";
  const rows: Record<string, number | string>[] = [];
  for (const g of byMetallicityAndAlpha(science)) {
    for (const type of SUMMARY_DCO_TYPES) {
      const all = xColumn(science, `${prefix}${type}`);
      const merging = xColumn(science, `${prefix}${type}_merging`);
      const mean = (f: (run: number) => number): number => g.runs.reduce((s, r) => s + f(r), 0) / g.runs.length;
      rows.push({ type, metallicity: g.metallicity, Z: zLabel(g.metallicity), alpha_ce: g.alpha_ce, runs: g.runs.length, yield: mean(all), yield_merging: mean(merging) });
    }
  }
  // A log axis cannot show 0: those points are left out of the lines (they stay in the CSV).
  const positive = (key: string) => rows.filter((r) => (r[key] as number) > 0);
  const types = SUMMARY_DCO_TYPES.filter((t) => rows.some((r) => r.type === t && ((r.yield as number) > 0 || (r.yield_merging as number) > 0)));
  const zs = sortedUnique(science.runs.map((r) => r.params.metallicity)).map(zLabel);
  const alphas = sortedUnique(science.runs.map((r) => r.params.alpha_ce));
  const html =
    types.length === 0
      ? null
      : serialise(
          Plot.plot({
            ...baseOptions(lib),
            height: 90 + 150 * types.length,
            marginLeft: 64,
            marginRight: 50,
            x: { type: alphas.length > 1 && alphas[0]! > 0 ? "log" : "linear", label: "alpha_ce →", ticks: alphas.length <= 6 ? alphas : undefined, tickFormat: shortNum },
            y: { type: "log", label: `↑ yield ${perMsun ? "[Msol^-1]" : "per binary"}`, grid: true, tickFormat: num },
            fy: { domain: types, label: null },
            color: { type: "categorical", domain: zs, legend: true, label: "metallicity" },
            marks: [
              Plot.frame({ stroke: "#ccc" }),
              Plot.line(positive("yield"), { x: "alpha_ce", y: "yield", fy: "type", stroke: "Z", z: "Z", sort: "alpha_ce", marker: "circle" }),
              Plot.line(positive("yield_merging"), { x: "alpha_ce", y: "yield_merging", fy: "type", stroke: "Z", z: "Z", sort: "alpha_ce", strokeDasharray: "4,3" }),
            ],
          }),
        );
  const maxRuns = Math.max(0, ...rows.map((r) => r.runs as number));
  return {
    id: "plot-yields",
    title: `DCO yields ${unit}`,
    caption:
      `Yield of BBH, BHNS and BNS ${unit} against alpha_ce, one line per metallicity (log y). Solid: all DCOs; dashed: merging within a Hubble time. ` +
      `${maxRuns > 1 ? `Each point is the mean over the runs that share alpha_ce and metallicity (up to ${maxRuns}, differing in lambda_ce, kick_sigma or mass_transfer_fa). ` : ""}` +
      `${perMsun ? "" : "Per binary, because this source has no star-forming mass (yields per solar mass come with the rates). "}` +
      "Zero yields cannot be drawn on a log axis and are left out of the lines (they are in the CSV).",
    html,
    ...(html === null ? { note: "No run has any DCO, so there is no yield to plot." } : {}),
    csv: { name: "yields.csv", text: toCsv(["type", "metallicity", "alpha_ce", "runs", "yield", "yield_merging"], rows) },
  };
}
