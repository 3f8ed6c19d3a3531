// esbuild rewrites `import()` into `require()` in the CJS build, which fails for ESM-only
// packages (h5wasm, Observable Plot, linkedom), so the specifier goes through a Function the
// bundler cannot see.
const nativeImport = new Function("specifier", "return import(specifier)") as (specifier: string) => Promise<unknown>;

/**
 * Imports an ESM-only package from both builds of this package (ESM and CJS).
 * @param specifier - the package (or subpath) to import
 * @param fallback - `() => import(specifier)` written out: inside a vm context without a
 *   dynamic-import hook (vitest, some REPLs) the Function trick fails, and there the host's
 *   module system handles a plain import()
 */
export async function importEsm<T>(specifier: string, fallback: () => Promise<T>): Promise<T> {
  try {
    return (await nativeImport(specifier)) as T;
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    return fallback();
  }
}
