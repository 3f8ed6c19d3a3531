import { buildCompasArgs, type CompasCommandOptions, DEFAULT_HDF5_CHUNK_SIZE } from "../compas/argv.js";
import type { CompasProbe } from "../compas/probe.js";
import { CompasEnsembleError } from "../errors.js";
import type { GridPoint } from "../grid/schema.js";
import { planHash } from "./hash.js";
import type { AdaptiveSpec, Plan, PlanRun, Task } from "./schema.js";
import { adaptiveSpec, type AdaptiveOptions, chunkSystems, chunkTaskId } from "./adaptive.js";
import { LIBRARY_VERSION } from "../version.js";
import { chunkOutputKey, runOutputKey } from "../store/keys.js";

/** What a plan is made from. */
export interface BuildPlanOptions {
  points: readonly GridPoint[];
  /** Binaries per run (grid point). */
  nSystems: number;
  /** Binaries per task; a run with more is split into chunks with consecutive seeds. Default nSystems. */
  systemsPerTask?: number;
  /**
   * Run k (grid index k) gets seeds seedBase + k * nSystems ... + nSystems - 1, so runs never
   * overlap and a slice of the grid gets the seeds it would get in the whole grid. Default 0.
   */
  seedBase?: number;
  compas: Pick<CompasProbe, "binary" | "version" | "sha256">;
  command?: CompasCommandOptions;
  /**
   * Grow each run by chunks until it holds enough target DCOs (docs/adaptive.md); then
   * `nSystems` and `systemsPerTask` are not used and run k's seeds start at
   * seedBase + k * seedStride.
   */
  adaptive?: AdaptiveOptions;
}

/**
 * First seed of run k (grid index k): seedBase + k * nSystems, so runs never overlap and a
 * slice gets the seeds it would get in the whole grid. Refused when the run's last seed is
 * beyond 2^53 - 1, past which a number (and the plan's JSON) no longer holds every seed
 * exactly; a slice far into a huge grid can get there.
 * @param seedBase - first seed of grid index 0
 * @param gridIndex - k
 * @param nSystems - binaries per run (adaptive plans: the seed stride)
 * @param flag - the flag that set nSystems, for the message
 */
export function firstSeedOfRun(seedBase: number, gridIndex: number, nSystems: number, flag = "--n-systems"): number {
  const seed = seedBase + gridIndex * nSystems;
  if (!Number.isSafeInteger(seed + nSystems - 1)) {
    const last = BigInt(seedBase) + BigInt(gridIndex + 1) * BigInt(nSystems) - 1n;
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `Grid index ${gridIndex} with ${flag} ${nSystems} and --seed-base ${seedBase} needs seeds up to ${last}, ` +
        `beyond 2^53 - 1 (${Number.MAX_SAFE_INTEGER}), the largest a plan records exactly; use a smaller --seed-base, ${flag} or grid index.`,
    );
  }
  return seed;
}

/**
 * Builds the plan: every task with its chunk, seed and COMPAS arguments, identified by the
 * hash of its content. Pure: the same inputs give the same plan (but for created_at).
 * @param options - grid points, N, chunking, seeds and the COMPAS build
 */
