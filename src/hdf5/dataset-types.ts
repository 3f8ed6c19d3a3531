import { AXES } from "../grid/schema.js";
import { DCO_COLUMNS, type DcoTable } from "./dco-table.js";
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
  /** Extraction diagnostics per run, as the extractor reported them. */
  diagnostics: { run_id: string; diagnostics: unknown }[];
  provenance: SbiProvenance;
}
