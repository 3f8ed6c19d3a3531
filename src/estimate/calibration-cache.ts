import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { userCacheDir } from "../compas/identity-cache.js";
import { writeJsonAtomic } from "../util/atomic-write.js";

const DcoCountsSchema = z.object({
  total: z.number().int().nonnegative(),
  BBH: z.number().int().nonnegative(),
  BHNS: z.number().int().nonnegative(),
  BNS: z.number().int().nonnegative(),
  other: z.number().int().nonnegative(),
});

/** One calibrated grid corner. */
export const CalibrationCornerSchema = z.object({
  run_id: z.string(),
  /** The corner's alpha_ce and metallicity (absent in calibrations cached by older versions). */
  alpha_ce: z.number().positive().optional(),
  metallicity: z.number().positive().optional(),
  n_systems: z.number().int().positive(),
  /** From the spacing of COMPAS's per-binary progress lines, so process start-up is excluded. */
  seconds_per_binary: z.number().nonnegative(),
  /** Whole task: start of COMPAS to the stored fragment. */
  wall_s: z.number().nonnegative(),
  output_bytes: z.number().int().nonnegative(),
  detailed_bytes: z.number().int().nonnegative(),
  /**
   * DCOs in the corner's output, counted as `inspect` counts them: the pilot from which the
   * estimate predicts the N of adaptive runs (docs/adaptive.md). Absent in older caches.
   */
  dcos: z.object({ dco: DcoCountsSchema, merging: DcoCountsSchema }).optional(),
});

/** What a calibration run measured, as cached per binary hash and profile. */
export const CalibrationSchema = z.object({
  sha256: z.string(),
  version: z.string(),
  binary: z.string(),
  profile: z.string(),
  binaries: z.number().int().positive(),
  measured_at: z.string(),
  host: z.string(),
  cpu: z.string(),
  /** Mean over the corners. */
  seconds_per_binary: z.number().nonnegative(),
  /** Per task, beyond the binaries: start-up, writing, the completion check, the upload. */
  task_overhead_s: z.number().nonnegative(),
  /** Mean size of a calibration output file (at most 1000 binaries: the floor of every file). */
  output_file_bytes: z.number().nonnegative(),
  detailed_bytes_per_binary: z.number().nonnegative(),
  corners: z.array(CalibrationCornerSchema).min(1),
});

const CacheFileSchema = z.object({
  schema_version: z.literal(1),
  entries: z.record(z.string(), CalibrationSchema),
});
type CacheFile = z.infer<typeof CacheFileSchema>;

/** The cache folder: $XDG_CACHE_HOME/compas-ensemble, else ~/.cache/compas-ensemble. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return userCacheDir(env);
}

export function cachePath(cacheDir: string): string {
  return join(cacheDir, "calibration.json");
}

export function cacheKey(sha256: string, profile: string): string {
  return `${sha256}:${profile}`;
}

// A damaged cache is only a lost measurement: it is ignored (and replaced on the next write).
export function readCache(cacheDir: string): CacheFile {
  const path = cachePath(cacheDir);
  if (!existsSync(path)) return { schema_version: 1, entries: {} };
  try {
    const parsed = CacheFileSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
    return parsed.success ? parsed.data : { schema_version: 1, entries: {} };
  } catch {
    return { schema_version: 1, entries: {} };
  }
}

export async function writeCacheEntry(cacheDir: string, key: string, entry: z.infer<typeof CalibrationSchema>): Promise<void> {
  const cache = readCache(cacheDir);
  cache.entries[key] = entry;
  await writeJsonAtomic(cachePath(cacheDir), cache);
}
