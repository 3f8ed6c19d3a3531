export {
  buildCompasArgs,
  withOutput,
  displayCommand,
  parseFlags,
  AXIS_SELECTORS,
  DEFAULT_HDF5_CHUNK_SIZE,
  type CompasCommandOptions,
  type TaskSeeds,
} from "./argv.js";
export {
  PROFILES,
  PROFILE_NAMES,
  MEASURED_SECONDS_PER_BINARY,
  MEASURED_BYTES_PER_BINARY,
  type Profile,
  type ProfileName,
} from "./profiles.js";
export {
  resolveCompasBinary,
  probeCompas,
  compasSha256,
  checkFlagsKnown,
  hashFile,
  type CompasProbe,
  type ProbeCompasOptions,
  type ResolveCompasOptions,
} from "./probe.js";
export { compasEnv, COMPAS_FORBIDDEN_ENV } from "./env.js";
export { checkCompletion, type CompletionInput, type CompletionResult } from "./completion.js";
