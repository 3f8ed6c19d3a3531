import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { isAbort } from "../util/abort.js";
import { diskFullError, isNoSpace } from "../util/disk.js";
import { ChecksumCache, type Checksums } from "./_checksum-cache.js";
import { SYNC_STATE_FILE } from "./keys.js";
import { hashBuffer, hashFile } from "./_hash.js";
import { copyFileAtomically } from "./_local-files.js";
import { isTempName, replaceAtomically } from "../util/atomic-write.js";
import { pathError } from "../util/path-errors.js";
import { assertSafeKey, isInside, keyToLocalPath } from "./safe-keys.js";
import type { HeadOptions, Store, StoreEntry, StoreHead, TransferOptions, TransferResult } from "./types.js";

/**
 * A store over a local directory. Writes are atomic (temporary file, then rename) and no
 * key ever resolves outside the root, neither lexically nor through a symlink.
 */
export class LocalStore implements Store {
  /** Absolute path of the root directory. */
  readonly root: string;
  readonly uri: string;
  private readonly checksums: ChecksumCache;

  /** @param root - the directory (created on the first write if missing) */
  constructor(root: string) {
    this.root = path.resolve(root);
    this.uri = this.root;
    this.checksums = new ChecksumCache(this.root);
  }

  /** One line for logs. */
  describe(): string {
    return `local directory ${this.root}`;
  }

  /**
   * The real path of an existing object, checked to lie inside the real root.
   * Returns null when the object does not exist.
   * @param key - store key
   */
  async pathForRead(key: string): Promise<string | null> {
    const target = this.lexicalPath(key);
    let real: string;
    try {
      real = await fsp.realpath(target);
    } catch (err) {
      if (isMissing(err)) return null;
      throw this.accessError("resolve", key, err);
    }
    const realRoot = await this.realRoot();
    if (realRoot === null || !isInside(realRoot, real)) throw this.escapeError(key);
    return real;
  }

  /**
   * The path to write `key` to, after creating its parent directories one by one and
   * checking that none of them leads outside the root (a symlinked directory may, so it
   * is resolved before anything is created beneath it).
   * @param key - store key
   */
  async pathForWrite(key: string): Promise<string> {
    const target = this.lexicalPath(key);
    try {
      await fsp.mkdir(this.root, { recursive: true });
      const realRoot = (await this.realRoot()) as string;
      let dir = this.root;
      for (const segment of key.split("/").slice(0, -1)) {
        dir = path.join(dir, segment);
        let stat = await lstatOrNull(dir);
        if (stat === null) {
          try {
            await fsp.mkdir(dir);
            continue;
          } catch (err) {
            // Another writer (a parallel sync transfer) created it first: check what it is.
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
            stat = await fsp.lstat(dir);
          }
        }
        const real = stat.isSymbolicLink() ? await fsp.realpath(dir) : dir;
        if (stat.isSymbolicLink() && !isInside(realRoot, real)) throw this.escapeError(key);
        if (!(await fsp.stat(real)).isDirectory()) {
          throw new CompasEnsembleError(
            "STORE_ACCESS",
            `Cannot write key ${JSON.stringify(key)} in ${this.uri}: ${dir} exists and is not a directory.`,
          );
        }
      }
      const existing = await lstatOrNull(target);
      if (existing?.isDirectory()) {
        throw new CompasEnsembleError(
          "STORE_ACCESS",
          `Cannot write key ${JSON.stringify(key)} in ${this.uri}: ${target} is a directory.`,
        );
      }
      return target;
    } catch (err) {
      throw this.accessError("prepare", key, err);
    }
  }

  async put(key: string, body: Buffer | string, _options?: TransferOptions): Promise<void> {
    await this.write(key, body, true);
  }

  /**
   * Writes a small object unless the key exists: an existing object with the same bytes is
   * accepted (a repeated write), one with other bytes fails with METADATA_CONFLICT and is left
   * as it is. Two writers racing for the key cannot both succeed with different content.
   * @param key - store key
   * @param body - the content
   */
  async putNew(key: string, body: Buffer | string): Promise<void> {
    await this.write(key, body, false);
  }

