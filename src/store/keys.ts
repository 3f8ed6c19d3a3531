import { posix } from "node:path";
import { CompasEnsembleError } from "../errors.js";

// Every key of an ensemble's store, named once. The layout (docs/architecture.md):
//
//   plan.json                                           PLAN_KEY
//   ensemble_metadata.json                              MANIFEST_KEY
//   fragments/<task_id>.a<attempt>.json                 fragmentKey(), parseFragmentKey()
//   logs/<task_id>.a<attempt>.log                       logKey()
//   logs/slurm/slurm-<array job>_<index>.out            SLURM_LOGS_DIR (local stores)
//   runs/<run_id>/COMPAS_Output/COMPAS_Output.h5        runOutputKey()
//   runs/<run_id>/COMPAS_Output/Run_Details             runDetailsKey()
//   runs/<run_id>/COMPAS_Output/Detailed_Output/...     detailedOutputKey()
//   runs/<run_id>/merge.json                            mergeRecordKey()
//   chunks/<run_id>/c<k>/COMPAS_Output.h5               chunkOutputKey()
//   executor/handle.json                                HANDLE_KEY
//   executor/index-lists/<name>.json                    indexListKey()
//   executor/slurm/<submission>/array-<k>.sh            slurmScriptKey()
//   executor/slurm/<submission>/cancelled.json          slurmCancelMarkerKey()
//   archive/<old ensemble id>/<key>                     archiveKey()
//
// and, in a local directory only:
//
//   .scratch/                                           SCRATCH_DIR (the local executor)
//   .compas-ensemble.lock                               LOCK_FILE
//   .compas-sync-state.json                             SYNC_STATE_FILE

/** The plan, written before anything runs. */
export const PLAN_KEY = "plan.json";
/** The manifest derived from the fragments (the older Python tool's file name). */
export const MANIFEST_KEY = "ensemble_metadata.json";
/** Folder of the fragments, one per finished task attempt. */
export const FRAGMENTS_PREFIX = "fragments/";
/** Folder of the task logs. */
export const LOGS_PREFIX = "logs/";
/** Folder of the run outputs and merge records. */
export const RUNS_PREFIX = "runs/";
/** Folder of chunk outputs not merged yet. */
export const CHUNKS_PREFIX = "chunks/";
/** Folder of what executors keep: handle, index lists, Slurm scripts. */
export const EXECUTOR_PREFIX = "executor/";
/** Folder of metadata put aside by a restart. */
export const ARCHIVE_PREFIX = "archive/";
/** The handle of the latest submission of a detached executor. */
export const HANDLE_KEY = `${EXECUTOR_PREFIX}handle.json`;
/** Folder of Slurm's own job logs in a local ensemble directory. */
export const SLURM_LOGS_DIR = `${LOGS_PREFIX}slurm`;
/** The local executor's scratch folder in a local ensemble directory. */
export const SCRATCH_DIR = ".scratch";
/** The lock file an orchestrator holds in a local ensemble directory. */
export const LOCK_FILE = ".compas-ensemble.lock";
/** The checksum cache `sync` keeps at the root of a local directory; never listed or synced. */
export const SYNC_STATE_FILE = ".compas-sync-state.json";
/** File name of a COMPAS output. */
export const COMPAS_OUTPUT_FILE = "COMPAS_Output.h5";
/** File name of COMPAS's run settings beside its output. */
export const RUN_DETAILS_FILE = "Run_Details";

/**
 * The top-level entries of a directory that belong to its ensemble: the metadata, the outputs
 * and logs, and the working files of the orchestrator and of `sync`.
 */
export const ENSEMBLE_OWNED_ENTRIES: readonly string[] = [
  PLAN_KEY,
  MANIFEST_KEY,
  ...[FRAGMENTS_PREFIX, LOGS_PREFIX, RUNS_PREFIX, CHUNKS_PREFIX, EXECUTOR_PREFIX, ARCHIVE_PREFIX].map((p) => p.slice(0, -1)),
  SCRATCH_DIR,
  LOCK_FILE,
  SYNC_STATE_FILE,
];

/** The one name pattern of fragments: `fragments/<task_id>.a<attempt>.json`. */
const FRAGMENT_KEY = /^fragments\/([^/]+)\.a([1-9][0-9]*)\.json$/;

/**
 * Store key of one attempt's fragment: `fragments/<task_id>.a<attempt>.json`.
 * @param taskId - the task's id; must be usable as a file name
 * @param attempt - 1-based attempt number
 * @throws CompasEnsembleError STORE_KEY_UNSAFE for an id that is empty, hidden or holds a
 *   path separator; METADATA_INVALID for an attempt that is not a positive integer
 */
