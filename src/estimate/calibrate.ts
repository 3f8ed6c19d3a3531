import { mkdtempSync, rmSync } from "node:fs";
import { cpus, hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { z } from "zod";
import { compasSha256, probeCompas, resolveCompasBinary, type ProbeCompasOptions } from "../compas/probe.js";
import type { ProfileName } from "../compas/profiles.js";
import { buildPlan } from "../plan/build.js";
import { CompasEnsembleError } from "../errors.js";
import { runTask } from "../worker/task.js";
import { inspect } from "../hdf5/inspect.js";
import type { GridPoint } from "../grid/schema.js";
import { detailedOutputPrefix } from "../store/keys.js";
import { LocalStore } from "../store/local.js";
import { cacheKey, CalibrationSchema, defaultCacheDir, readCache, writeCacheEntry } from "./calibration-cache.js";

/** Default number of binaries of a calibration run, split over the grid's corners. */
export const DEFAULT_CALIBRATION_BINARIES = 200;

/** What a calibration measured (see {@link calibrate}). */
export type CalibrationRecord = z.infer<typeof CalibrationSchema>;

/** A calibration and whether it came from the cache. */
export interface Calibration extends CalibrationRecord {
  /** True when read from the cache: no COMPAS process was started. */
  cached: boolean;
  /** The cache file it was read from or written to. */
  cacheFile: string;
}

/** Options of {@link calibrate}. */
export interface CalibrateOptions {
  /** The grid to calibrate for; its corners are run. */
  points: readonly GridPoint[];
  /** Profile to time. Default "default". */
  profile?: ProfileName;
  /** COMPAS binary; default from COMPAS_BINARY, $COMPAS_ROOT_DIR/src/bin/COMPAS or PATH. */
  compasBinary?: string;
  /** Binaries in all, split evenly over the corners. Default {@link DEFAULT_CALIBRATION_BINARIES}. */
  binaries?: number;
  /** Folder of `calibration.json`. Default $XDG_CACHE_HOME/compas-ensemble or ~/.cache/compas-ensemble. */
  cacheDir?: string;
  /** Measure again even when the cache has this binary and profile. Default false. */
  refresh?: boolean;
  /** Trust the cached sha256 and probe of the binary (kept in `cacheDir` too). Default true; false reads it afresh. */
  probeCache?: boolean;
  /** Environment for COMPAS (GSL_RNG_* are always removed). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Stops the calibration run. */
  signal?: AbortSignal;
  /**
   * The calibration is also a pilot for adaptive runs: a cached one counts only if it was
   * made at this grid's corners and holds their DCO counts; otherwise it is measured again.
   */
  pilot?: boolean;
  /** Called as each corner finishes. */
  onCorner?: (done: number, total: number, runId: string) => void;
}

/**
 * The grid's corners for calibration: the smallest and largest alpha_ce crossed with the
 * smallest and largest metallicity (the axes that change COMPAS's cost most), one point each
 * (the first in grid order); fewer when an axis has one value.
 * @param points - the grid
 */
export function gridCorners(points: readonly GridPoint[]): GridPoint[] {
  if (points.length === 0) {
    throw new CompasEnsembleError("GRID_INVALID", "The grid has no points to calibrate on; check the slice or the grid file.");
  }
  const alphas = points.map((p) => p.params.alpha_ce);
  const zs = points.map((p) => p.params.metallicity);
  const corners: GridPoint[] = [];
  for (const a of new Set([Math.min(...alphas), Math.max(...alphas)])) {
    for (const z of new Set([Math.min(...zs), Math.max(...zs)])) {
      // A sliced or custom grid may lack a combination: take the point nearest to it.
      const best = points.reduce((acc, p) => (cornerDistance(p, a, z) < cornerDistance(acc, a, z) ? p : acc));
      if (!corners.includes(best)) corners.push(best);
    }
  }
  return corners;
}

function cornerDistance(p: GridPoint, alpha: number, z: number): number {
  return Math.abs(Math.log(p.params.alpha_ce / alpha)) + Math.abs(Math.log(p.params.metallicity / z));
}

/**
 * Times the user's own COMPAS binary: runs about `binaries` binaries at the grid's corners,
 * one COMPAS process at a time in a temporary folder, and measures seconds per binary from the
 * spacing of COMPAS's per-binary progress lines (so process start-up and output writing are
 * counted separately, as a per-task overhead). The result is cached per sha256 of the binary
 * and profile; a cached result is returned without starting any process.
 * @param options - see {@link CalibrateOptions}
 */
export async function calibrate(options: CalibrateOptions): Promise<Calibration> {
  const profile = options.profile ?? "default";
  const binaries = options.binaries ?? DEFAULT_CALIBRATION_BINARIES;
  if (!Number.isInteger(binaries) || binaries < 2) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `Calibration binaries ${binaries} is not a whole number >= 2.`);
  }
  const cacheDir = options.cacheDir ?? defaultCacheDir(options.env ?? process.env);
  const binary = resolveCompasBinary({ compasBinary: options.compasBinary, env: options.env });
  const probeOptions = { cache: options.probeCache, cacheDir };
  const sha256 = await compasSha256(binary, probeOptions);
  const key = cacheKey(sha256, profile);
  const cacheFile = join(cacheDir, "calibration.json");
  const hit = options.refresh ? undefined : readCache(cacheDir).entries[key];
  if (hit && hit.binaries >= binaries && (!options.pilot || isPilotFor(hit, options.points))) return { ...hit, cached: true, cacheFile };

  const record = await measure(binary, profile, binaries, options, probeOptions);
  await writeCacheEntry(cacheDir, key, record);
  return { ...record, cached: false, cacheFile };
}

