import type { Params } from "../grid/schema.js";
import { combinedMergerRates, GROUP_AXES, groupByMetallicity } from "../physics/rates/combined.js";
import type { ResolvedRatesOptions } from "../physics/rates/options.js";
import { ratesRecord } from "../physics/rates/record.js";
import { mergerRates, RATE_DCO_TYPES, ratesContext, type RateDcoType } from "../physics/rates/run-rates.js";
import { starFormingMass, type RunSampling } from "../physics/rates/star-forming-mass.js";
import type { SbiCombinedRates, SbiRates, SbiRunMass } from "./types.js";
import type { DcoTable } from "../physics/dco-table.js";

/** What the rates of a dataset need from each run. */
export interface RatesRun {
  params: Params;
  n_systems: number;
  table: DcoTable;
  /** From the run's Run_Details; undefined when unknown (star-forming mass NaN). */
  sampling?: RunSampling;
}

/** What the rates add to each run's diagnostics. */
export interface RunRatesDiagnostics {
  /** Why the star-forming mass (and so every per-Msol number and rate of the run) is NaN, or null. */
  star_forming_mass_problem: string | null;
  /** Row of the run's metallicity group in /rates_combined, or null when it is not combined. */
  combined_group: number | null;
  /** Why the run's group is not combined over metallicity, or null. */
  not_combined_reason: string | null;
}

/** Everything the rates contribute to a dataset. */
export interface DatasetRates {
  runMass: SbiRunMass;
  rates: SbiRates;
  /** Per run, R_i(0) of each row of its DCO table; null when rates are off. */
  rateZ0: Float64Array[] | null;
  /** Per run, its rates at z = 0 by type (for x); null when rates are off. */
  ratesZ0: Record<RateDcoType, number>[] | null;
  diagnostics: RunRatesDiagnostics[];
  /** Per run, warnings for the user (a NaN star-forming mass). */
  warnings: string[][];
}

/**
 * Star-forming mass of every run, and (when enabled) each run's single-metallicity R(z) and
 * each metallicity group's combined R(z), as docs/rates.md defines them.
 * @param runs - the dataset's runs, in row order
 * @param options - resolved rates options
 */
export function computeDatasetRates(runs: readonly RatesRun[], options: ResolvedRatesOptions): DatasetRates {
  const n = runs.length;
  const runMass: SbiRunMass = {
    m1Min: Float64Array.from(runs, (r) => r.sampling?.m1Min ?? Number.NaN),
    m1Max: Float64Array.from(runs, (r) => r.sampling?.m1Max ?? Number.NaN),
    m2Min: Float64Array.from(runs, (r) => r.sampling?.m2Min ?? Number.NaN),
    starFormingMass: new Float64Array(n),
  };
  const diagnostics: RunRatesDiagnostics[] = runs.map(() => ({ star_forming_mass_problem: null, combined_group: null, not_combined_reason: null }));
  const warnings: string[][] = runs.map(() => []);
  runs.forEach((run, i) => {
    const { mass, problem } =
      run.sampling === undefined
        ? { mass: Number.NaN, problem: "its mass bounds are unknown" }
        : starFormingMass(run.sampling, run.n_systems, options.fBin);
    runMass.starFormingMass[i] = mass;
    if (problem !== null) {
      const d = diagnostics[i] as RunRatesDiagnostics;
      d.star_forming_mass_problem = problem;
      (warnings[i] as string[]).push(
        `star-forming mass, yields per Msol and merger rates are NaN: ${problem} (docs/rates.md, "Star-forming mass").`,
      );
    }
  });
  const record = ratesRecord(options);
  if (!options.enabled) {
    return { runMass, rates: { options, record, z: null, perRun: null, combined: null }, rateZ0: null, ratesZ0: null, diagnostics, warnings };
  }

  const context = ratesContext(options);
  const perRun: Record<RateDcoType, Float64Array[]> = { BBH: [], BHNS: [], BNS: [] };
  const rateZ0: Float64Array[] = [];
  const ratesZ0: Record<RateDcoType, number>[] = [];
  runs.forEach((run, i) => {
    const r = mergerRates(run.table, runMass.starFormingMass[i] as number, context);
    for (const type of RATE_DCO_TYPES) perRun[type].push(r[type]);
    rateZ0.push(r.rateZ0);
    ratesZ0.push({ BBH: r.BBH[0] as number, BHNS: r.BHNS[0] as number, BNS: r.BNS[0] as number });
  });

  const combined: SbiCombinedRates = { columns: [...GROUP_AXES], theta: [], runs: [], BBH: [], BHNS: [], BNS: [] };
  for (const group of groupByMetallicity(runs.map((r) => r.params))) {
    if (group.metallicities.length < 2 && !options.combineSingleMetallicity) {
      const reason = `its group (${GROUP_AXES.map((a, j) => `${a} ${group.theta[j]}`).join(", ")}) has runs at one metallicity only (${group.metallicities[0]}), which cannot be combined over metallicity`;
      for (const r of group.runs) (diagnostics[r] as RunRatesDiagnostics).not_combined_reason = reason;
      continue;
    }
    const rates = combinedMergerRates(
      group.runs.map((r) => ({
        metallicity: (runs[r] as RatesRun).params.metallicity,
        starFormingMass: runMass.starFormingMass[r] as number,
        dcos: (runs[r] as RatesRun).table,
      })),
      context,
    );
    for (const r of group.runs) (diagnostics[r] as RunRatesDiagnostics).combined_group = combined.theta.length;
    combined.theta.push(group.theta);
    combined.runs.push(group.runs);
    for (const type of RATE_DCO_TYPES) combined[type].push(rates[type]);
  }
  return { runMass, rates: { options, record, z: context.grid.z, perRun, combined }, rateZ0, ratesZ0, diagnostics, warnings };
}
