import { randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CompasEnsembleError } from "../errors.js";
import { pathError } from "./path-errors.js";

/** Options for {@link writeFileAtomic} and {@link writeJsonAtomic}. */
export interface AtomicWriteOptions {
  /**
   * When false, an existing file is never replaced: the write fails with METADATA_CONFLICT
   * unless the existing file already holds exactly the same bytes (a repeated write).
   * Default true.
   */
  overwrite?: boolean;
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

/** True for a name {@link prepareAtomicWrite} uses for its temp files; readers skip these. */
export function isAtomicTempName(name: string): boolean {
  return name.startsWith(".") && name.endsWith(".tmp");
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
  const tempPath = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    const fh = await open(tempPath, "wx", 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
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
    await fsyncDir(dir);
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

// link() fails with EEXIST instead of replacing, which rename cannot do; the check-then-rename
// fallback is only for filesystems without hard links, where a race is accepted.
async function publishWithoutOverwrite(tempPath: string, path: string, data: string | Uint8Array): Promise<void> {
  try {
    await link(tempPath, path);
    await rm(tempPath, { force: true });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      await rm(tempPath, { force: true });
      if (await sameContent(path, data)) return;
      throw new CompasEnsembleError(
        "METADATA_CONFLICT",
        `Refusing to replace ${path}: it already exists with different content.`,
        { cause: err, hint: "Each task attempt must write its own file; take the next attempt number." },
      );
    }
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
  }
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (exists) {
    await rm(tempPath, { force: true });
    if (await sameContent(path, data)) return;
    throw new CompasEnsembleError(
      "METADATA_CONFLICT",
      `Refusing to replace ${path}: it already exists with different content.`,
      { hint: "Each task attempt must write its own file; take the next attempt number." },
    );
  }
  await rename(tempPath, path);
}

async function sameContent(path: string, data: string | Uint8Array): Promise<boolean> {
  const existing = await readFile(path);
  const wanted = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
  return existing.equals(wanted);
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
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EACCES") throw storeError(dir, err);
  } finally {
    await fh?.close();
  }
}

// Cleanup must not mask the error that made it necessary.
async function removeQuietly(path: string): Promise<void> {
  await rm(path, { force: true }).catch(() => undefined);
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
