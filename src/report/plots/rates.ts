import type { RatesData } from "../types.js";
import { baseOptions, num, serialise, sortedUnique, toCsv, type Figure } from "./figure.js";
import type { PlotLib } from "./plot-lib.js";

/** Most redshifts per line: the rates' z grid (step 0.01) is thinned to this for drawing. */
export const MAX_Z_POINTS = 201;

const TYPES = ["BBH", "BHNS", "BNS"] as const;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Indices of z kept for drawing: evenly strided, always with the first and the last. */
export function thinZ(n: number, max = MAX_Z_POINTS): number[] {
  const stride = Math.max(1, Math.ceil((n - 1) / (max - 1)));
  const keep: number[] = [];
  for (let i = 0; i < n; i += stride) keep.push(i);
  if (keep.at(-1) !== n - 1) keep.push(n - 1);
  return keep;
}

/**
 * Merger rate density R(z) of the groups of runs combined over metallicity (`/rates_combined`),
 * one panel per DCO type, log y. One line per alpha_ce: the median over the groups that share
 * it (they differ in lambda_ce, kick_sigma or mass_transfer_fa), so a 360-group grid stays
 * readable; with one group per alpha_ce the line is that group's R(z). Left out with a note when
 * the source has no rates (ensembles, and datasets made before the rates or with --no-rates).
 * @param rates - the rates, or null
 * @param lib - Plot and its document
 */
export function ratesFigure(rates: RatesData | null, lib: PlotLib): Figure {
  const base = { id: "plot-rates", title: "Merger rate density R(z) per metallicity group" };
  if (rates === null || rates.groups.length === 0) {
    return {
      ...base,
      caption: "",
      html: null,
      note:
        rates === null
          ? "No merger rates in this source: rates are computed by `compas-ensemble extract` into the SBI dataset; make one and report on it (compas-ensemble report sbi.h5)."
          : "The dataset has rates, but no group of runs spans two or more metallicities, so none could be combined.",
      csv: null,
    };
  }
  const { Plot } = lib;
  const alphaCol = rates.groups[0]!.columns.indexOf("alpha_ce");
  const alphaOf = (g: number): number => rates.groups[g]!.theta[alphaCol]!;
  const alphas = sortedUnique(rates.groups.map((_, g) => alphaOf(g)));
  const keep = thinZ(rates.z.length);
  const rows: { type: string; alpha_ce: number; groups: number; z: number; rate: number }[] = [];
  for (const type of TYPES) {
    for (const alpha of alphas) {
      const members = rates.groups.map((_, g) => g).filter((g) => alphaOf(g) === alpha);
      for (const k of keep) rows.push({ type, alpha_ce: alpha, groups: members.length, z: rates.z[k]!, rate: median(members.map((g) => rates.combined[type][g]![k]!)) });
    }
  }
  const drawn = rows.filter((r) => r.rate > 0);
  const types = TYPES.filter((t) => drawn.some((r) => r.type === t));
  const csv = { name: "rates.csv", text: toCsv(["type", "alpha_ce", "groups", "z", "rate"], rows) };
  const maxGroups = Math.max(...rows.map((r) => r.groups));
  const caption =
    `R(z) [Gpc^-3 yr^-1] of the runs combined over metallicity, one panel per DCO type, one line per alpha_ce (log y)` +
    `${maxGroups > 1 ? `: the median over the groups sharing alpha_ce (up to ${maxGroups}, differing in lambda_ce, kick_sigma or mass_transfer_fa)` : ""}. ` +
    `Drawn at ${keep.length} of the ${rates.z.length} redshifts; zero rates are left out of the log axis (they are in the CSV).`;
  if (drawn.length === 0) return { ...base, caption, html: null, note: "Every combined rate is zero.", csv };
  const html = serialise(
    Plot.plot({
      ...baseOptions(lib),
      height: 80 + 150 * types.length,
      marginLeft: 60,
      marginRight: 50,
      x: { label: "redshift z →" },
      y: { type: "log", label: "↑ R(z) [Gpc^-3 yr^-1]", grid: true, tickFormat: num },
      fy: { domain: types, label: null },
      color: { type: "categorical", domain: alphas.map(num), legend: true, label: "alpha_ce" },
      marks: [
        Plot.frame({ stroke: "#ccc" }),
        Plot.line(drawn, { x: "z", y: "rate", fy: "type", stroke: (r: { alpha_ce: number }) => num(r.alpha_ce), z: "alpha_ce", sort: "z" }),
      ],
    }),
  );
  return { ...base, caption, html, csv };
}
