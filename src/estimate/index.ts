export {
  planEnsemble,
  type PlanEnsembleOptions,
  type PlanCalibrationOptions,
  type PlanTarget,
  type PlanEstimate,
  type ProfileEstimate,
  type CostBasis,
} from "./estimate.js";
export { formatPlan } from "../cli/format-estimate.js";
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