/**
 * True when a calibration holds DCO counts at every corner of this grid, so it can serve as
 * the pilot of an adaptive estimate.
 * @param calibration - cached or fresh
 * @param points - the grid
 */
export function isPilotFor(calibration: CalibrationRecord, points: readonly GridPoint[]): boolean {
  return gridCorners(points).every((p) =>
    calibration.corners.some((c) => c.dcos !== undefined && c.alpha_ce === p.params.alpha_ce && c.metallicity === p.params.metallicity),
  );
}

/**
 * The cached calibration of a binary and profile, if any; starts no process.
 * @param binary - path of the COMPAS binary
 * @param profile - profile name
 * @param cacheDir - default as in {@link calibrate}
 * @param probeCache - trust the cached sha256 of the binary (see {@link CalibrateOptions.probeCache}); default true
 */
export async function cachedCalibration(binary: string, profile: ProfileName, cacheDir?: string, probeCache?: boolean): Promise<Calibration | undefined> {
  const dir = cacheDir ?? defaultCacheDir();
  const hit = readCache(dir).entries[cacheKey(await compasSha256(binary, { cache: probeCache, cacheDir: dir }), profile)];
  return hit ? { ...hit, cached: true, cacheFile: join(dir, "calibration.json") } : undefined;
}

async function measure(
  binary: string,
  profile: ProfileName,
  binaries: number,
  options: CalibrateOptions,
  probeOptions: ProbeCompasOptions,
): Promise<CalibrationRecord> {
  const probe = await probeCompas(binary, probeOptions);
  const corners = gridCorners(options.points);
  const perCorner = Math.max(2, Math.ceil(binaries / corners.length));
  const plan = buildPlan({ points: corners, nSystems: perCorner, compas: probe, command: { profile } });
  const dir = mkdtempSync(join(tmpdir(), "compas-calibration-"));
  try {
    const store = new LocalStore(join(dir, "store"));
    const measured: CalibrationRecord["corners"] = [];
    // One process at a time: each binary is timed on a core of its own, as in a full run.
    for (const task of plan.tasks) {
      const marks: Array<[number, number]> = [];
      const t0 = performance.now();
      const result = await runTask({
        plan,
        task,
        store,
        attempt: 1,
        scratchRoot: join(dir, "scratch"),
        binary,
        env: options.env,
        signal: options.signal,
        onProgress: (done) => marks.push([done, performance.now()]),
      });
      const wallS = (performance.now() - t0) / 1000;
      if (result.status === "cancelled") {
        throw new CompasEnsembleError("CANCELLED", `Calibration of ${binary} was cancelled: ${result.reason}.`);
      }
      if (result.status === "failed") {
        const e = result.fragment.error;
        throw new CompasEnsembleError(
          "COMPAS_FAILED",
          `Calibration run ${task.run_id} (${task.n_systems} binaries) of ${binary} failed: ${e?.message ?? "unknown reason"}.`,
          { hint: "Run `compas-ensemble command --index " + task.grid_index + "` and start that command by hand to see why." },
        );
      }
      const detailed = (await store.list(detailedOutputPrefix(task.run_id))).reduce((s, e) => s + e.size, 0);
      const point = corners.find((p) => p.run_id === task.run_id)!;
      measured.push({
        run_id: task.run_id,
        alpha_ce: point.params.alpha_ce,
        metallicity: point.params.metallicity,
        dcos: await cornerDcos(store, result.fragment.output?.key),
        n_systems: task.n_systems,
        seconds_per_binary: secondsPerBinary(marks, wallS, task.n_systems),
        wall_s: wallS,
        output_bytes: result.fragment.output?.bytes ?? 0,
        detailed_bytes: detailed,
      });
      options.onCorner?.(measured.length, plan.tasks.length, task.run_id);
    }
    const mean = (f: (c: CalibrationRecord["corners"][number]) => number): number => measured.reduce((s, c) => s + f(c), 0) / measured.length;
    const spb = mean((c) => c.seconds_per_binary);
    const total = measured.reduce((s, c) => s + c.n_systems, 0);
    return {
      sha256: probe.sha256,
      version: probe.version,
      binary,
      profile,
      binaries: total,
      measured_at: new Date().toISOString(),
      host: hostname(),
      cpu: cpus()[0]?.model.trim() ?? "unknown",
      seconds_per_binary: spb,
      task_overhead_s: Math.max(0, mean((c) => c.wall_s - c.n_systems * c.seconds_per_binary)),
      output_file_bytes: mean((c) => c.output_bytes),
      detailed_bytes_per_binary: measured.reduce((s, c) => s + c.detailed_bytes, 0) / total,
      corners: measured,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The corner's DCOs, read with the reader of `inspect` (the adaptive loop counts the same way).
async function cornerDcos(store: LocalStore, key: string | undefined): Promise<CalibrationRecord["corners"][number]["dcos"]> {
  const path = key === undefined ? null : await store.pathForRead(key);
  if (path === null) throw new CompasEnsembleError("COMPAS_FAILED", "A calibration run left no COMPAS_Output.h5 to count DCOs in.");
  const { dco, merging } = await inspect(path);
  return { dco, merging };
}

// Progress lines come as each binary ends, so their spacing is the evolution time alone.
// Lines can also arrive in bursts: a COMPAS built to buffer stdout, or a busy machine on which
// this process reads the pipe late. A spacing below half the task's wall time per binary
// cannot be the evolution (start-up is small next to 200 binaries), so then the whole
// task's time per binary is the (pessimistic) answer.
function secondsPerBinary(marks: ReadonlyArray<[number, number]>, wallS: number, n: number): number {
  const whole = wallS / n;
  const first = marks[0];
  const last = marks[marks.length - 1];
  if (first && last && last[0] > first[0] && last[1] > first[1]) {
    // Binary `first[0]` ended at first[1]; the binaries after it up to last[0] took the interval.
    const spacing = (last[1] - first[1]) / 1000 / (last[0] - first[0]);
    if (spacing >= 0.5 * whole) return spacing;
  }
  return whole;
}
