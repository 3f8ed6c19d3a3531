import type { CompasCommandOptions } from "../compas/argv.js";
import { checkFlagsKnown, probeCompas, resolveCompasBinary } from "../compas/probe.js";
import { PROFILES, type ProfileName } from "../compas/profiles.js";
import { CompasEnsembleError, DiskFullError } from "../errors.js";
import { LocalExecutor, type LocalExecutorOptions } from "../executors/local/executor.js";
import type { Executor, ExecutorEvent, ExecutorHandle, TaskStatus } from "../executors/types.js";
import { expandGrid } from "../grid/expand.js";
import type { GridSpec } from "../grid/presets.js";
import type { GridPoint } from "../grid/schema.js";
import { DEFAULT_CHECKPOINT_MIN_INTERVAL_MS, ManifestCheckpointer } from "../manifest/checkpoint.js";
import { mergeMetadata } from "../manifest/merge.js";
import { assertSamePlan } from "../plan/hash.js";
import { nextAttempts } from "../manifest/resume.js";
import type { Fragment, Manifest } from "../manifest/schema.js";
import type { Plan } from "../plan/schema.js";
import { formatBytes } from "../util/format.js";
import { measuredSizeModel, runBytes } from "../estimate/size.js";
import { diskFullError, diskOf, isNoSpace } from "../util/disk.js";
import { LocalStore } from "../store/local.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/types.js";
import { acquireLock } from "./_lock.js";
import { jsonText, readPlan, readStoredPlan, writeHandle, writeManifest } from "../store/ensemble-files.js";
import { runAdaptiveLoop } from "./adaptive.js";
import { readFragments } from "../store/fragments.js";
import { ADAPTIVE_PREFIX, archiveKey, FRAGMENTS_PREFIX, isMergeRecordKey, MANIFEST_KEY, PLAN_KEY, RUNS_PREFIX } from "../store/keys.js";
import { finalizeEnsemble, RunMerger } from "./finalize.js";
import { buildPlan, type BuildPlanOptions } from "../plan/build.js";
import { verifiedSuccesses } from "./verify.js";

/** Options of {@link runEnsemble}; only `nSystems`, `output` and a grid are required. */
export interface RunEnsembleOptions {
  /** The grid to run (expanded here); or give `points`. */
  grid?: GridSpec;
  /** Grid points to run, e.g. a slice from sliceGrid(); wins over `grid`. */
  points?: readonly GridPoint[];
  /**
   * Binaries per run (grid point); or, with `target`, `{ chunk, max }`: each run grows by
   * chunks of `chunk` binaries until it holds the target or has `max` (docs/adaptive.md).
   */
  nSystems: number | { chunk: number; max: number };
  /** Binaries per task; runs with more are chunked and merged. Default nSystems. Not with `target`. */
  systemsPerTask?: number;
  /**
   * Stopping rule of an adaptive ensemble: each run gets chunks until its chunks hold `count`
   * DCOs of kind `dco` (BBH, BHNS, BNS or any; `merging`: only those merging within a Hubble
   * time). Needs `nSystems: { chunk, max }`.
   */
  target?: { dco: string; merging: boolean; count: number };
  /** Adaptive ensembles: seeds between runs (run k starts at seedBase + k * seedStride). Default 10^9. */
  seedStride?: number;
  /** First seed of grid index 0; run k starts at seedBase + k * nSystems (adaptive: k * seedStride). Default 0. */
  seedBase?: number;
  /** COMPAS binary; default from COMPAS_BINARY, $COMPAS_ROOT_DIR/src/bin/COMPAS or PATH. */
  compasBinary?: string;
  /** Trust the cached sha256 and probe of the binary (see probeCompas). Default true; false reads it afresh. */
  probeCache?: boolean;
  /** Profile, HDF5 chunk size, extra flags, allowInertAxes. */
  compas?: CompasCommandOptions;
  /** Output directory or `s3://bucket/prefix`, or an open Store. */
  output: string | Store;
  /** Where tasks run. Default: a LocalExecutor built from `local`. */
  executor?: Executor;
  /** Options of the default local executor (concurrency, retries, timeout). */
  local?: LocalExecutorOptions;
  /** Start over when the output holds a different plan (the old metadata is archived). Default false. */
  restart?: boolean;
  /** Rewrite ensemble_metadata.json every this many finished tasks. Default 10. */
  checkpointEvery?: number;
  /**
   * Shortest time between two such rewrites, in ms; one that falls due sooner is made when the
   * interval ends. Default 10,000 (DEFAULT_CHECKPOINT_MIN_INTERVAL_MS); 0 for no limit.
   */
  checkpointMinIntervalMs?: number;
  /** With a detached executor: return right after submission. Default false. */
  detach?: boolean;
  /** Cancels the ensemble: running tasks are killed, the manifest is written. */
  signal?: AbortSignal;
  /** Progress and lifecycle events. */
  onEvent?: (event: EnsembleEvent) => void;
}