  async putFile(key: string, localPath: string, options: TransferOptions = {}): Promise<TransferResult> {
    const target = await this.pathForWrite(key);
    try {
      const result = await copyFileAtomically(localPath, target, options.signal);
      await this.checksums.remember(key, await fsp.stat(target), result);
      return result;
    } catch (err) {
      throw this.accessError("write", key, err, localPath);
    }
  }

  async get(key: string, _options?: TransferOptions): Promise<Buffer> {
    const real = await this.requireForRead(key);
    try {
      return await fsp.readFile(real);
    } catch (err) {
      throw this.accessError("read", key, err);
    }
  }

  async getFile(key: string, localPath: string, options: TransferOptions = {}): Promise<TransferResult> {
    const real = await this.requireForRead(key);
    try {
      const target = path.resolve(localPath);
      await fsp.mkdir(path.dirname(target), { recursive: true });
      return await copyFileAtomically(real, target, options.signal);
    } catch (err) {
      throw this.accessError("read", key, err, localPath);
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== null;
  }

  async head(key: string, options: HeadOptions = {}): Promise<StoreHead | null> {
    const real = await this.pathForRead(key);
    if (real === null) return null;
    try {
      const stat = await fsp.stat(real);
      if (!stat.isFile()) return null;
      if (!options.checksum) return { size: stat.size };
      const cached = options.fresh ? null : await this.checksums.lookup(key, stat);
      if (cached) return { size: stat.size, ...cached };
      const sums = await hashFile(real);
      // Only cache when the file did not change while it was being hashed.
      const after = await fsp.stat(real);
      if (after.size === stat.size && after.mtimeMs === stat.mtimeMs) {
        await this.checksums.remember(key, stat, sums);
      }
      return { size: sums.size, sha256: sums.sha256, ...(sums.md5 ? { md5: sums.md5 } : {}) };
    } catch (err) {
      throw this.accessError("inspect", key, err);
    }
  }

  async list(prefix = ""): Promise<StoreEntry[]> {
    const realRoot = await this.realRoot();
    if (realRoot === null) return [];
    const out: StoreEntry[] = [];
    // Start at the deepest directory the prefix names, so listing one run stays cheap.
    const slash = prefix.lastIndexOf("/");
    const startRel = slash >= 0 ? prefix.slice(0, slash) : "";
    try {
      if (startRel !== "") {
        const start = await this.pathForReadOfDir(this.lexicalPath(startRel), prefix);
        if (start === null) return [];
      }
      await this.walk(realRoot, startRel, prefix, out);
    } catch (err) {
      throw this.accessError("list", prefix, err);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const target = this.lexicalPath(key);
    try {
      const parent = await this.pathForReadOfDir(path.dirname(target), key);
      if (parent === null) return;
      await fsp.rm(path.join(parent, path.basename(target)), { force: true });
      await this.checksums.forget(key);
    } catch (err) {
      throw this.accessError("delete", key, err);
    }
  }

  /**
   * Records checksums of a file just written at `pathForWrite(key)` by someone else (a
   * download), so the next sync does not hash it again.
   * @param key - store key
   * @param sums - checksums of the content written
   */
  async rememberChecksums(key: string, sums: Checksums): Promise<void> {
    const real = await this.pathForRead(key);
    if (real === null) return;
    await this.checksums.remember(key, await fsp.stat(real), sums);
  }

  /** Persists cached checksums to `.compas-sync-state.json` (a cache; safe to delete). */
  async flush(): Promise<void> {
    try {
      await this.checksums.flush();
    } catch (err) {
      throw this.accessError("write", SYNC_STATE_FILE, err);
    }
  }

  // Small objects (plans, fragments, manifests) are flushed to disk before the call returns,
  // so a fragment that exists survives a power failure.
  private async write(key: string, body: Buffer | string, overwrite: boolean): Promise<void> {
    const buf = typeof body === "string" ? Buffer.from(body) : body;
    const target = await this.pathForWrite(key);
    try {
      await replaceAtomically(target, (tmp) => fsp.writeFile(tmp, buf, { flag: "wx" }), { durable: true, overwrite, content: buf });
      await this.checksums.remember(key, await fsp.stat(target), hashBuffer(buf));
    } catch (err) {
      throw this.accessError("write", key, err);
    }
  }

  private lexicalPath(key: string): string {
    assertSafeKey(key, this.uri);
    if (key === SYNC_STATE_FILE) {
      throw new CompasEnsembleError(
        "STORE_KEY_UNSAFE",
        `Refused key ${JSON.stringify(key)} in ${this.uri} because that name is reserved for the sync checksum cache.`,
      );
    }
    return keyToLocalPath(this.root, key);
  }

  private async requireForRead(key: string): Promise<string> {
    const real = await this.pathForRead(key);
    if (real === null) {
      throw new CompasEnsembleError("STORE_ACCESS", `Key ${JSON.stringify(key)} does not exist in ${this.uri}.`);
    }
    return real;
  }

  private async pathForReadOfDir(dir: string, key: string): Promise<string | null> {
    const realRoot = await this.realRoot();
    if (realRoot === null) return null;
    let real: string;
    try {
      real = await fsp.realpath(dir);
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    if (real !== realRoot && !isInside(realRoot, real)) throw this.escapeError(key);
    return real;
  }

  private async realRoot(): Promise<string | null> {
    try {
      return await fsp.realpath(this.root);
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  private async walk(realRoot: string, rel: string, prefix: string, out: StoreEntry[]): Promise<void> {
    const dir = rel === "" ? realRoot : path.join(realRoot, ...rel.split("/"));
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === "ENOTDIR") return;
      throw err;
    }
    for (const entry of entries) {
      const key = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (isTempName(entry.name) || key === SYNC_STATE_FILE) continue;
      // Prune directories that cannot contain a key with this prefix.
      if (!key.startsWith(prefix) && !prefix.startsWith(`${key}/`)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await this.walk(realRoot, key, prefix, out);
      } else if (entry.isFile()) {
        if (key.startsWith(prefix)) out.push({ key, size: (await fsp.stat(full)).size });
      } else if (entry.isSymbolicLink() && key.startsWith(prefix)) {
        // A link is listed only when it is a file inside the root; directories behind links
        // are not followed, which also rules out cycles.
        const real = await fsp.realpath(full).catch(() => null);
        if (real === null || !isInside(realRoot, real)) continue;
        const stat = await fsp.stat(real);
        if (stat.isFile()) out.push({ key, size: stat.size });
      }
    }
  }

  private escapeError(key: string): CompasEnsembleError {
    return new CompasEnsembleError(
      "STORE_KEY_UNSAFE",
      `Refused key ${JSON.stringify(key)} in ${this.uri} because it resolves outside the directory through a symbolic link.`,
      { hint: "Remove the symbolic link or point it inside the store directory." },
    );
  }

  private accessError(action: string, key: string, err: unknown, localPath?: string): CompasEnsembleError {
    if (isCompasEnsembleError(err)) return err;
    if (isNoSpace(err)) {
      // A read fills a disk only when it copies to a local file (getFile); writes fill the store's.
      const where = action === "read" && localPath ? path.resolve(localPath) : this.root;
      return diskFullError(where, `trying to ${action} key ${JSON.stringify(key)}`, err);
    }
    if (isAbort(err)) {
      return new CompasEnsembleError("CANCELLED", `Transfer of key ${JSON.stringify(key)} in ${this.uri} was aborted.`, {
        cause: err,
      });
    }
    const storeSide = action === "prepare" || action === "write" || action === "delete" ? "write" : "read";
    // putFile reads a local file and getFile writes one: a failure outside the root is theirs.
    const failed = (err as NodeJS.ErrnoException | null)?.path;
    const local = localPath !== undefined && typeof failed === "string" && !isInside(this.root, path.resolve(failed)) && path.resolve(failed) !== this.root;
    const unusable = local
      ? pathError(err, { what: `local file ${localPath}`, access: storeSide === "write" ? "read" : "write" })
      : pathError(err, { what: `${this.uri} (key ${key})`, access: storeSide });
    if (unusable) return unusable;
    const detail = err instanceof Error ? err.message : String(err);
    const other = localPath ? ` (local file ${localPath})` : "";
    return new CompasEnsembleError(
      "STORE_ACCESS",
      `Could not ${action} key ${JSON.stringify(key)} in ${this.uri}${other}: ${detail}.`,
      { cause: err, hint: "Check that the path exists, is a directory you can write, and the disk is not full." },
    );
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

async function lstatOrNull(p: string): Promise<fs.Stats | null> {
  try {
    return await fsp.lstat(p);
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}
