import { existsSync, statSync } from "node:fs";
import type * as H5 from "h5wasm";
import { CompasEnsembleError } from "../errors.js";

/** The h5wasm module as loaded for Node (real file paths, no copying into memory). */
export type H5Module = typeof H5;

/**
 * h5wasm's low-level Emscripten module (what `h5wasm.ready` resolves to): direct hyperslab
 * reads into the WebAssembly heap, used for bounded-memory column scans.
 */
export type H5Lib = typeof H5.Module;

// h5wasm is ESM-only. esbuild rewrites `import()` into `require()` in the CJS build, which
// fails for ESM-only packages, so the specifier goes through a Function the bundler cannot see.
const nativeImport = new Function("specifier", "return import(specifier)") as (
  specifier: string,
) => Promise<unknown>;

let loading: Promise<H5Module> | undefined;
let lib: H5Lib | undefined;

/** Loads h5wasm once per process (about 100 ms) and waits for its WebAssembly to be ready. */
export function loadH5wasm(): Promise<H5Module> {
  loading ??= (async () => {
    type Loaded = { default: H5Module & { ready: Promise<H5Lib> } };
    let mod: Loaded;
    try {
      mod = (await nativeImport("h5wasm/node")) as Loaded;
    } catch (err) {
      // Inside a vm context without a dynamic-import hook (vitest, some REPLs) the Function
      // trick fails; there the module system of the host handles a plain import().
      if (!(err instanceof TypeError)) throw err;
      mod = (await import("h5wasm/node")) as unknown as Loaded;
    }
    lib = await mod.default.ready;
    return mod.default;
  })();
  return loading;
}

/** Loads h5wasm (see {@link loadH5wasm}) and returns its low-level module. */
export async function loadH5Lib(): Promise<H5Lib> {
  await loadH5wasm();
  return lib as H5Lib;
}

/**
 * Runs `fn` with h5wasm's throwing error handler switched on, so that an HDF5 failure
 * becomes a JavaScript Error carrying HDF5's diagnostic text (instead of a dump on stderr
 * and a status code), and switches it off again afterwards. Other code relies on the default
 * handler, so the switch never outlives one synchronous call.
 * @param h5lib - the module from {@link loadH5Lib}
 * @param fn - synchronous work that calls into h5wasm
 */
export function withH5Errors<T>(h5lib: H5Lib, fn: () => T): T {
  h5lib.activate_throwing_error_handler();
  try {
    return fn();
  } finally {
    h5lib.deactivate_throwing_error_handler();
  }
}

/** First line of HDF5's error stack that says what failed, for messages (the rest goes into `cause`). */
export function h5Reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const minor = /required filter '([^']+)' is not registered/.exec(text);
  if (minor) return `it needs the HDF5 filter '${minor[1]}', which h5wasm does not have`;
  const lines = text.split("\n").map((l) => l.trim());
  const deepest = lines.filter((l) => /^#\d+:/.test(l)).pop();
  return deepest ? deepest.replace(/^#\d+:.* in ([A-Za-z0-9_]+\(\)): /, "$1: ") : text.slice(0, 200);
}

/**
 * Opens an HDF5 file for reading and fails clearly instead of handing back the bogus object
 * h5wasm returns for a missing, truncated or corrupt file (file_id -1).
 * @param path - file on disk
 */
export async function openH5Read(path: string): Promise<H5.File> {
  if (!existsSync(path)) {
    throw new CompasEnsembleError("HDF5_UNREADABLE", `HDF5 file ${path} does not exist.`, {
      hint: "Check the path, or rerun the task that should have written it.",
    });
  }
  if (statSync(path).size < 512) {
    throw new CompasEnsembleError(
      "HDF5_UNREADABLE",
      `HDF5 file ${path} is truncated (${statSync(path).size} bytes); a COMPAS run killed mid-way leaves such a file.`,
      { hint: "Rerun the task that wrote it." },
    );
  }
  const h5 = await loadH5wasm();
  const h5lib = await loadH5Lib();
  let file: H5.File;
  try {
    // With the throwing handler a bad file fails here with HDF5's reason, and nothing is
    // dumped on stderr.
    file = withH5Errors(h5lib, () => new h5.File(path, "r"));
  } catch (cause) {
    throw new CompasEnsembleError(
      "HDF5_UNREADABLE",
      `HDF5 file ${path} is not a readable HDF5 file (corrupt or truncated): ${h5Reason(cause)}.`,
      { cause, hint: "Rerun the task that wrote it." },
    );
  }
  if (file.file_id === -1n || (file.file_id as unknown) === -1) {
    throw new CompasEnsembleError(
      "HDF5_UNREADABLE",
      `HDF5 file ${path} is not a readable HDF5 file (corrupt or truncated).`,
      { hint: "Rerun the task that wrote it." },
    );
  }
  return file;
}

/**
 * Creates (truncating) an HDF5 file for writing.
 * @param path - file on disk
 */
export async function openH5Write(path: string): Promise<H5.File> {
  const h5 = await loadH5wasm();
  const file = new h5.File(path, "w");
  if (file.file_id === -1n || (file.file_id as unknown) === -1) {
    throw new CompasEnsembleError("HDF5_UNREADABLE", `HDF5 file ${path} cannot be created.`);
  }
  return file;
}
