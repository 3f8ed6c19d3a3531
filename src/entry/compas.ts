/**
 * `compas-ensemble/compas`: how COMPAS is invoked: its command line for a grid point, flag
 * profiles, finding and probing the binary, its environment and the check that a run is
 * complete. docs/compas.md.
 * @module compas
 */
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
} from "../compas/index.js";
