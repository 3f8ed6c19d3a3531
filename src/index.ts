// The public API of compas-ensemble: explicit named exports only.

// Errors
export { CompasEnsembleError, DiskFullError, isCompasEnsembleError, ERROR_CODES, type ErrorCode, type CompasEnsembleErrorOptions } from "./errors.js";
export { LIBRARY_VERSION } from "./version.js";
export { writeJsonAtomic, writeFileAtomic, type AtomicWriteOptions } from "./metadata/atomic.js";

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

// COMPAS invocation
export {
  buildCompasArgs,
  withOutput,
  displayCommand,
  parseFlags,
  AXIS_SELECTORS,
  DEFAULT_HDF5_CHUNK_SIZE,
  PROFILES,
  PROFILE_NAMES,
  MEASURED_SECONDS_PER_BINARY,
  MEASURED_BYTES_PER_BINARY,
  resolveCompasBinary,
  probeCompas,
  compasSha256,
  checkFlagsKnown,
  compasEnv,
  checkCompletion,
  type CompasCommandOptions,
  type TaskSeeds,
  type Profile,
  type ProfileName,
  type CompasProbe,
  type ProbeCompasOptions,
  type ResolveCompasOptions,
  type CompletionInput,
  type CompletionResult,
} from "./compas/index.js";

// Ensembles
export { runEnsemble, HANDLE_KEY, type RunEnsembleOptions, type EnsembleEvent, type EnsembleSummary } from "./ensemble/run.js";
export { buildPlan, runOutputKey, chunkOutputKey, type BuildPlanOptions } from "./ensemble/plan.js";

// Planning
export {
  planEnsemble,
  formatPlan,
  calibrate,
  cachedCalibration,
  gridCorners,
  DEFAULT_CALIBRATION_BINARIES,
  PRICE_TABLE,
  instancePrice,
  pricePerVcpuHour,
  type PlanEnsembleOptions,
  type PlanCalibrationOptions,
  type PlanTarget,
  type PlanEstimate,
  type ProfileEstimate,
  type CostBasis,
  type CalibrateOptions,
  type Calibration,
  type PriceTable,
  type InstancePrice,
} from "./planner/index.js";

// Executors
export { LocalExecutor, type LocalExecutorOptions } from "./executors/local.js";
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
export {
  SshExecutor,
  reattachSshExecutor,
  parseHosts,
  loadHostsFile,
  shellQuote,
  quoteArg,
  SshHostSchema,
  type SshExecutorOptions,
  type SshHost,
  type SshHostInput,
  type HostPreflight,
  type PreflightCheck,
} from "./executors/ssh/index.js";
export {
  BatchExecutor,
  reattachBatchExecutor,
  BatchExecutorOptionsSchema,
  JobDefinitionSpecSchema,
  type BatchExecutorOptions,
  type ResolvedBatchExecutorOptions,
  type BatchJobSummary,
  type JobDefinitionSpec,
} from "./executors/batch/index.js";
export { SlurmExecutor, reattachSlurmExecutor, type SlurmExecutorOptions } from "./executors/slurm/index.js";
export { attachEnsemble, type AttachEnsembleOptions, type Reattach } from "./ensemble/attach.js";
export { runTask, fragmentKey, logKey, type RunTaskOptions, type RunTaskResult } from "./executors/worker.js";
export { runWorker, indexListKey, WORKER_EXIT, type RunWorkerOptions, type RunWorkerResult } from "./executors/run-worker.js";

// Metadata
export {
  PlanSchema,
  TaskSchema,
  PlanRunSchema,
  FragmentSchema,
  ManifestSchema,
  ManifestRunSchema,
  CompasIdentitySchema,
  type Plan,
  type Task,
  type PlanRun,
  type Fragment,
  type Manifest,
  type ManifestRun,
  type CompasIdentity,
} from "./metadata/schemas.js";
export { mergeMetadata, type MergeOptions } from "./metadata/merge.js";
export { mergePredecessorManifests, PREDECESSOR_PATTERN, type MergePredecessorOptions, type MergePredecessorSummary } from "./metadata/predecessor.js";
export { summarizeStatus, estimateRemainingSeconds, type InvalidOutput, type StatusSummary, type TaskFailure } from "./metadata/status.js";
export { planHash, comparePlans, type PlanContent } from "./metadata/plan-hash.js";
export { readFragments, writeFragment, type InvalidFragmentFile } from "./metadata/fragments.js";

// Stores
export {
  openStore,
  LocalStore,
  S3Store,
  parseS3Uri,
  sync,
  syncCommand,
  formatSyncSummary,
  DEFAULT_SYNC_CONCURRENCY,
  S3StoreOptionsSchema,
  type S3Credentials,
  type SyncProgress,
  type TransferResult,
  type TransferOptions,
  type HeadOptions,
  type Store,
  type StoreEntry,
  type StoreHead,
  type S3StoreOptions,
  type SyncOptions,
  type SyncSummary,
  type SyncCommandOptions,
} from "./store/index.js";

