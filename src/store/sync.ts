import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { isAbort } from "../util/abort.js";
import { mapLimit } from "../util/map-limit.js";
import { unsafeKeyReason } from "./safe-keys.js";
import { LocalStore } from "./local.js";
import type { Store, StoreHead } from "./types.js";

/** Parallel transfers unless `concurrency` says otherwise. */
export const DEFAULT_SYNC_CONCURRENCY = 4;

/** One event per key, in completion order. */
export interface SyncProgress {
  /** What happened to the key ("transferred" in a dry run means it would be). */
  kind: "transferred" | "skipped" | "refused" | "failed";
  key: string;
  /** Bytes moved for this key (its size in a dry run; 0 when skipped, refused or failed). */
  bytes: number;
  /** Keys handled so far, this one included. */
  completed: number;
  /** Keys in the source listing. */
  total: number;
  /** Why a key was refused or failed. */
  reason?: string;
}

/** Options of {@link sync}. */
export interface SyncOptions {
  /** Only keys starting with this prefix (relative to both stores). */
  prefix?: string;
  /** Compare and report, but write nothing. */
  dryRun?: boolean;
  /** Called once per key. */
  onProgress?: (event: SyncProgress) => void;
  /** Stops starting new transfers and aborts running ones; a rerun resumes. */
  signal?: AbortSignal;
  /** Parallel transfers (default {@link DEFAULT_SYNC_CONCURRENCY}). */
  concurrency?: number;
}

/** What a sync did. */
export interface SyncSummary {
  /** Keys copied (or that would be, in a dry run). */
  transferred: number;
  /** Keys already identical at the destination. */
  skipped: number;
  /** Unsafe keys that were not written, with nothing written for them anywhere. */
  refused: string[];
  /** Bytes copied (or that would be). */
  bytes: number;
  /** True when nothing was written. */
  dryRun: boolean;
}

/**
 * Copies every object of `src` that is missing or different at `dst` (different size, or
 * same size but different SHA-256 or MD5 where both sides know one; unverifiable pairs are
 * copied). Unsafe keys ('..', absolute, backslash, NUL, or escaping through a symlink) are
 * refused and reported, never written; the rest continues. Downloads land in a temporary
 * file renamed at the end, so an interrupted sync leaves only complete files and a rerun
 * copies just what is still missing or different. Local checksums are cached in
 * `.compas-sync-state.json` at the root of a local side.
 * @param src - where objects come from
 * @param dst - where they go: a store, or a local directory path
 * @param options - prefix, dryRun, onProgress, signal, concurrency
 * @throws CompasEnsembleError CANCELLED when the signal fires, STORE_ACCESS when some keys failed
 */