export function fragmentKey(taskId: string, attempt: number): string {
  if (taskId === "" || taskId === "." || taskId === ".." || /[/\\\0]/.test(taskId) || taskId.startsWith(".")) {
    throw new CompasEnsembleError(
      "STORE_KEY_UNSAFE",
      `Task id ${JSON.stringify(taskId)} cannot be used as a fragment file name (it is empty, hidden or contains a path separator).`,
      { hint: "Task ids come from run ids; use run ids without '/', '\\' or a leading dot.", taskId },
    );
  }
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new CompasEnsembleError("METADATA_INVALID", `Attempt ${attempt} of task ${taskId} is not a positive integer.`, { taskId });
  }
  return `${FRAGMENTS_PREFIX}${taskId}.a${attempt}.json`;
}

/**
 * The task and attempt a fragment key names, or null for a key that is not one.
 * @param key - a store key
 */
export function parseFragmentKey(key: string): { taskId: string; attempt: number } | null {
  const m = FRAGMENT_KEY.exec(key);
  return m === null ? null : { taskId: m[1] as string, attempt: Number(m[2]) };
}

/**
 * Store key of one attempt's log (stdout and stderr of COMPAS).
 * @param taskId - the task
 * @param attempt - 1-based attempt number
 */
export function logKey(taskId: string, attempt: number | string): string {
  return `${LOGS_PREFIX}${taskId}.a${attempt}.log`;
}

/**
 * Store key of a run's COMPAS_Output.h5 (the layout the older Python tool's loaders expect).
 * @param runId - the run
 */
export function runOutputKey(runId: string): string {
  return `${RUNS_PREFIX}${runId}/COMPAS_Output/${COMPAS_OUTPUT_FILE}`;
}

/**
 * Store key of one chunk's COMPAS_Output.h5 before it is merged into its run.
 * @param runId - the run
 * @param chunk - the chunk's index
 */
export function chunkOutputKey(runId: string, chunk: number): string {
  return `${CHUNKS_PREFIX}${runId}/c${chunk}/${COMPAS_OUTPUT_FILE}`;
}

/**
 * Store key of the Run_Details text beside an output.
 * @param outputKey - key of a COMPAS_Output.h5 (a run's or a chunk's)
 */
export function runDetailsKey(outputKey: string): string {
  return posix.join(posix.dirname(outputKey), RUN_DETAILS_FILE);
}

/**
 * Store key of one of a run's detailed output files.
 * @param runId - the run
 * @param name - file name inside Detailed_Output
 */
export function detailedOutputKey(runId: string, name: string): string {
  return `${detailedOutputPrefix(runId)}${name}`;
}

/**
 * Store prefix of a run's detailed output files.
 * @param runId - the run
 */
export function detailedOutputPrefix(runId: string): string {
  return `${RUNS_PREFIX}${runId}/COMPAS_Output/Detailed_Output/`;
}

/**
 * Store key of the record of a run whose chunks were merged.
 * @param runId - the run
 */
export function mergeRecordKey(runId: string): string {
  return `${RUNS_PREFIX}${runId}/merge.json`;
}

/**
 * Store key of the index list that maps array indices (Batch, Slurm) to task ids.
 * @param name - the list's name
 */
export function indexListKey(name: string): string {
  return `${EXECUTOR_PREFIX}index-lists/${name}.json`;
}

/**
 * Store key of the copy of a Slurm array's batch script.
 * @param submission - the submission's name
 * @param arrayIndex - the array's position in the submission
 */
export function slurmScriptKey(submission: string, arrayIndex: number): string {
  return `${EXECUTOR_PREFIX}slurm/${submission}/array-${arrayIndex}.sh`;
}

/**
 * Store key of the marker that says a Slurm submission was cancelled (read after Slurm forgets it).
 * @param submission - the submission's name
 */
export function slurmCancelMarkerKey(submission: string): string {
  return `${EXECUTOR_PREFIX}slurm/${submission}/cancelled.json`;
}

/**
 * Where a restart puts a key of the ensemble it replaces.
 * @param ensembleId - the replaced ensemble's id
 * @param key - the key as it was
 */
export function archiveKey(ensembleId: string, key: string): string {
  return `${ARCHIVE_PREFIX}${ensembleId}/${key}`;
}

/**
 * True for the key of a run's merge record.
 * @param key - a store key
 */
export function isMergeRecordKey(key: string): boolean {
  return key.startsWith(RUNS_PREFIX) && key.endsWith("/merge.json");
}
