import { existsSync, statSync } from "node:fs";
import type * as H5 from "h5wasm";
import { CompasEnsembleError } from "../errors.js";

/** The h5wasm module as loaded for Node (real file paths, no copying into memory). */
export type H5Module = typeof H5;

// h5wasm is ESM-only. esbuild rewrites `import()` into `require()` in the CJS build, which
// fails for ESM-only packages, so the specifier goes through a Function the bundler cannot see.
const nativeImport = new Function("specifier", "return import(specifier)") as (
  specifier: string,
) => Promise<unknown>;

let loading: Promise<H5Module> | undefined;

/** Loads h5wasm once per process (about 100 ms) and waits for its WebAssembly to be ready. */
export function loadH5wasm(): Promise<H5Module> {
  loading ??= (async () => {
    const mod = (await nativeImport("h5wasm/node")) as { default: H5Module & { ready: Promise<unknown> } };
    await mod.default.ready;
    return mod.default;
  })();
  return loading;
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
  let file: H5.File;
  try {
    file = new h5.File(path, "r");
  } catch (cause) {
    throw new CompasEnsembleError("HDF5_UNREADABLE", `HDF5 file ${path} cannot be opened.`, { cause });
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