export async function sync(src: Store, dst: Store | string, options: SyncOptions = {}): Promise<SyncSummary> {
  const target = typeof dst === "string" ? new LocalStore(dst) : dst;
  const prefix = options.prefix ?? "";
  const dryRun = options.dryRun ?? false;
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_SYNC_CONCURRENCY));
  const signal = options.signal;
  const what = `Sync from ${src.uri} to ${target.uri}`;

  const [srcEntries, dstEntries] = await Promise.all([src.list(prefix), target.list(prefix)]);
  const dstSizes = new Map(dstEntries.map((e) => [e.key, e.size]));
  const summary: SyncSummary = { transferred: 0, skipped: 0, refused: [], bytes: 0, dryRun };
  const failures: { key: string; error: unknown }[] = [];
  let completed = 0;
  const report = (kind: SyncProgress["kind"], key: string, bytes: number, reason?: string): void => {
    completed += 1;
    options.onProgress?.({ kind, key, bytes, completed, total: srcEntries.length, ...(reason ? { reason } : {}) });
  };

  const handle = async (key: string, size: number): Promise<void> => {
    const unsafe = unsafeKeyReason(key);
    if (unsafe !== null) {
      summary.refused.push(key);
      report("refused", key, 0, unsafe);
      return;
    }
    try {
      const srcHead = await needsTransfer(src, target, key, size, dstSizes.get(key));
      if (srcHead === null) {
        summary.skipped += 1;
        report("skipped", key, 0);
        return;
      }
      if (!dryRun) await transfer(src, target, key, srcHead, signal);
      summary.transferred += 1;
      summary.bytes += srcHead.size;
      report("transferred", key, srcHead.size);
    } catch (err) {
      if (isCompasEnsembleError(err, "STORE_KEY_UNSAFE")) {
        summary.refused.push(key);
        report("refused", key, 0, err.message);
      } else if (signal?.aborted || isAbort(err) || isCompasEnsembleError(err, "CANCELLED")) {
        // Not a failure of this key: the whole sync is stopping.
      } else {
        failures.push({ key, error: err });
        report("failed", key, 0, err instanceof Error ? err.message : String(err));
      }
    }
  };

  try {
    await mapLimit(srcEntries, concurrency, (entry) => handle(entry.key, entry.size), signal);
  } finally {
    await Promise.all([src, target].map((s) => (s instanceof LocalStore && !dryRun ? s.flush() : undefined)));
  }

  summary.refused.sort();
  if (signal?.aborted) {
    throw new CompasEnsembleError(
      "CANCELLED",
      `${what} was interrupted after ${summary.transferred} transfers; run it again to resume.`,
      { cause: signal.reason },
    );
  }
  if (failures.length > 0) {
    const first = failures[0] as (typeof failures)[number];
    throw new CompasEnsembleError(
      "STORE_ACCESS",
      `${what}: ${failures.length} of ${srcEntries.length} keys failed (first: ${
        first.error instanceof Error ? first.error.message : String(first.error)
      }); the others were synced.`,
      { cause: first.error, hint: "Fix the cause and run the same sync again; it copies only what is still missing." },
    );
  }
  return summary;
}

/**
 * The source's head when `key` must be copied, or null when the destination already
 * holds the same content.
 */
async function needsTransfer(
  src: Store,
  dst: Store,
  key: string,
  listedSize: number,
  dstSize: number | undefined,
): Promise<StoreHead | null> {
  if (dstSize === undefined || dstSize !== listedSize) {
    return { size: listedSize };
  }
  const [s, d] = await Promise.all([src.head(key, { checksum: true }), dst.head(key, { checksum: true })]);
  if (s === null) throw new CompasEnsembleError("STORE_ACCESS", `Key ${JSON.stringify(key)} vanished from ${src.uri} during the sync.`);
  if (d === null || d.size !== s.size) return s;
  if (s.sha256 !== undefined && d.sha256 !== undefined) return s.sha256 === d.sha256 ? null : s;
  if (s.md5 !== undefined && d.md5 !== undefined) return s.md5 === d.md5 ? null : s;
  return s;
}

async function transfer(src: Store, dst: Store, key: string, head: StoreHead, signal?: AbortSignal): Promise<void> {
  const opts = signal ? { signal } : {};
  if (src instanceof LocalStore) {
    const from = await src.pathForRead(key);
    if (from === null) throw new CompasEnsembleError("STORE_ACCESS", `Key ${JSON.stringify(key)} vanished from ${src.uri} during the sync.`);
    await dst.putFile(key, from, head.sha256 ? { ...opts, sha256: head.sha256 } : opts);
    return;
  }
  if (dst instanceof LocalStore) {
    const to = await dst.pathForWrite(key);
    const result = await src.getFile(key, to, opts);
    await dst.rememberChecksums(key, result);
    return;
  }
  // Store to store (e.g. bucket to bucket): stage through a private temporary directory.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "compas-sync-"));
  try {
    const staged = path.join(dir, "object");
    const result = await src.getFile(key, staged, opts);
    await dst.putFile(key, staged, { ...opts, sha256: result.sha256 });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
