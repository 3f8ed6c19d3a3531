export {
  planEnsemble,
  type PlanEnsembleOptions,
  type PlanCalibrationOptions,
  type PlanTarget,
  type PlanEstimate,
  type ProfileEstimate,
  type CostBasis,
} from "./plan-ensemble.js";
export { formatPlan } from "./format.js";
export {
  calibrate,
  cachedCalibration,
  gridCorners,
  DEFAULT_CALIBRATION_BINARIES,
  type CalibrateOptions,
  type Calibration,
  type CalibrationRecord,
} from "./calibrate.js";
export { PRICE_TABLE, instancePrice, pricePerVcpuHour, type PriceTable, type InstancePrice } from "./prices.js";
export { defaultCacheDir as defaultCalibrationCacheDir, CalibrationSchema, CalibrationCornerSchema } from "./_cache.js";
