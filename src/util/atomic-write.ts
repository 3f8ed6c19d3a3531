import { randomBytes } from "node:crypto";
import { renameSync, rmSync } from "node:fs";
import { link, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CompasEnsembleError } from "../errors.js";
import { pathError } from "./path-errors.js";

/**
 * The suffix of every temporary file this package writes on its way to a final name. They are
 * hidden (a leading dot) and listings skip them, so a write killed half-way leaves no file
 * that could be taken for a finished one.
 */
export const TEMP_SUFFIX = ".compas-part";

/**
 * A temporary path next to `target` (same directory, so the final rename stays on one file
 * system): `.<name>.<random>.compas-part`.
 * @param target - the file that will eventually be replaced
 */
export function tempPathFor(target: string): string {
  // Keep the name well under 255 bytes however long the target's name is.
  const base = basename(target).slice(0, 100);
  return join(dirname(target), `.${base}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`);
}

/**
 * True for a name {@link tempPathFor} makes; readers skip these.
 * @param name - a file name (not a path)
 */
export function isTempName(name: string): boolean {
  return name.endsWith(TEMP_SUFFIX);
}

/** Options for {@link writeFileAtomic}, {@link writeJsonAtomic} and {@link replaceAtomically}. */
export interface AtomicWriteOptions {
  /**
   * When false, an existing file is never replaced: the write fails with METADATA_CONFLICT
   * unless the existing file already holds exactly the same bytes (a repeated write).
   * Default true.
   */
  overwrite?: boolean;
}

/** Options of {@link replaceAtomically}. */
export interface ReplaceOptions extends AtomicWriteOptions {
  /**
   * Flush the file and then its directory to disk before returning, so that neither the
   * content nor the rename is lost on power failure. Default false (big outputs are
   * checked by sha256 on resume instead).
   */
  durable?: boolean;
  /** The bytes the file will hold, to accept an identical existing file when not overwriting. */
  content?: string | Uint8Array;
}

/** A written and fsynced temp file next to its target, not yet visible under the target name. */
export interface PreparedAtomicWrite {
  /** The temp file (same directory as the target, so rename stays on one filesystem). */
  readonly tempPath: string;
  /** Makes the temp file the target (rename, or link when not overwriting), then fsyncs the directory. */
  commit(): Promise<void>;
  /** Removes the temp file; the target is left as it was. */
  abort(): Promise<void>;
}

/**
 * The one way this package puts a file in place: `fill` writes the temporary file (by any
 * means: a buffer, a stream, a library that writes to a path), and only once it has
 * succeeded does the file get its final name; on any failure the temporary file is removed
 * and `target` is left as it was. Errors come out as Node raised them, for the caller to name.
 * The target's directory must exist.
 * @param target - final path
 * @param fill - writes the complete content to the temporary path it is given
 * @param options - overwrite, durability
 * @returns what `fill` returned
 */
export async function replaceAtomically<T>(target: string, fill: (tempPath: string) => Promise<T> | T, options: ReplaceOptions = {}): Promise<T> {
  const tempPath = tempPathFor(target);
  let result: T;
  try {
    result = await fill(tempPath);
    if (options.durable) await fsyncFile(tempPath);
    if (options.overwrite ?? true) await rename(tempPath, target);
    else await publishWithoutOverwrite(tempPath, target, options.content);
  } catch (err) {
    await removeQuietly(tempPath);
    throw err;
  }
  if (options.durable) await fsyncDir(dirname(target));
  return result;
}

/**
 * {@link replaceAtomically} for writers that work synchronously (no durability, always
 * replacing).
 * @param target - final path
 * @param fill - writes the complete content to the temporary path it is given
 * @returns what `fill` returned
 */
export function replaceAtomicallySync<T>(target: string, fill: (tempPath: string) => T): T {
  const tempPath = tempPathFor(target);
  try {
    const result = fill(tempPath);
    renameSync(tempPath, target);
    return result;
  } catch (err) {
    rmSync(tempPath, { force: true, recursive: true });
    throw err;
  }
}