/** Everything runEnsemble reports while it works. */
export type EnsembleEvent =
  | ExecutorEvent
  | { type: "plan"; plan: Plan; todo: number; done: number; reused: boolean; /** Ids of the tasks to run (the rest are done). */ todoIds?: readonly string[] }
  | { type: "warning"; message: string }
  | { type: "unverified"; taskId: string; reason: string }
  | { type: "run-merged"; runId: string }
  | {
      type: "wave";
      wave: number;
      /** New chunks. */
      added: number;
      /** Unfinished chunks run again. */
      rerun: number;
      /** Runs still growing. */
      open: number;
      /** The plan with this wave's chunks. */
      plan: Plan;
    }
  | { type: "run-stopped"; runId: string; reason: "target" | "cap"; dcos: number; chunks: number }
  | { type: "checkpoint"; succeeded: number; failed: number };

/** What runEnsemble resolves with. */
export interface EnsembleSummary {
  ensembleId: string;
  /** Output directory or S3 URI. */
  output: string;
  /** Store key of the manifest. */
  manifestKey: string;
  runs: { total: number; succeeded: number; failed: number; pending: number };
  tasks: { total: number; skipped: number; submitted: number };
  failures: { run_id: string; reason: string }[];
  cancelled: boolean;
  durationS: number;
  /** The executor's handle (saved in the store for detached executors). */
  handle?: ExecutorHandle;
}

/**
 * The one front door: plans the ensemble, writes the plan, skips tasks whose output is
 * verified, submits the rest to the executor, merges chunked runs, keeps the manifest
 * current, and resolves with a summary. Killed at any moment, it leaves finished work
 * recorded (fragments) and the rest re-runnable by calling it again.
 * @param options - see {@link RunEnsembleOptions}
 */
