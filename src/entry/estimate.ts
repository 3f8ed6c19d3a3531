/**
 * `compas-ensemble/estimate`: tasks, CPU-hours, output size, wall time and cost of an ensemble
 * before it runs, from a calibration of your COMPAS binary or measured constants.
 * @module estimate
 */
export {
  estimateEnsemble,
  planEnsemble,
  type EstimateEnsembleOptions,
  type EstimateCalibrationOptions,
  type EstimateTarget,
  type EnsembleEstimate,
  type AdaptiveEstimate,
  type ProfileEstimate,
  type CostBasis,
  type PlanEnsembleOptions,
  type PlanCalibrationOptions,
  type PlanTarget,
  type PlanEstimate,
} from "../estimate/estimate.js";
export { formatEstimate, formatPlan } from "../cli/format-estimate.js";
export {
  calibrate,
  cachedCalibration,
  gridCorners,
  DEFAULT_CALIBRATION_BINARIES,
  type CalibrateOptions,
  type Calibration,
  type CalibrationRecord,
} from "../estimate/calibrate.js";
export { predictRunSizes, type PredictedRun, type Prediction } from "../estimate/pilot.js";
export { PRICE_TABLE, instancePrice, pricePerVcpuHour, type PriceTable, type InstancePrice } from "../estimate/prices.js";
export { defaultCacheDir as defaultCalibrationCacheDir, CalibrationSchema, CalibrationCornerSchema } from "../estimate/calibration-cache.js";