// HDF5 and SBI datasets
export { extractDcos, COMPAS_HUBBLE_TIME_MYR, DEFAULT_HUBBLE_CUT_MYR, type ExtractOptions, type DcoExtraction, type DcoDiagnostics } from "./hdf5/dco.js";
export {
  runStarFormingMass,
  readRunSampling,
  SAMPLING_RUN_DETAILS,
  type RunStarFormingMass,
  type RunStarFormingMassOptions,
  type RecordedSampling,
} from "./hdf5/run-sampling.js";
export { DCO_COLUMNS, DCO_UNITS, type DcoTable, type DcoType, type Channel } from "./hdf5/dco-table.js";
export {
  groupRowCounts,
  readColumns,
  openCompasFile,
  ColumnReader,
  BSE_GROUPS,
  COMPAS_COLUMNS,
  type ArrayOf,
  type ColumnValues,
  type ReadColumnsOptions,
} from "./hdf5/read.js";
export { inspect, formatInspect, type InspectResult, type InspectGroup, type DcoCounts } from "./hdf5/inspect.js";
export { mergeChunkOutputs, mergeRunDetailsText, type MergeResult, type MergeChunkOptions } from "./hdf5/merge-chunks.js";
export { SpinModelSchema, parseSpinModel, chiEff, chiP, bavera2021Spin, qin2018Spin, type SpinModel, type SpinModelInput } from "./hdf5/spins.js";
export {
  classifyChannel,
  mtEpisodes,
  type ChannelResult,
  type ChannelInput,
  type ChannelVReason,
  type CeRow,
  type RlofRow,
  type MtEpisode,
} from "./hdf5/channels.js";
export {
  computeSummary,
  DEFAULT_SUMMARY_BINS,
  summaryColumns,
  type SummaryBins,
  type Summary,
  type SummaryOptions,
  type SummaryExtras,
  type HistogramQuantity,
} from "./hdf5/summary.js";
export { buildSbiDataset, type BuildSbiDatasetOptions } from "./hdf5/dataset.js";
export { extractCommand, SBI_FORMATS, type SbiFormat, type ExtractCommandOptions, type ExtractCommandResult } from "./hdf5/dataset-extract.js";
export { parseSpinModelFlag } from "./hdf5/dataset-spin-flag.js";
export { parseRatesFlags, RATES_FLAG_NAMES, type RatesFlags } from "./hdf5/dataset-rates-flags.js";
export {
  THETA_COLUMNS,
  SBI_DCO_COLUMNS,
  RATE_UNITS,
  sbiDcoColumns,
  type SbiDataset,
  type SbiDcoTable,
  type SbiDcoColumn,
  type SbiDcoColumnData,
  type SbiProvenance,
  type SpinModelRecord,
  type SbiRunMass,
  type SbiRates,
  type SbiCombinedRates,
} from "./hdf5/dataset-types.js";
export { inspectSbi, formatInspectSbi, isSbiFile, type InspectSbiResult, type InspectSbiRun, type InspectSbiGroup } from "./hdf5/inspect-sbi.js";
export { writeSbiHdf5 } from "./hdf5/write-h5.js";
export { writeSbiParquet, SBI_PARQUET_METADATA_KEY, type SbiParquetPaths } from "./hdf5/write-parquet.js";
export { writeSbiNpy } from "./hdf5/write-npy.js";

// Star-forming mass and merger rates (docs/rates.md)
export {
  mergerRates,
  combinedMergerRates,
  groupByMetallicity,
  ratesContext,
  selectRateRows,
  starFormingMassPerBinary,
  starFormingMass,
  starFormingMassProblem,
  ageMyr,
  redshiftAtAgeMyr,
  hubbleTimeMyr,
  starFormationRate,
  metallicityBins,
  metallicityBinFraction,
  metallicityBinFractions,
  redshiftGrid,
  ratesRecord,
  resolveRatesOptions,
  RatesOptionsSchema,
  DEFAULT_RATES_OPTIONS,
  RATE_DCO_TYPES,
  GROUP_AXES,
  KROUPA_BREAKS_MSOL,
  KROUPA_SLOPES,
  LN_Z_RANGE,
  MPC3_PER_GPC3,
  type RatesOptions,
  type ResolvedRatesOptions,
  type RatesOptionNames,
  type RatesContext,
  type RateDcos,
  type RateDcoType,
  type RatesByType,
  type MergerRates,
  type CombinedMergerRates,
  type CombinedRun,
  type GroupableRun,
  type MetallicityGroup,
  type MassBounds,
  type RunSampling,
  type Cosmology,
  type SfrParameters,
  type MssfrParameters,
  type OuterZBins,
  type RedshiftGrid,
  type FormationRateTable,
} from "./physics/rates/index.js";

// Reports
export { writeReport, type WriteReportOptions, type WriteReportResult } from "./report/write.js";
export { RUN_STATES, type RunState, type ReportData } from "./report/types.js";
