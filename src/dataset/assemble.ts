import { CompasEnsembleError } from "../errors.js";
import type { Params } from "../grid/schema.js";
import { resolveRatesOptions, type RatesOptions } from "../physics/rates/options.js";
import type { RunSampling } from "../physics/rates/star-forming-mass.js";
import { computeDatasetRates } from "./rates.js";
import { allocateDcoTable, DCO_COLUMNS, type DcoTable } from "../physics/dco-table.js";
import {
  THETA_COLUMNS,
  type SbiDataset,
  type SbiDcoTable,
  type SbiProvenance,
  type SpinModelRecord,
} from "./types.js";
import { computeSummary, type SummaryBins } from "./summary.js";

/** One run's extracted DCOs and what the dataset records about it. */
export interface AssembleRun {
  run_id: string;
  params: Params;
  /** Simulated binaries in the run. */
  n_systems: number;
  /** All DCOs of the run (the summary needs the non-merging ones too). */
  table: DcoTable;
  /** IMF, mass-ratio distribution and mass bounds from the run's Run_Details; without it the star-forming mass is NaN. */
  sampling?: RunSampling;
  diagnostics?: unknown;
}

/** Everything about a dataset that is not per run. */
export interface AssembleOptions {
  spinModel: SpinModelRecord;
  provenance: SbiProvenance;
  /** Keep only merging DCOs in the stacked table (x is computed from all DCOs either way). */
  mergingOnly?: boolean;
  bins?: Partial<SummaryBins>;
  /** Star-forming mass and merger-rate options (docs/rates.md); defaults when omitted. */
  rates?: RatesOptions;
}

/**
 * Builds an {@link SbiDataset} from runs already extracted: theta from the parameters, x from
 * {@link computeSummary}, star-forming masses and merger rates (docs/rates.md), and the DCO
 * tables stacked in run order with `run_index` (and `rate_z0` when rates are on).
 * @param runs - the runs, in the order they get in theta and x
 * @param options - spin model, provenance, merging-only flag, bins and rates options
 */
export function assembleSbiDataset(runs: readonly AssembleRun[], options: AssembleOptions): SbiDataset {
  if (runs.length === 0) {
    throw new CompasEnsembleError("OUTPUT_INCOMPLETE", `No successful run to build an SBI dataset from (${options.provenance.source}).`, {
      hint: "Run the ensemble (or the failed runs) first; only runs with status success are used.",
    });
  }
  const rates = computeDatasetRates(runs, resolveRatesOptions(options.rates ?? {}));
  const summary = computeSummary(
    runs.map((r) => r.table),
    runs.map((r) => r.n_systems),
    {
      bins: options.bins ?? {},
      starFormingMass: rates.runMass.starFormingMass,
      ...(rates.ratesZ0 === null ? {} : { ratesZ0: rates.ratesZ0 }),
    },
  );
  const mergingOnly = options.mergingOnly ?? false;
  return {
    runIds: runs.map((r) => r.run_id),
    nSystems: runs.map((r) => r.n_systems),
    theta: runs.map((r) => Float64Array.from(THETA_COLUMNS, (c) => r.params[c as keyof Params])),
    thetaColumns: [...THETA_COLUMNS],
    x: summary.x,
    xColumns: summary.columns,
    bins: summary.bins,
    dco: stackDcoTables(
      runs.map((r) => r.table),
      mergingOnly,
      rates.rateZ0 ?? undefined,
    ),
    mergingOnly,
    spinModel: options.spinModel,
    runMass: rates.runMass,
    rates: rates.rates,
    diagnostics: runs.map((r, i) => ({ run_id: r.run_id, diagnostics: withRates(r.diagnostics, rates.diagnostics[i], rates.warnings[i]) })),
    provenance: options.provenance,
  };
}

/** A run's extraction diagnostics with what the rates found added (`rates`, and warnings appended). */
function withRates(diagnostics: unknown, rates: unknown, warnings: readonly string[] | undefined): unknown {
  const base = diagnostics !== null && typeof diagnostics === "object" ? (diagnostics as Record<string, unknown>) : {};
  const previous = Array.isArray(base.warnings) ? (base.warnings as unknown[]) : [];
  return { ...base, warnings: [...previous, ...(warnings ?? [])], rates };
}

type NumberColumn = Exclude<(typeof DCO_COLUMNS)[number], "seed" | "type" | "channel">;

/**
 * Concatenates DCO tables in order and adds `run_index` (position of the source table).
 * @param tables - one table per run
 * @param mergingOnly - keep only rows with merges_hubble_time = 1
 * @param rateZ0 - per table, each row's `rate_z0`, stacked the same way when given
 */
export function stackDcoTables(tables: readonly DcoTable[], mergingOnly = false, rateZ0?: readonly Float64Array[]): SbiDcoTable {
  const keep = tables.map((t) => {
    const rows: number[] = [];
    for (let i = 0; i < t.length; i++) if (!mergingOnly || t.merges_hubble_time[i] === 1) rows.push(i);
    return rows;
  });
  const n = keep.reduce((a, rows) => a + rows.length, 0);
  const out: SbiDcoTable = { ...allocateDcoTable(n), run_index: new Int32Array(n), ...(rateZ0 === undefined ? {} : { rate_z0: new Float64Array(n) }) };
  const numeric = DCO_COLUMNS.filter((c): c is NumberColumn => c !== "seed" && c !== "type" && c !== "channel");
  let at = 0;
  tables.forEach((t, run) => {
    for (const i of keep[run] as number[]) {
      out.run_index[at] = run;
      out.seed[at] = t.seed[i] as bigint;
      for (const c of numeric) out[c][at] = t[c][i] as number;
      out.type[at] = t.type[i] as DcoTable["type"][number];
      out.channel[at] = t.channel[i] as DcoTable["channel"][number];
      if (out.rate_z0 !== undefined) out.rate_z0[at] = (rateZ0?.[run] as Float64Array)[i] as number;
      at++;
    }
  });
  return out;
}
