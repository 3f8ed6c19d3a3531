import { createRequire } from "node:module";

let requireHere: NodeJS.Require | undefined;

/**
 * Loads a CommonJS package synchronously the first time a caller needs it, from both builds
 * of this package (the ESM build gets `import.meta.url` natively, the CJS build from tsup's
 * shim). WHY: a static import costs every process that merely loads the importing module,
 * however rarely the package is used; yaml alone is 73 modules, read on every start of the
 * CLI for the few commands that get a YAML file. Callers that can wait use `import()`.
 * @param specifier - the package (resolved from this package's own folder)
 */
export function requireCjs<T>(specifier: string): T {
  requireHere ??= createRequire(import.meta.url);
  return requireHere(specifier) as T;
}