export async function runEnsemble(options: RunEnsembleOptions): Promise<EnsembleSummary> {
  const started = Date.now();
  const emit = (e: EnsembleEvent): void => options.onEvent?.(e);
  const store = typeof options.output === "string" ? openStore(options.output) : options.output;
  const points = options.points ?? (options.grid ? expandGrid(options.grid) : undefined);
  if (!points) throw new CompasEnsembleError("OPTIONS_INVALID", "runEnsemble needs a grid or points; pass one of them.");

  const binary = resolveCompasBinary({ compasBinary: options.compasBinary });
  const probe = await probeCompas(binary, { cache: options.probeCache });
  checkFlagsKnown(probe, options.compas?.extraFlags ?? []);
  const warning = PROFILES[options.compas?.profile ?? "default"]?.warning;
  if (warning) emit({ type: "warning", message: warning });

  const proposed = buildPlan({
    points,
    ...sizing(options),
    seedBase: options.seedBase,
    compas: probe,
    command: options.compas,
  });

  const executor = options.executor ?? new LocalExecutor(options.local);
  const release = store instanceof LocalStore ? acquireLock(store.root) : () => {};
  let plan = proposed;
  let checkpoint: ManifestCheckpointer | undefined;
  try {
    plan = await settlePlan(store, proposed, options.restart ?? false);
    // Holding the lock, clear what a killed or crashed predecessor left in scratch, even when
    // nothing is left to run (submit would do it otherwise).
    if (store instanceof LocalStore && executor instanceof LocalExecutor) executor.reclaimScratch(plan, store);
    if (plan.adaptive !== undefined) return await runAdaptive(store, plan, executor, options, emit, started, plan !== proposed);
    const { fragments } = await readFragments(store);
    const { successes: verified, mergedRuns, unverified } = await verifiedSuccesses(store, plan, fragments, (taskId, reason) =>
      emit({ type: "unverified", taskId, reason }),
    );
    const todo = plan.tasks.filter((t) => !verified.has(t.task_id)).map((t) => t.task_id);
    emit({ type: "plan", plan, todo: todo.length, done: plan.tasks.length - todo.length, reused: plan !== proposed, todoIds: todo });

    const all: Fragment[] = [...fragments];
    const successes = new Map(verified);
    checkpoint = new ManifestCheckpointer({
      plan,
      ...(options.checkpointEvery === undefined ? {} : { every: options.checkpointEvery }),
      minIntervalMs: options.checkpointMinIntervalMs ?? DEFAULT_CHECKPOINT_MIN_INTERVAL_MS,
      fragments,
      ...outputRoot(store),
      write: async (manifest) => void (await writeManifest(store, manifest)),
      onWrite: (manifest) => {
        const ok = manifest.runs.filter((r) => r.status === "success").length;
        emit({ type: "checkpoint", succeeded: ok, failed: manifest.runs.length - ok });
      },
    });
    const merger = new RunMerger(store, plan, successes, mergedRuns, emit);
    await merger.mergeReady();

    const firstAttempt = nextAttempts(todo, fragments);
    let handle: ExecutorHandle | undefined;
    let statuses: TaskStatus[] = [];
    if (todo.length > 0) {
      const onEvent = (e: ExecutorEvent): void => {
        if (e.type === "task-finished") {
          all.push(e.fragment);
          if (e.fragment.status === "success") {
            successes.set(e.fragment.task_id, e.fragment);
            merger.taskSucceeded(e.fragment.task_id);
          }
          checkpoint!
            .record(e.fragment)
            .catch((err: unknown) => emit({ type: "warning", message: `checkpoint failed: ${(err as Error).message}` }));
        }
        emit(e);
      };
      const supersedes = Object.fromEntries(unverified);
      handle = await executor.submit({ plan, store, firstAttempt, supersedes, signal: options.signal, onEvent }, todo);
      if (executor.detached) await writeHandle(store, handle);
      if (executor.detached && options.detach) {
        return summarize(plan, store, mergeMetadata(all, plan, outputRoot(store)), verified.size, todo.length, started, false, handle);
      }
      statuses = await executor.wait(handle, { signal: options.signal, onEvent });
    }
    await merger.idle();
    // No checkpoint may land after the final manifest and put an older one in its place.
    await checkpoint.close();
    // Fragments in the store are the source of truth, also for what other workers wrote.
    const { manifest } = await finalizeEnsemble(store, plan, emit);
    const cancelled = options.signal?.aborted === true || statuses.some((s) => s.state === "cancelled");
    return summarize(plan, store, manifest, verified.size, todo.length, started, cancelled, handle, statuses);
  } catch (err) {
    await checkpoint?.close();
    if (!isNoSpace(err)) throw err;
    throw await stopForFullDisk(store, plan, err, emit);
  } finally {
    await checkpoint?.close();
    release();
  }
}

