/** Variables that change COMPAS's random numbers behind --random-seed's back (docs/compas.md). */
export const COMPAS_FORBIDDEN_ENV = ["GSL_RNG_SEED", "GSL_RNG_TYPE"] as const;

/**
 * The environment for a COMPAS child process: the parent's, without GSL_RNG_SEED and
 * GSL_RNG_TYPE, so that seeds recorded in the manifest reproduce the run.
 * @param base - environment to start from, default process.env
 */
export function compasEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const name of COMPAS_FORBIDDEN_ENV) delete env[name];
  return env;
}
