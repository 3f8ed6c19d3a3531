/**
 * Merger rates combined over metallicity (docs/rates.md, "Combined over metallicity"): runs
 * that share every physics parameter but Z together stand for a metallicity-dependent star
 * formation history. Run j (bin j in ln Z) gets the fraction p_j(z) of the star formation
 * (Neijssel et al. 2019, Sec. 3.3 and 4), so its DCOs contribute SFR(z_form) p_j(z_form) / M_SF,j.
 */
import { metallicityBins } from "./mssfr.js";
import { addMergerRates, ratesContext, zeroRates, type RateDcos, type RatesByType, type RatesContext } from "./run-rates.js";
import type { RatesOptions } from "./options.js";

/** The parameters that define a group: runs sharing all four differ only in metallicity. */
export const GROUP_AXES = ["alpha_ce", "lambda_ce", "kick_sigma", "mass_transfer_fa"] as const;

/** A run's physics parameters, as far as grouping needs them. */
export type GroupableRun = Record<(typeof GROUP_AXES)[number] | "metallicity", number>;

/** Runs that share alpha_ce, lambda_ce, kick_sigma and mass_transfer_fa. */
export interface MetallicityGroup {
  /** alpha_ce, lambda_ce, kick_sigma, mass_transfer_fa (the order of {@link GROUP_AXES}). */
  theta: number[];
  /** Indices of the group's runs, by ascending metallicity, ties in input order. */
  runs: number[];
  /** The distinct metallicities, ascending. */
  metallicities: number[];
}

/**
 * Groups runs by their four non-metallicity parameters (exact equality), in order of each
 * group's first run. Groups with one metallicity are included; callers decide what to do with
 * them (docs/rates.md: by default they are reported, not combined).
 * @param runs - each run's parameters
 */
export function groupByMetallicity(runs: readonly GroupableRun[]): MetallicityGroup[] {
  const byKey = new Map<string, MetallicityGroup>();
  runs.forEach((run, index) => {
    const theta = GROUP_AXES.map((axis) => run[axis]);
    const key = JSON.stringify(theta);
    let group = byKey.get(key);
    if (group === undefined) {
      group = { theta, runs: [], metallicities: [] };
      byKey.set(key, group);
    }
    group.runs.push(index);
  });
  for (const group of byKey.values()) {
    // Array sort is stable, so equal metallicities keep input order.
    group.runs.sort((a, b) => (runs[a] as GroupableRun).metallicity - (runs[b] as GroupableRun).metallicity);
    group.metallicities = [...new Set(group.runs.map((r) => (runs[r] as GroupableRun).metallicity))];
  }
  return [...byKey.values()];
}

/** One run of a group: its metallicity, star-forming mass and DCOs. */
export interface CombinedRun {
  metallicity: number;
  /** Msol; NaN (a run the formula does not cover) makes the group's rates NaN. */
  starFormingMass: number;
  dcos: RateDcos;
}

/** Result of {@link combinedMergerRates}. */
export interface CombinedMergerRates extends RatesByType {
  z: Float64Array;
}

/**
 * Merger rates R(z) per DCO type of a group of runs combined over metallicity, Gpc^-3 yr^-1.
 * Each distinct metallicity is one bin (edges half way between neighbours in ln Z; outer edges
 * by `outerZBins`); runs at the same metallicity share its bin and pool their star-forming
 * mass. With a single metallicity the result is that metallicity's single-metallicity rate.
 * @param runs - the group's runs
 * @param options - rates options, or a context from ratesContext
 */
export function combinedMergerRates(runs: readonly CombinedRun[], options: RatesOptions | RatesContext = {}): CombinedMergerRates {
  const context = "binTable" in options && typeof options.binTable === "function" ? (options as RatesContext) : ratesContext(options as RatesOptions);
  const out = zeroRates(context.grid.z.length);
  const { lnZ, edges } = metallicityBins(
    runs.map((r) => r.metallicity),
    context.options.outerZBins,
  );
  const pooled = new Float64Array(lnZ.length);
  const binOf = runs.map((r) => lnZ.indexOf(Math.log(r.metallicity)));
  runs.forEach((r, i) => {
    const bin = binOf[i] as number;
    pooled[bin] = (pooled[bin] as number) + (r.starFormingMass > 0 ? r.starFormingMass : Number.NaN);
  });
  runs.forEach((r, i) => {
    const bin = binOf[i] as number;
    const table = lnZ.length === 1 ? context.sfrTable : context.binTable(edges[bin] as number, edges[bin + 1] as number);
    addMergerRates(context, r.dcos, table, pooled[bin] as number, out);
  });
  return { z: context.grid.z, ...out };
}