// The sizes buildPlan needs: a fixed N (and chunking), or an adaptive rule.
function sizing(options: RunEnsembleOptions): Pick<BuildPlanOptions, "nSystems" | "systemsPerTask" | "adaptive"> {
  const n = options.nSystems;
  if (options.target === undefined) {
    if (typeof n !== "number") {
      throw new CompasEnsembleError("OPTIONS_INVALID", "nSystems { chunk, max } needs a target (--target-dcos) to say when a run has enough; give one, or a fixed nSystems.");
    }
    return { nSystems: n, systemsPerTask: options.systemsPerTask };
  }
  if (typeof n === "number") {
    throw new CompasEnsembleError("OPTIONS_INVALID", "A DCO target (--target-dcos) needs the chunk size and the cap per run (--chunk and --max-systems), not a fixed --n-systems.", {
      hint: "e.g. --target-dcos BBH:merging:200 --chunk 5000 --max-systems 2000000 (nSystems: { chunk, max } in the API).",
    });
  }
  if (options.systemsPerTask !== undefined) {
    throw new CompasEnsembleError("OPTIONS_INVALID", "--systems-per-task cannot be combined with --target-dcos: an adaptive run's tasks are its chunks (--chunk).");
  }
  return { nSystems: n.max, adaptive: { target: options.target, chunk: n.chunk, max: n.max, seedStride: options.seedStride } };
}

// An adaptive ensemble: the loop of src/ensemble/adaptive.ts instead of one submission.
async function runAdaptive(
  store: Store,
  base: Plan,
  executor: Executor,
  options: RunEnsembleOptions,
  emit: (e: EnsembleEvent) => void,
  started: number,
  reused: boolean,
): Promise<EnsembleSummary> {
  const current = (await readPlan(store)) ?? base;
  const { fragments } = await readFragments(store);
  const { successes } = await verifiedSuccesses(store, current, fragments);
  const todoIds = current.tasks.filter((t) => !successes.has(t.task_id)).map((t) => t.task_id);
  emit({ type: "plan", plan: current, todo: todoIds.length, done: current.tasks.length - todoIds.length, reused, todoIds });
  const slots = executor instanceof LocalExecutor ? executor.concurrency : undefined;
  const result = await runAdaptiveLoop({ store, base, executor, slots, detach: options.detach, signal: options.signal, emit });
  return summarize(result.plan, store, result.manifest, successes.size, result.submitted, started, result.cancelled, result.handle, result.statuses);
}

/**
 * After a disk filled up (the executor has stopped every task by then): records what is done
 * in the manifest if there is room for it, and says which disk needs how much more.
 */
async function stopForFullDisk(store: Store, plan: Plan, err: unknown, emit: (e: EnsembleEvent) => void): Promise<DiskFullError> {
  const full = diskFullError(store instanceof LocalStore ? store.root : store.uri, "writing the ensemble", err);
  let manifest: Manifest | undefined;
  try {
    ({ manifest } = await finalizeEnsemble(store, plan, emit));
  } catch (again) {
    if (!isNoSpace(again)) throw again;
  }
  const done = new Set((manifest?.runs ?? []).filter((r) => r.status === "success").map((r) => r.run_id));
  const unfinished = plan.runs.filter((r) => !done.has(r.run_id));
  // The estimate's size model (src/estimate/size.ts) for the outputs still to come.
  const model = measuredSizeModel(plan.profile as ProfileName);
  const needed = unfinished.reduce((sum, r) => sum + runBytes(model, r.n_systems), 0);
  const disk = diskOf(full.path);
  const free = disk.freeBytes === null ? "" : `, ${formatBytes(disk.freeBytes)} free`;
  return new DiskFullError(
    full.path,
    `No space left on the disk holding ${full.path} (mounted at ${disk.mountPoint}${free}): the ensemble stopped with ` +
      `${unfinished.length} of ${plan.runs.length} runs unfinished, whose outputs need about ${formatBytes(needed)} more.`,
    {
      cause: err,
      hint:
        `Free at least ${formatBytes(needed)} on ${disk.mountPoint} (a little more while tasks run: each writes its output ` +
        `to scratch first), then run the same command again: finished runs are kept and skipped` +
        `${manifest ? "" : ", and the manifest, which had no room either, is written then"}.`,
    },
  );
}

