import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import type * as H5 from "h5wasm";
import { CompasEnsembleError } from "../errors.js";
import { RUNS_PREFIX, runOutputKey } from "../store/keys.js";
import { pathError } from "../util/path-errors.js";
import { importEsm } from "../util/import-esm.js";

/** The h5wasm module as loaded for Node (real file paths, no copying into memory). */
export type H5Module = typeof H5;

/**
 * h5wasm's low-level Emscripten module (what `h5wasm.ready` resolves to): direct hyperslab
 * reads into the WebAssembly heap, used for bounded-memory column scans.
 */
export type H5Lib = typeof H5.Module;

let loading: Promise<H5Module> | undefined;
let lib: H5Lib | undefined;

/** Loads h5wasm once per process (about 100 ms) and waits for its WebAssembly to be ready. */
export function loadH5wasm(): Promise<H5Module> {
  loading ??= (async () => {
    // h5wasm is ESM-only.
    type Loaded = { default: H5Module & { ready: Promise<H5Lib> } };
    const mod = await importEsm<Loaded>("h5wasm/node", async () => (await import("h5wasm/node")) as unknown as Loaded);
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

// Every HDF5 file starts with this signature, at offset 0 or, after a user block, at 512,
// 1024, 2048, ... (the HDF5 file format specification, "Format Signature").
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Where the HDF5 signature is in an open file, or -1 when it is nowhere it may be. */
function signatureOffset(fd: number, size: number): number {
  const buf = Buffer.alloc(HDF5_SIGNATURE.length);
  for (let offset = 0; offset + buf.length <= size; offset = offset === 0 ? 512 : offset * 2) {
    if (readSync(fd, buf, 0, buf.length, offset) === buf.length && buf.equals(HDF5_SIGNATURE)) return offset;
  }
  return -1;
}

/** What a file that is not HDF5 looks like, to say what it is instead. */
function describeNonHdf5(fd: number, size: number): string {
  if (size === 0) return "it is empty (0 bytes)";
  const head = Buffer.alloc(Math.min(size, 64));
  readSync(fd, head, 0, head.length, 0);
  const text = head.toString("utf8").trimStart();
  if (text.startsWith("{") || text.startsWith("[")) return "it holds JSON text";
  // Control bytes other than tab, CR and LF mean binary data.
  if (!/[\x00-\x08\x0e-\x1f]/.test(head.toString("latin1"))) return "it holds plain text";
  return "it has no HDF5 signature";
}

// inspect and extract take one COMPAS_Output.h5; a folder given instead usually holds one.
function h5Inside(dir: string): string | undefined {
  const direct = [join(dir, "COMPAS_Output.h5"), join(dir, "COMPAS_Output", "COMPAS_Output.h5")];
  for (const candidate of direct) if (existsSync(candidate)) return candidate;
  const runs = join(dir, RUNS_PREFIX);
  if (!existsSync(runs)) return undefined;
  for (const run of readdirSync(runs).sort()) {
    const candidate = join(dir, ...runOutputKey(run).split("/"));
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Checks that `path` is an HDF5 file before h5wasm sees it (h5wasm reports a text file or a
 * folder only as a failed read, and dumps HDF5's error stack on stderr): a missing path, a
 * folder, a file without the HDF5 signature and a file cut short each get their own message.
 */
function assertHdf5File(path: string): void {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") {
      throw new CompasEnsembleError("HDF5_UNREADABLE", `HDF5 file ${path} does not exist.`, {
        hint: "Check the path, or rerun the task that should have written it.",
      });
    }
    throw pathError(err, { what: `HDF5 file ${path}`, access: "read" }) ?? err;
  }
  if (stat.isDirectory()) {
    const inside = h5Inside(path);
    throw new CompasEnsembleError("HDF5_UNREADABLE", `${path} is a directory, not an HDF5 file.`, {
      hint: inside ? `Give the COMPAS_Output.h5 file itself, e.g. ${inside}.` : "Give the path of a COMPAS_Output.h5 file.",
    });
  }
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw pathError(err, { what: `HDF5 file ${path}`, access: "read" }) ?? err;
  }
  try {
    const size = stat.size;
    const at = signatureOffset(fd, size);
    if (at < 0) {
      throw new CompasEnsembleError("HDF5_UNREADABLE", `${path} is not an HDF5 file: ${describeNonHdf5(fd, size)}.`, {
        hint:
          size === 0
            ? "A COMPAS run killed before it wrote anything leaves such a file; rerun the task that wrote it."
            : "Give the path of a COMPAS_Output.h5 file (an ensemble keeps them under runs/<run_id>/COMPAS_Output/); " +
              "if COMPAS wrote this one, rerun the task that wrote it.",
      });
    }
    // The superblock alone is 96 bytes or more, and COMPAS's smallest complete output is
    // several kilobytes: a file this short was cut off.
    if (size - at < 512) {
      throw new CompasEnsembleError(
        "HDF5_UNREADABLE",
        `HDF5 file ${path} is truncated (${size} bytes); a COMPAS run killed mid-way leaves such a file.`,
        { hint: "Rerun the task that wrote it." },
      );
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens an HDF5 file for reading and fails clearly instead of handing back the bogus object
 * h5wasm returns for a missing, truncated or corrupt file (file_id -1).
 * @param path - file on disk
 */
export async function openH5Read(path: string): Promise<H5.File> {
  assertHdf5File(path);
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
      `HDF5 file ${path} is corrupt or truncated: ${h5Reason(cause)}.`,
      { cause, hint: "Rerun the task that wrote it." },
    );
  }
  if (file.file_id === -1n || (file.file_id as unknown) === -1) {
    throw new CompasEnsembleError(
      "HDF5_UNREADABLE",
      `HDF5 file ${path} is corrupt or truncated.`,
      { hint: "Rerun the task that wrote it." },
    );
  }
  return file;
}

/**
 * Creates (truncating) an HDF5 file for writing. A path that cannot be written fails with
 * Node's own error (EACCES, ENOTDIR, ...), which callers turn into a message naming the path
 * the user gave.
 * @param path - file on disk
 */
export async function openH5Write(path: string): Promise<H5.File> {
  // Node creates the file first: its error says why the path cannot be written, where HDF5
  // would only dump its error stack on stderr.
  closeSync(openSync(path, "w"));
  const h5 = await loadH5wasm();
  const h5lib = await loadH5Lib();
  let file: H5.File;
  try {
    file = withH5Errors(h5lib, () => new h5.File(path, "w"));
  } catch (cause) {
    throw new CompasEnsembleError("HDF5_UNREADABLE", `HDF5 file ${path} cannot be created: ${h5Reason(cause)}.`, { cause });
  }
  if (file.file_id === -1n || (file.file_id as unknown) === -1) {
    throw new CompasEnsembleError("HDF5_UNREADABLE", `HDF5 file ${path} cannot be created.`);
  }
  return file;
}
