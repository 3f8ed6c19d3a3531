import { AXES } from "../grid/schema.js";
import type { ResolvedRatesOptions } from "../physics/rates/options.js";
import type { RateDcoType } from "../physics/rates/run-rates.js";
import { DCO_COLUMNS, DCO_UNITS, type DcoTable } from "../physics/dco-table.js";
import type { SummaryBins } from "./summary.js";

/** Columns of theta, in order: the five physics parameters of a run. */
export const THETA_COLUMNS: readonly string[] = AXES;

/** Columns of the stacked DCO table, in the order the writers use: `run_index`, then {@link DCO_COLUMNS}. */
export const SBI_DCO_COLUMNS = ["run_index", ...DCO_COLUMNS] as const;

/** Name of one column of the stacked DCO table. */
export type SbiDcoColumn = (typeof SBI_DCO_COLUMNS)[number];

/** Every run's DCOs in one table; `run_index` is the row of the run in theta and x. */
export interface SbiDcoTable extends DcoTable {
  run_index: Int32Array;
  /**
   * Gpc^-3 yr^-1: each DCO's contribution R_i(0) to its run's merger rate today, 0 outside the
   * rates selection (docs/rates.md). Absent when rates are switched off.
   */
  rate_z0?: Float64Array;
}

/** Units of the per-DCO merger-rate weight `rate_z0`. */
export const RATE_UNITS = "Gpc^-3 yr^-1";

/** One DCO column as the writers store it: name, values and `units`. */
export interface SbiDcoColumnData {
  name: string;
  values: SbiDcoTable[SbiDcoColumn] | Float64Array;
  units: string;
}

/**
 * The DCO columns of a dataset in the order the writers use: {@link SBI_DCO_COLUMNS}, then
 * `rate_z0` when the dataset has rates.
 * @param d - the dataset
 */
export function sbiDcoColumns(d: Pick<SbiDataset, "dco">): SbiDcoColumnData[] {
  const columns: SbiDcoColumnData[] = SBI_DCO_COLUMNS.map((name) => ({ name, values: d.dco[name], units: DCO_UNITS[name] }));
  if (d.dco.rate_z0 !== undefined) columns.push({ name: "rate_z0", values: d.dco.rate_z0, units: RATE_UNITS });
  return columns;
}

/** Per run: the sampling bounds read from Run_Details and the star-forming mass they give. */
export interface SbiRunMass {
  /** Msol, initial-mass-min (NaN when unknown). */
  m1Min: Float64Array;
  /** Msol, initial-mass-max. */
  m1Max: Float64Array;
  /** Msol, minimum-secondary-mass. */
  m2Min: Float64Array;
  /** Msol of star formation the run represents; NaN where docs/rates.md's formula does not apply. */
  starFormingMass: Float64Array;
}

/** Merger rates combined over metallicity, one row per group (docs/rates.md). */
export interface SbiCombinedRates {
  /** Names of the theta columns of a group: alpha_ce, lambda_ce, kick_sigma, mass_transfer_fa. */
  columns: string[];
  /** Per group, its four parameters. */
  theta: number[][];
  /** Per group, its runs (rows of /theta) by ascending metallicity. */
  runs: number[][];
  /** Per group, R(z) on the grid, Gpc^-3 yr^-1. */
  BBH: Float64Array[];
  BHNS: Float64Array[];
  BNS: Float64Array[];
}

/** The merger rates of a dataset and the options they were computed with. */
export interface SbiRates {
  options: ResolvedRatesOptions;
  /** Every parameter, as written to the outputs (JSON-ready). */
  record: Record<string, unknown>;
  /** Redshift grid, null when rates are switched off. */
  z: Float64Array | null;
  /** Per type, per run: the single-metallicity R(z), Gpc^-3 yr^-1; null when switched off. */
  perRun: Record<RateDcoType, Float64Array[]> | null;
  /** Groups of runs combined over metallicity; null when switched off. */
  combined: SbiCombinedRates | null;
}

/** The spin model the DCOs were extracted with, as recorded in the outputs (extra fields kept). */
export interface SpinModelRecord {
  name: string;
  params: Record<string, unknown>;
  constants: Record<string, unknown>;
  [key: string]: unknown;
}

/** Where a dataset came from. */
export interface SbiProvenance {
  /** compas-ensemble version that built the dataset. */
  library_version: string;
  /** Absolute path of the manifest the runs were read from. */
  source: string;
  /** ISO 8601 time the dataset was built. */
  created_at: string;
  /** The manifest's `creation_time`, if it had one. */
  manifest_creation_time?: string;
  /** The manifest's `compas_binary`, if it had one. */
  compas_binary?: string;
  /** Runs the manifest lists as failed, left out of the dataset. */
  failed_run_ids?: string[];
  /**
   * True when every run's output was checked against its recorded size and sha256 before it
   * was read; false when it was not (no task records, or verification turned off).
   */
  outputs_verified?: boolean;
}

/** An SBI dataset in memory: per-run theta and summary x, and every run's DCOs. */
export interface SbiDataset {
  /** Run id of each run (row of theta and x). */
  runIds: string[];
  /** Simulated binaries per run (what the yields are divided by). */
  nSystems: number[];
  /** One row per run, in {@link THETA_COLUMNS} order. */
  theta: Float64Array[];
  thetaColumns: string[];
  /** One fixed-length summary vector per run (see summary.ts). */
  x: Float64Array[];
  xColumns: string[];
  /** Bin edges of the histograms in x. */
  bins: SummaryBins;
  /** DCOs of all runs, stacked in run order. Only merging DCOs when `mergingOnly`. */
  dco: SbiDcoTable;
  /** True when the DCO table keeps only DCOs with COMPAS's Merges_Hubble_Time flag; x is unaffected. */
  mergingOnly: boolean;
  spinModel: SpinModelRecord;
  /** Per run: sampling bounds and star-forming mass. */
  runMass: SbiRunMass;
  /** Merger rates and the options used (docs/rates.md). */
  rates: SbiRates;
  /** Extraction diagnostics per run, as the extractor reported them, plus what the rates found. */
  diagnostics: { run_id: string; diagnostics: unknown }[];
  provenance: SbiProvenance;
}

/** The formats an SBI dataset is written in: HDF5 for h5py, Parquet for pandas, a directory of NumPy files. */
export const SBI_FORMATS = ["h5", "parquet", "npy"] as const;

/** One output format of an SBI dataset. */
export type SbiFormat = (typeof SBI_FORMATS)[number];