/**
 * First half of an atomic write: writes `data` to a hidden temp file in the target's directory
 * and fsyncs it. Until {@link PreparedAtomicWrite.commit} runs, the target is untouched, which
 * is what a crash at this point leaves behind.
 * @param path - target file; its directory is created if missing
 * @param data - the complete new content
 * @param options - see {@link AtomicWriteOptions}
 */
export async function prepareAtomicWrite(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<PreparedAtomicWrite> {
  const overwrite = options.overwrite ?? true;
  const dir = dirname(path);
  const tempPath = tempPathFor(path);
  try {
    await mkdir(dir, { recursive: true });
    await writeSynced(tempPath, data);
  } catch (err) {
    await removeQuietly(tempPath);
    throw storeError(path, err);
  }
  const abort = () => removeQuietly(tempPath);
  const commit = async () => {
    try {
      if (overwrite) await rename(tempPath, path);
      else await publishWithoutOverwrite(tempPath, path, data);
    } catch (err) {
      await abort();
      throw err instanceof CompasEnsembleError ? err : storeError(path, err);
    }
    await fsyncDir(dir).catch((err: unknown) => {
      throw storeError(dir, err);
    });
  };
  return { tempPath, commit, abort };
}

/**
 * Writes a file so that readers see either the old or the complete new content, never a
 * partial one: temp file in the same directory, fsync, rename (or link), fsync the directory.
 * @param path - target file; its directory is created if missing
 * @param data - the complete new content
 * @param options - see {@link AtomicWriteOptions}
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const prepared = await prepareAtomicWrite(path, data, options);
  await prepared.commit();
}

/**
 * Writes `value` as pretty-printed JSON (2-space indent, trailing newline) atomically.
 * @param path - target file
 * @param value - JSON-compatible data
 * @param options - see {@link AtomicWriteOptions}
 */
export async function writeJsonAtomic(path: string, value: unknown, options: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, options);
}

/**
 * Writes `data` to a new file (it must not exist) and flushes it to disk.
 * @param path - the file
 * @param data - its content
 */
export async function writeSynced(path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, "wx", 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// link() fails with EEXIST instead of replacing, which rename cannot do; the check-then-rename
// fallback is only for filesystems without hard links, where a race is accepted.
async function publishWithoutOverwrite(tempPath: string, path: string, data: string | Uint8Array | undefined): Promise<void> {
  try {
    await link(tempPath, path);
    await rm(tempPath, { force: true });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      await rm(tempPath, { force: true });
      if (data !== undefined && (await sameContent(path, data))) return;
      throw refusedReplace(path, err);
    }
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
  }
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (exists) {
    await rm(tempPath, { force: true });
    if (data !== undefined && (await sameContent(path, data))) return;
    throw refusedReplace(path);
  }
  await rename(tempPath, path);
}

function refusedReplace(path: string, cause?: unknown): CompasEnsembleError {
  return new CompasEnsembleError("METADATA_CONFLICT", `Refusing to replace ${path}: it already exists with different content.`, {
    ...(cause === undefined ? {} : { cause }),
    hint: "Each task attempt must write its own file; take the next attempt number.",
  });
}

async function sameContent(path: string, data: string | Uint8Array): Promise<boolean> {
  const existing = await readFile(path);
  const wanted = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
  return existing.equals(wanted);
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// Without this the rename itself may be lost on power failure even though the data is on disk.
async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch (err) {
    // Some platforms (Windows) and filesystems cannot open or sync a directory.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EACCES") throw err;
  } finally {
    await fh?.close();
  }
}

// Cleanup must not mask the error that made it necessary.
async function removeQuietly(path: string): Promise<void> {
  await rm(path, { force: true, recursive: true }).catch(() => undefined);
}

function storeError(path: string, err: unknown): CompasEnsembleError {
  const unusable = pathError(err, { what: path, access: "write" });
  if (unusable) return unusable;
  const code = (err as NodeJS.ErrnoException).code ?? "error";
  return new CompasEnsembleError("STORE_ACCESS", `Cannot write ${path} (${code}).`, {
    cause: err,
    hint: "Check that the directory exists, is writable and has free space.",
  });
}
