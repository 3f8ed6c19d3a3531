import type { Params } from "../grid/schema.js";
import type { SbiDcoTable, SpinModelRecord } from "../dataset/types.js";
import type { CompasIdentity } from "../plan/schema.js";
import type { EnsembleEstimate } from "../estimate/estimate.js";

/**
 * What the report shows for a run. `output missing`: the fragments say it succeeded but the
 * store has no COMPAS_Output.h5 for it (a partial sync); `unreadable`: the output is there but
 * cannot be read (corrupt or truncated).
 */
export const RUN_STATES = ["succeeded", "failed", "running", "queued", "output missing", "unreadable"] as const;

/** State of one run in the report. */
export type RunState = (typeof RUN_STATES)[number];

/** One run (grid point) as the status section shows it. */
export interface ReportRun {
  run_id: string;
  grid_index: number;
  params: Params;
  state: RunState;
  /** Seconds COMPAS and the worker took for the run (sum over its tasks' decisive attempts); null when not finished. */
  seconds: number | null;
  /** Attempts recorded over all its tasks. */
  attempts: number;
  /** First seed of the run. */
  seed: number;
  nSystems: number;
}

/** A task that failed for good, with where its log is. */
export interface ReportFailure {
  run_id: string;
  task_id: string;
  /** `CODE: message` of the latest attempt. */
  reason: string;
  attempts: number;
  /** Store key of the latest attempt's log. */
  logKey: string;
}

/** A run whose output is missing or unreadable: listed, never fatal. */
export interface ReportProblem {
  run_id: string;
  state: "output missing" | "unreadable";
  detail: string;
}

/** The status section's data. */
export interface StatusData {
  /** What the report was made from: an ensemble (plan and fragments) or an SBI dataset file. */
  kind: "ensemble" | "sbi";
  /** Store URI or file path. */
  source: string;
  ensembleId: string | null;
  runs: ReportRun[];
  /** Runs per state. */
  counts: Record<RunState, number>;
  tasks: { total: number; succeeded: number; failed: number; pending: number };
  /** Sum of every recorded attempt's duration, in hours of one core; null when nothing ran or unknown. */
  cpuHours: number | null;
  /** From the first attempt's start to the last attempt's end; null when unknown. */
  wallSeconds: number | null;
  /** Time left at `concurrency` tasks at once (null before any success, 0 when done). */
  etaSeconds: number | null;
  concurrency: number;
  /**
   * Whether running tasks can be told apart from queued ones: true for a local store on this
   * machine (COMPAS's pid files), false otherwise (the store holds only finished attempts).
   */
  runningKnown: boolean;
  failures: ReportFailure[];
  problems: ReportProblem[];
  /** Fragments that could not be read (their tasks count as not done). */
  invalidFragments: { key: string; reason: string }[];
  estimate?: EnsembleEstimate;
}

/** Merger rates read from an SBI dataset (docs/sbi-dataset.md, rates). */
export interface RatesData {
  /** Redshifts of the R(z) columns. */
  z: Float64Array;
  /** Groups of runs combined over metallicity: theta rows (alpha_ce, lambda_ce, kick_sigma, mass_transfer_fa). */
  groups: { theta: number[]; columns: string[] }[];
  /** R(z) per group and DCO type [Gpc^-3 yr^-1], rows matching `groups`. */
  combined: Record<"BBH" | "BHNS" | "BNS", Float64Array[]>;
}

/**
 * The DCO table as a report reads it: `a_final` and `e_final` only when the source has them
 * (SBI datasets of format 1 do not).
 */
export type ReportDcoTable = Omit<SbiDcoTable, "a_final" | "e_final"> & { a_final?: Float64Array; e_final?: Float64Array };

/** The science section's data: per-run summary vectors and the stacked DCO table. */

export interface ScienceData {
  runs: { run_id: string; params: Params; nSystems: number }[];
  /** One summary vector per run (docs/sbi-dataset.md). */
  x: Float64Array[];
  xColumns: string[];
  /** Whether yields are per solar mass of star formation (x has yield_per_msun_*) or per simulated binary. */
  yieldUnit: "Msol" | "binary";
  /** DCOs of every run; `run_index` points into `runs`. `a_final` [AU] only when the source has it. */
  dco: ReportDcoTable;
  /** True when the table keeps only merging DCOs (an SBI dataset built with --merging-only). */
  mergingOnly: boolean;
  rates: RatesData | null;
}

/** The provenance section's data. */
export interface ProvenanceData {
  compas: CompasIdentity | null;
  /** compas-ensemble version that planned the ensemble or built the dataset. */
  libraryVersion: string | null;
  profile: string | null;
  nSystemsPerRun: number | null;
  systemsPerTask: number | null;
  seedBase: number | null;
  /** The first task's exact COMPAS arguments (without the binary and output path). */
  exampleArgs: string[] | null;
  /** Flags every task shares, in the order of the first task. */
  commonFlags: [string, string | undefined][];
  spinModel: SpinModelRecord | null;
  /** Free-form records (the dataset's provenance, the rates' parameters). */
  extra: { label: string; value: string }[];
}

/** Everything a report shows; gathered from a store or an SBI file, rendered by the plot modules. */
export interface ReportData {
  title: string;
  createdAt: string;
  status: StatusData;
  /** Null when no run has a readable output; `scienceEmptyReason` says why. */
  science: ScienceData | null;
  scienceEmptyReason: string | null;
  provenance: ProvenanceData;
}
