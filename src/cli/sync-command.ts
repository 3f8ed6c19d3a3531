import fs from "node:fs/promises";
import path from "node:path";
import { CompasEnsembleError } from "../errors.js";
import type { S3StoreOptions } from "../store/s3-client.js";
import { LocalStore } from "../store/local.js";
import { S3Store } from "../store/s3.js";
import { sync, type SyncOptions, type SyncProgress, type SyncSummary } from "../store/sync.js";
import { formatBytes } from "../util/format.js";

/** Options of {@link syncCommand}: the CLI's `sync <s3-uri> <dir> [--up]` plus S3 options. */
export interface SyncCommandOptions extends S3StoreOptions {
  /** `s3://bucket/prefix` */
  s3Uri: string;
  /** Local directory (created when downloading). */
  dir: string;
  /** Upload `dir` to `s3Uri` instead of downloading. */
  up?: boolean;
  prefix?: string;
  dryRun?: boolean;
  concurrency?: number;
  signal?: AbortSignal;
  /** Called for each object transferred, skipped or refused. */
  onProgress?: (event: SyncProgress) => void;
}

/**
 * `compas-ensemble sync <s3-uri> <dir> [--up]`: downloads the S3 prefix into the directory
 * (or uploads the directory with `up`), transferring only what differs.
 * @param options - the URI, directory, direction and sync/S3 options
 * @returns the {@link SyncSummary}; see {@link formatSyncSummary} for a printable line
 * @throws CompasEnsembleError OPTIONS_INVALID for a bad URI or directory, plus what {@link sync} throws
 */
export async function syncCommand(options: SyncCommandOptions): Promise<SyncSummary> {
  const { s3Uri, dir, up, prefix, dryRun, concurrency, signal, onProgress, ...s3Options } = options;
  if (!/^s3:\/\//i.test(s3Uri.trim())) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `sync expects an s3:// URI as its first argument, got ${JSON.stringify(s3Uri)}.`, {
      hint: "Usage: compas-ensemble sync s3://bucket/prefix <dir> [--up]",
    });
  }
  const local = path.resolve(dir);
  const stat = await fs.stat(local).catch(() => null);
  if (stat !== null && !stat.isDirectory()) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `sync directory ${local} exists and is not a directory.`);
  }
  if (up && stat === null) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `sync --up directory ${local} does not exist.`);
  }
  const remote = new S3Store(s3Uri.trim(), s3Options);
  const localStore = new LocalStore(local);
  const syncOptions: SyncOptions = {
    ...(prefix !== undefined ? { prefix } : {}),
    ...(dryRun !== undefined ? { dryRun } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(signal !== undefined ? { signal } : {}),
    ...(onProgress !== undefined ? { onProgress } : {}),
  };
  return up ? sync(localStore, remote, syncOptions) : sync(remote, localStore, syncOptions);
}

/**
 * One line describing a sync result, e.g. for the CLI.
 * @param summary - what {@link sync} returned
 */
export function formatSyncSummary(summary: SyncSummary): string {
  const verb = summary.dryRun ? "would transfer" : "transferred";
  const parts = [
    `${verb} ${summary.transferred} file${summary.transferred === 1 ? "" : "s"} (${formatBytes(summary.bytes)})`,
    `${summary.skipped} up to date`,
  ];
  if (summary.refused.length > 0) {
    parts.push(`${summary.refused.length} refused as unsafe: ${summary.refused.map((k) => JSON.stringify(k)).join(", ")}`);
  }
  return parts.join(", ");
}

