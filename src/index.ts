/**
 * compas-ensemble: what a script needs to run COMPAS over a grid on this machine and turn the
 * outputs into an SBI dataset. Everything else has its own entry point, so that importing
 * this one loads neither the AWS SDK, ssh2, the Parquet backend nor the plotting library:
 * `compas-ensemble/ssh`, `/batch`, `/slurm` (executors), `/store`, `/manifest`, `/sbi`,
 * `/estimate`, `/compas`, `/worker` and `/report`. docs/architecture.md shows the whole.
 * @module compas-ensemble
 */

// Errors
export { CompasEnsembleError, DiskFullError, isCompasEnsembleError, ERROR_CODES, type ErrorCode, type CompasEnsembleErrorOptions } from "./errors.js";
export { LIBRARY_VERSION } from "./version.js";

// Grids
export {
  linspace,
  logspace,
  logspaceBetween,
  values,
  sparseGrid,
  fullGrid,
  expandGrid,
  sliceGrid,
  selectGrid,
  expandSelection,
  runId,
  TEST_RUN_POINTS,
  MAX_GRID_POINTS,
  validateGridSpec,
  loadGridFile,
  gridSpecFromObject,
  GridFileSchema,
  AxisInputSchema,
  AXES,
  ParamsSchema,
  GridPointSchema,
  type GridSpec,
  type PresetOptions,
  type GridFile,
  type AxisInput,
  type AxisName,
  type Params,
  type GridPoint,
  type GridSelection,
} from "./grid/index.js";

// Running an ensemble
export { runEnsemble, type RunEnsembleOptions, type EnsembleEvent, type EnsembleSummary } from "./ensemble/run.js";
export { attachEnsemble, type AttachEnsembleOptions, type Reattach } from "./ensemble/attach.js";
export { LocalExecutor, type LocalExecutorOptions } from "./executors/local/executor.js";
export { EXECUTOR_DEFAULTS, ExecutorOptionsSchema, type ExecutorOptions } from "./executors/options.js";
export {
  TASK_STATES,
  isTerminal,
  ExecutorHandleSchema,
  type Executor,
  type ExecutorEvent,
  type ExecutorHandle,
  type SubmitContext,
  type TaskState,
  type TaskStatus,
  type WaitOptions,
} from "./executors/types.js";
export type { CompasCommandOptions } from "./compas/argv.js";
export type { ProfileName } from "./compas/profiles.js";
export type { Store } from "./store/types.js";

// The SBI dataset
export { buildSbiDataset, type BuildSbiDatasetOptions } from "./dataset/build.js";
export { SBI_FORMATS, type SbiFormat, type SbiDataset } from "./dataset/types.js";
export { writeSbiHdf5 } from "./dataset/write-h5.js";
export { writeSbiParquet, type SbiParquetPaths } from "./dataset/write-parquet.js";
export { writeSbiNpy } from "./dataset/write-npy.js";
