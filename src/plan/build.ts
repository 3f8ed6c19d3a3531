import { buildCompasArgs, type CompasCommandOptions, DEFAULT_HDF5_CHUNK_SIZE } from "../compas/argv.js";
import type { CompasProbe } from "../compas/probe.js";
import { CompasEnsembleError } from "../errors.js";
import type { GridPoint } from "../grid/schema.js";
import { planHash } from "./hash.js";
import type { Plan, PlanRun, Task } from "./schema.js";
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
}

/**
 * First seed of run k (grid index k): seedBase + k * nSystems, so runs never overlap and a
 * slice gets the seeds it would get in the whole grid. Refused when the run's last seed is
 * beyond 2^53 - 1, past which a number (and the plan's JSON) no longer holds every seed
 * exactly; a slice far into a huge grid can get there.
 * @param seedBase - first seed of grid index 0
 * @param gridIndex - k
 * @param nSystems - binaries per run
 */
export function firstSeedOfRun(seedBase: number, gridIndex: number, nSystems: number): number {
  const seed = seedBase + gridIndex * nSystems;
  if (!Number.isSafeInteger(seed + nSystems - 1)) {
    const last = BigInt(seedBase) + BigInt(gridIndex + 1) * BigInt(nSystems) - 1n;
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `Grid index ${gridIndex} with --n-systems ${nSystems} and --seed-base ${seedBase} needs seeds up to ${last}, ` +
        `beyond 2^53 - 1 (${Number.MAX_SAFE_INTEGER}), the largest a plan records exactly; use a smaller --seed-base, --n-systems or grid index.`,
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
  const content = {
    schema_version: 1 as const,
    compas: { binary: options.compas.binary, version: options.compas.version, sha256: options.compas.sha256 },
    profile: options.command?.profile ?? "default",
    n_systems_per_run: n,
    systems_per_task: Math.min(perTask, n),
    seed_base: seedBase,
    hdf5_chunk_size: options.command?.hdf5ChunkSize ?? DEFAULT_HDF5_CHUNK_SIZE,
    points: options.points.map((p) => ({ index: p.index, run_id: p.run_id, params: { ...p.params } })),
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