export function buildPlan(options: BuildPlanOptions): Plan {
  if (options.adaptive !== undefined) return buildAdaptivePlan(options, adaptiveSpec(options.adaptive));
  const n = options.nSystems;
  const perTask = options.systemsPerTask ?? n;
  const seedBase = options.seedBase ?? 0;
  if (!Number.isInteger(n) || n < 1) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `--n-systems ${n} is not a whole number >= 1.`);
  }
  if (!Number.isInteger(perTask) || perTask < 1) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `--systems-per-task ${perTask} is not a whole number >= 1.`);
  }
  if (!Number.isInteger(seedBase) || seedBase < 0) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `--seed-base ${seedBase} is not a whole number >= 0.`);
  }
  if (options.points.length === 0) {
    throw new CompasEnsembleError("GRID_INVALID", "The grid has no points to run; check the slice or the grid file.");
  }
  const nChunks = Math.ceil(n / Math.min(perTask, n));
  const runs: PlanRun[] = [];
  const tasks: Task[] = [];
  for (const point of options.points) {
    const runSeed = firstSeedOfRun(seedBase, point.index, n);
    const taskIds: string[] = [];
    for (let c = 0; c < nChunks; c++) {
      const first = c * perTask;
      const count = Math.min(perTask, n - first);
      const taskId = nChunks === 1 ? point.run_id : `${point.run_id}.c${c}`;
      const seed = runSeed + first;
      taskIds.push(taskId);
      tasks.push({
        task_id: taskId,
        run_id: point.run_id,
        grid_index: point.index,
        chunk_index: c,
        n_chunks: nChunks,
        first_system: first,
        n_systems: count,
        seed,
        args: buildCompasArgs(point, { nSystems: count, seed }, options.command),
        output_key: nChunks === 1 ? runOutputKey(point.run_id) : chunkOutputKey(point.run_id, c),
      });
    }
    runs.push({
      run_id: point.run_id,
      grid_index: point.index,
      params: point.params,
      seed: runSeed,
      n_systems: n,
      task_ids: taskIds,
      output_key: runOutputKey(point.run_id),
    });
  }
  return finish(options, { n_systems_per_run: n, systems_per_task: Math.min(perTask, n), seed_base: seedBase }, runs, tasks);
}

// An adaptive plan holds chunk 0 of every run; later chunks are added by waves (src/plan/adaptive.ts).
function buildAdaptivePlan(options: BuildPlanOptions, spec: AdaptiveSpec): Plan {
  const seedBase = options.seedBase ?? 0;
  if (!Number.isInteger(seedBase) || seedBase < 0) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `--seed-base ${seedBase} is not a whole number >= 0.`);
  }
  if (options.points.length === 0) {
    throw new CompasEnsembleError("GRID_INVALID", "The grid has no points to run; check the slice or the grid file.");
  }
  const runs: PlanRun[] = [];
  const tasks: Task[] = [];
  for (const point of options.points) {
    // The whole stride of the run must hold exact seeds, whatever chunks it ends up with.
    const runSeed = firstSeedOfRun(seedBase, point.index, spec.seed_stride, "--seed-stride");
    const n = chunkSystems(spec, 0);
    const taskId = chunkTaskId(point.run_id, 0);
    tasks.push({
      task_id: taskId,
      run_id: point.run_id,
      grid_index: point.index,
      chunk_index: 0,
      // The most chunks the run may get; how many it gets is known only when it stops.
      n_chunks: Math.ceil(spec.max / spec.chunk),
      first_system: 0,
      n_systems: n,
      seed: runSeed,
      args: buildCompasArgs(point, { nSystems: n, seed: runSeed }, options.command),
      output_key: chunkOutputKey(point.run_id, 0),
    });
    runs.push({
      run_id: point.run_id,
      grid_index: point.index,
      params: point.params,
      seed: runSeed,
      n_systems: n,
      task_ids: [taskId],
      output_key: runOutputKey(point.run_id),
      open: true,
    });
  }
  return finish(options, { n_systems_per_run: spec.max, systems_per_task: spec.chunk, seed_base: seedBase, adaptive: spec }, runs, tasks);
}

function finish(
  options: BuildPlanOptions,
  sizes: { n_systems_per_run: number; systems_per_task: number; seed_base: number; adaptive?: AdaptiveSpec },
  runs: PlanRun[],
  tasks: Task[],
): Plan {
  const content = {
    schema_version: 1 as const,
    compas: { binary: options.compas.binary, version: options.compas.version, sha256: options.compas.sha256 },
    profile: options.command?.profile ?? "default",
    n_systems_per_run: sizes.n_systems_per_run,
    systems_per_task: sizes.systems_per_task,
    seed_base: sizes.seed_base,
    hdf5_chunk_size: options.command?.hdf5ChunkSize ?? DEFAULT_HDF5_CHUNK_SIZE,
    points: options.points.map((p) => ({ index: p.index, run_id: p.run_id, params: { ...p.params } })),
    ...(sizes.adaptive ? { adaptive: sizes.adaptive } : {}),
    runs,
    tasks,
  };
  return {
    ...content,
    ensemble_id: planHash(content),
    created_at: new Date().toISOString(),
    library_version: LIBRARY_VERSION,
  };
}