function outputRoot(store: Store): { outputRoot: string } {
  return { outputRoot: store.uri };
}

async function settlePlan(store: Store, proposed: Plan, restart: boolean): Promise<Plan> {
  const text = planJson(proposed);
  const existing = await readStoredPlan(store);
  if (existing) {
    try {
      assertSamePlan(existing, proposed, store.uri);
      return existing;
    } catch (err) {
      if (!restart) throw err;
      await archiveMetadata(store, existing.ensemble_id);
    }
  }
  await store.put(PLAN_KEY, text);
  return proposed;
}

// Serialised before anything is archived: JSON.stringify throws RangeError past the longest
// string Node holds (~512 MiB, about 2 x 10^5 tasks with the default arguments), and such a
// plan could not be read back to resume either.
function planJson(plan: Plan): string {
  try {
    return jsonText(plan);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `The plan of ${plan.tasks.length} tasks is too large for plan.json (more than the ~512 MiB of text Node can write and ` +
        `read back to resume); run the grid in slices of fewer points with --start-index and --end-index.`,
      { cause: err },
    );
  }
}

// Starting over keeps the old plan, fragments, logs and manifest (small files) under
// archive/<old ensemble id>/; run outputs are replaced as the new tasks finish.
async function archiveMetadata(store: Store, ensembleId: string): Promise<void> {
  const keys = [
    PLAN_KEY,
    MANIFEST_KEY,
    ...(await store.list(FRAGMENTS_PREFIX)).map((e) => e.key),
    ...(await store.list(ADAPTIVE_PREFIX)).map((e) => e.key),
    ...(await store.list(RUNS_PREFIX)).map((e) => e.key).filter(isMergeRecordKey),
  ];
  for (const key of keys) {
    if (!(await store.exists(key))) continue;
    await store.put(archiveKey(ensembleId, key), await store.get(key));
    await store.delete(key);
  }
}

/**
 * Builds the summary that runEnsemble and attachEnsemble resolve with.
 * @param statuses - the executor's final view: a task can fail without leaving a fragment (its
 *   container never started, e.g. an image that cannot be pulled), and then only the executor
 *   knows why; such runs count as failed with the executor's reason instead of as pending
 */
export function summarize(
  plan: Plan,
  store: Store,
  manifest: Manifest,
  skipped: number,
  submitted: number,
  started: number,
  cancelled: boolean,
  handle: ExecutorHandle | undefined,
  statuses: readonly TaskStatus[] = [],
): EnsembleSummary {
  const succeeded = manifest.runs.filter((r) => r.status === "success").length;
  const failures = manifest.runs.filter((r) => r.status === "failed").map((r) => ({ run_id: r.run_id, reason: r.error ?? "failed" }));
  const recorded = new Set(manifest.runs.map((r) => r.run_id));
  const runOf = new Map(plan.tasks.map((t) => [t.task_id, t.run_id]));
  for (const s of statuses) {
    const runId = runOf.get(s.taskId);
    if (s.state !== "failed" || runId === undefined || recorded.has(runId)) continue;
    recorded.add(runId);
    failures.push({ run_id: runId, reason: s.reason ?? "failed without a reason from the executor" });
  }
  return {
    ensembleId: plan.ensemble_id,
    output: store.uri,
    manifestKey: MANIFEST_KEY,
    runs: { total: plan.runs.length, succeeded, failed: failures.length, pending: plan.runs.length - succeeded - failures.length },
    tasks: { total: plan.tasks.length, skipped, submitted },
    failures,
    cancelled,
    durationS: (Date.now() - started) / 1000,
    handle,
  };
}
