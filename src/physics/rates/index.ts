// Star-forming mass and merger rates (docs/rates.md): pure functions over typed arrays.
export { ageMyr, redshiftAtAgeMyr, hubbleTimeMyr, type Cosmology } from "./cosmology.js";
export { starFormationRate, MPC3_PER_GPC3, type SfrParameters } from "./sfr.js";
export {
  starFormingMassPerBinary,
  starFormingMass,
  starFormingMassProblem,
  KROUPA_BREAKS_MSOL,
  KROUPA_SLOPES,
  type MassBounds,
  type RunSampling,
} from "./star-forming-mass.js";
export {
  lnZLocation,
  metallicityBins,
  metallicityBinFraction,
  metallicityBinFractions,
  standardNormalMass,
  erfc,
  LN_Z_RANGE,
  type MssfrParameters,
  type OuterZBins,
} from "./mssfr.js";
export {
  redshiftGrid,
  formationRateTable,
  accumulateMergerRate,
  FORMATION_TABLE_POINTS,
  type RedshiftGrid,
  type FormationRateTable,
} from "./merger-rate.js";
export {
  mergerRates,
  ratesContext,
  selectRateRows,
  addMergerRates,
  zeroRates,
  RATE_DCO_TYPES,
  type RateDcoType,
  type RateDcos,
  type RatesByType,
  type MergerRates,
  type RatesContext,
} from "./run-rates.js";
export {
  combinedMergerRates,
  groupByMetallicity,
  GROUP_AXES,
  type GroupableRun,
  type MetallicityGroup,
  type CombinedRun,
  type CombinedMergerRates,
} from "./combined.js";
export {
  RatesOptionsSchema,
  resolveRatesOptions,
  zGridSize,
  DEFAULT_RATES_OPTIONS,
  type RatesOptions,
  type ResolvedRatesOptions,
  type RatesOptionNames,
} from "./options.js";
export { ratesRecord } from "./record.js";
