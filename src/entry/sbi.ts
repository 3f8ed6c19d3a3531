/**
 * `compas-ensemble/sbi`: from COMPAS outputs to simulation-based-inference data. The SBI
 * dataset (build, write, read back; docs/sbi-dataset.md), the physics of each double compact
 * object (extraction, spins, channels, star-forming mass and merger rates; docs/physics.md,
 * docs/rates.md) and the HDF5 readers of COMPAS_Output.h5.
 * @module sbi
 */
// The dataset
export { buildSbiDataset, type BuildSbiDatasetOptions } from "../dataset/build.js";
export { readDatasetSource, type DatasetSource, type SourceRun } from "../dataset/source.js";
export {
  THETA_COLUMNS,
  SBI_DCO_COLUMNS,
  RATE_UNITS,
  SBI_FORMATS,
  sbiDcoColumns,
  type SbiFormat,
  type SbiDataset,
  type SbiDcoTable,
  type SbiDcoColumn,
  type SbiDcoColumnData,
  type SbiProvenance,
  type SpinModelRecord,
  type SbiRunMass,
  type SbiRates,
  type SbiCombinedRates,
} from "../dataset/types.js";
export {
  computeSummary,
  DEFAULT_SUMMARY_BINS,
  summaryColumns,
  type SummaryBins,
  type Summary,
  type SummaryOptions,
  type SummaryExtras,
  type HistogramQuantity,
} from "../dataset/summary.js";
export { writeSbiHdf5, SBI_HDF5_FORMAT_VERSION } from "../dataset/write-h5.js";
export { writeSbiParquet, sbiParquetPaths, SBI_PARQUET_METADATA_KEY, type SbiParquetPaths } from "../dataset/write-parquet.js";
export { writeSbiNpy, assertNpyTarget } from "../dataset/write-npy.js";
export { inspectSbi, isSbiFile, type InspectSbiResult, type InspectSbiRun, type InspectSbiGroup } from "../dataset/inspect-sbi.js";
export { extractCommand, type ExtractCommandOptions, type ExtractCommandResult } from "../cli/extract-command.js";
export { formatInspect, formatInspectSbi } from "../cli/format-inspect.js";
export { parseSpinModelFlag } from "../cli/spin-model-flag.js";
export { parseRatesFlags, RATES_FLAG_NAMES, type RatesFlags } from "../cli/rates-flags.js";

// The physics of each DCO
export { extractDcos, COMPAS_HUBBLE_TIME_MYR, DEFAULT_HUBBLE_CUT_MYR, type ExtractOptions, type DcoExtraction, type DcoDiagnostics } from "../physics/dco.js";
export { DCO_COLUMNS, DCO_UNITS, type DcoTable, type DcoType, type Channel } from "../physics/dco-table.js";
export { SpinModelSchema, parseSpinModel, chiEff, chiP, bavera2021Spin, qin2018Spin, type SpinModel, type SpinModelInput } from "../physics/spins.js";
export {
  classifyChannel,
  mtEpisodes,
  type ChannelResult,
  type ChannelInput,
  type ChannelVReason,
  type CeRow,
  type RlofRow,
  type MtEpisode,
} from "../physics/channels.js";
export {
  runStarFormingMass,
  readRunSampling,
  SAMPLING_RUN_DETAILS,
  type RunStarFormingMass,
  type RunStarFormingMassOptions,
  type RecordedSampling,
} from "../physics/run-sampling.js";
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
} from "../physics/rates/index.js";

// Reading COMPAS_Output.h5
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
} from "../hdf5/read.js";
export { inspect, type InspectResult, type InspectGroup, type DcoCounts } from "../hdf5/inspect.js";
export { mergeChunkOutputs, mergeRunDetailsText, type MergeResult, type MergeChunkOptions } from "../hdf5/merge-chunks.js";
