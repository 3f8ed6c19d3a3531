import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Executor, ExecutorEvent, ExecutorHandle, TaskStatus } from "../executors/types.js";
import { inspect } from "../hdf5/inspect.js";
import { nextAttempts } from "../manifest/resume.js";
import type { Fragment, Manifest } from "../manifest/schema.js";
import { mergeMetadata } from "../manifest/merge.js";
import {
  chunkTaskId,
  countTarget,
  describeTarget,
  expandAdaptivePlan,
  maxChunks,
  type RunProgress,
  type StopRecord,
  type WaveRecord,
} from "../plan/adaptive.js";
import type { AdaptiveSpec, AdaptiveTarget, Plan, PlanRun } from "../plan/schema.js";
import { readAdaptiveRecords, writeHandle, writeStopRecord, writeWaveRecord } from "../store/ensemble-files.js";
import { readFragments } from "../store/fragments.js";
import { LocalStore } from "../store/local.js";
import type { Store } from "../store/types.js";
import { finalizeEnsemble, mergeRunsAndWriteManifest } from "./finalize.js";
import type { EnsembleEvent } from "./run.js";
import { verifiedSuccesses } from "./verify.js";

// The loop of an adaptive ensemble (docs/adaptive.md). Each pass reads the store (waves,
// stop records, fragments), so a pass started by another process after a crash or from
// `wait` continues where the last one left off:
//
//   1. a run whose finished chunks, in seed order, hold the target (or reach the cap) stops:
//      its stop record names the shortest such prefix, counted from the chunk files;
//   2. stopped runs are merged;
//   3. the next wave: unfinished chunks of open runs, plus new chunks where the estimate
//      says more are needed (at most doubling a run per wave, more where cores are idle);
//      it is recorded before it is submitted, then the loop waits for it.
//
// A run's output is always that shortest prefix, so it does not depend on how many chunks
// were in flight: a chunk that ran past the target is reported as surplus, not merged.

/** What the loop needs. */
export interface AdaptiveLoopOptions {
  store: Store;
  /** plan.json as written (adaptive). */
  base: Plan;
  executor: Executor;
  /** Chunks that can run at once; idle ones get extra chunks. Default: the open runs. */
  slots?: number;
  /** Return right after the first submission (detached executors). */
  detach?: boolean;
  /** A submission to follow first (from `wait`). */
  handle?: ExecutorHandle;
  signal?: AbortSignal;
  emit: (e: EnsembleEvent) => void;
  /** Executor events (progress, finished tasks). */
  onExecutorEvent?: (e: ExecutorEvent) => void;
}

/** What the loop did. */
export interface AdaptiveLoopResult {
  /** The plan as it stands at the end. */
  plan: Plan;
  handle?: ExecutorHandle;
  statuses: TaskStatus[];
  /** Tasks submitted by this call. */
  submitted: number;
  /** Returned after submitting (detach). */
  detached: boolean;
  cancelled: boolean;
  /** The manifest as written at the end (as it stands, when detached). */
  manifest: Manifest;
}

/**
 * Runs an adaptive ensemble until every run has stopped (or failed), or until it is detached
 * or cancelled; then writes the manifest.
 * @param options - store, plan, executor and events
 */
export async function runAdaptiveLoop(options: AdaptiveLoopOptions): Promise<AdaptiveLoopResult> {
  const { store, base, executor, emit } = options;
  const spec = base.adaptive!;
  const counter = new DcoCounter(store, spec.target);
  // Chunks that failed (after the executor's retries) in this call: their run grows no more
  // until the next call, which retries them.
  const failedHere = new Set<string>();
  let handle = options.handle;
  let statuses: TaskStatus[] = [];
  let submitted = 0;
  const onEvent = (e: ExecutorEvent): void => {
    if (e.type === "task-finished" && e.fragment.status === "failed" && !e.willRetry) failedHere.add(e.fragment.task_id);
    options.onExecutorEvent?.(e);
    emit(e);
  };
  // Chunks submitted in this call: one that comes back neither succeeded nor failed (its
  // output does not verify) is not submitted again here, so the loop always ends.
  const submittedHere = new Set<string>();
  const follow = async (h: ExecutorHandle): Promise<void> => {
    for (const id of h.task_ids) submittedHere.add(id);
    statuses = await executor.wait(h, { signal: options.signal, onEvent });
    for (const s of statuses) if (s.state === "failed") failedHere.add(s.taskId);
  };
  if (handle) await follow(handle);

  let plan = base;
  for (;;) {
    if (options.signal?.aborted || statuses.some((s) => s.state === "cancelled")) break;
    plan = await currentPlan(store, base);
    const { fragments } = await readFragments(store);
    // Runs stopped before this pass are merged already (or are merged below).
    const { successes, mergedRuns, unverified } = await verifiedSuccesses(store, plan, fragments, (taskId, reason) =>
      emit({ type: "unverified", taskId, reason }),
    );

    // 1. Stop runs whose finished prefix decides.
    const progress: RunProgress[] = [];
    let stopped = 0;
    for (const run of plan.runs.filter((r) => r.open === true)) {
      const decision = await decide(run, spec, successes, counter);
      progress.push(decision.progress);
      if (decision.stop === null) continue;
      await writeStopRecord(store, { ensemble_id: plan.ensemble_id, run_id: run.run_id, ...decision.stop, decided_at: new Date().toISOString() });
      stopped++;
      const what = `run ${run.run_id} stopped after ${decision.stop.chunks.length} chunk(s) with ${decision.stop.dcos} of ${describeTarget(spec.target)}`;
      if (decision.stop.reason === "cap") {
        emit({ type: "warning", message: `${what}: it reached --max-systems ${spec.max} before the target.` });
      }
      emit({ type: "run-stopped", runId: run.run_id, reason: decision.stop.reason, dcos: decision.stop.dcos, chunks: decision.stop.chunks.length });
    }
    if (stopped > 0) plan = await currentPlan(store, base);

    // 2. Merge the runs that stopped.
    // The manifest as of this wave, so status and report from elsewhere see the runs so far.
    await mergeRunsAndWriteManifest(store, plan, fragments, successes, mergedRuns, emit);

    // 3. The next wave.
    for (const id of submittedHere) if (!successes.has(id)) failedHere.add(id);
    const wave = nextWave(plan, spec, successes, failedHere, progress, options.slots);
    if (wave.todo.length === 0) break;
    // Recorded before submission: every chunk not listed by an earlier wave (the first wave
    // lists chunk 0 of every run), so any process can tell which chunks belong to the ensemble.
    const { waves } = await readAdaptiveRecords(store);
    const listed = new Set(waves.flatMap((w) => w.chunks.map((c) => chunkTaskId(c.run_id, c.chunk_index))));
    const tasks = new Map(plan.tasks.map((t) => [t.task_id, t]));
    const unlisted = [
      ...wave.todo.flatMap((id) => {
        const t = tasks.get(id);
        return t && !listed.has(id) ? [{ run_id: t.run_id, chunk_index: t.chunk_index }] : [];
      }),
      ...wave.added.filter((c) => !listed.has(chunkTaskId(c.run_id, c.chunk_index))),
    ];
    if (unlisted.length > 0) {
      const record: WaveRecord = {
        ensemble_id: plan.ensemble_id,
        wave: (waves.at(-1)?.wave ?? 0) + 1,
        chunks: unlisted,
        progress,
        created_at: new Date().toISOString(),
      };
      await writeWaveRecord(store, record);
      plan = await currentPlan(store, base);
      emit({ type: "wave", wave: record.wave, added: unlisted.length, rerun: wave.todo.length - unlisted.length, open: plan.runs.filter((r) => r.open).length, plan });
    }
    const firstAttempt = nextAttempts(wave.todo, fragments);
    // A success whose output is gone is replaced, not contradicted, by the rerun's success.
    const supersedes = Object.fromEntries([...unverified].filter(([id]) => wave.todo.includes(id)));
    handle = await executor.submit({ plan, store, firstAttempt, supersedes, signal: options.signal, onEvent }, wave.todo);
    for (const id of wave.todo) submittedHere.add(id);
    submitted += wave.todo.length;
    if (executor.detached) await writeHandle(store, handle);
    if (executor.detached && options.detach) {
      return { plan, handle, statuses: [], submitted, detached: true, cancelled: false, manifest: mergeMetadata(fragments, plan, { outputRoot: store.uri }) };
    }
    await follow(handle);
  }
  const { manifest } = await finalizeEnsemble(store, plan, emit);
  const cancelled = options.signal?.aborted === true || statuses.some((s) => s.state === "cancelled");
  return { plan, handle, statuses, submitted, detached: false, cancelled, manifest };
}

async function currentPlan(store: Store, base: Plan): Promise<Plan> {
  const { waves, stops } = await readAdaptiveRecords(store);
  return expandAdaptivePlan(base, waves, stops);
}

interface Decision {
  stop: Pick<StopRecord, "chunks" | "dcos" | "reason" | "surplus_task_ids"> | null;
  progress: RunProgress;
}

// Walks the run's chunks in seed order while they are finished, adding their target DCOs.
async function decide(run: PlanRun, spec: AdaptiveSpec, successes: ReadonlyMap<string, Fragment>, counter: DcoCounter): Promise<Decision> {
  const chunks: StopRecord["chunks"] = [];
  let dcos = 0;
  let systems = 0;
  const last = maxChunks(spec) - 1;
  for (let c = 0; c <= last; c++) {
    const id = chunkTaskId(run.run_id, c);
    const f = successes.get(id);
    if (f?.output == null) break;
    const n = await counter.count(f.output.key, f.output.sha256);
    chunks.push({ task_id: id, sha256: f.output.sha256, dcos: n });
    dcos += n;
    systems += f.n_systems;
    if (dcos >= spec.target.count || c === last) {
      const surplus = run.task_ids.filter((t) => !chunks.some((k) => k.task_id === t));
      return {
        stop: { chunks, dcos, reason: dcos >= spec.target.count ? "target" : "cap", surplus_task_ids: surplus },
        progress: { run_id: run.run_id, chunks_done: chunks.length, systems_done: systems, dcos },
      };
    }
  }
  return { stop: null, progress: { run_id: run.run_id, chunks_done: chunks.length, systems_done: systems, dcos } };
}

/** Chunks to submit next: `todo` (task ids), of which `added` are new to the ensemble. */
interface Wave {
  todo: string[];
  added: { run_id: string; chunk_index: number }[];
}

/**
 * The next wave of an adaptive ensemble. Unfinished chunks of open runs are run again (after
 * a crash), and so are the chunks of a stopped run whose output the store no longer has; a
 * run with a chunk that failed in this call gets nothing. New chunks per open
 * run: the estimate of the chunks still needed at the run's yield so far, at least one and at
 * most as many as the run has (so a run at most doubles per wave); with no DCO yet, doubling.
 * Slots left idle go to runs whose estimate wants more, one at a time.
 * @param plan - the plan as it stands
 * @param spec - its rule
 * @param successes - verified successes by task id
 * @param failedHere - chunks that failed for good in this call
 * @param progress - each open run's finished prefix
 * @param slots - chunks that can run at once (default: none beyond the estimate)
 */
export function nextWave(
  plan: Plan,
  spec: AdaptiveSpec,
  successes: ReadonlyMap<string, Fragment>,
  failedHere: ReadonlySet<string>,
  progress: readonly RunProgress[],
  slots = 0,
): Wave {
  const todo: string[] = [];
  const added: Wave["added"] = [];
  const limit = maxChunks(spec);
  const wants: { run: PlanRun; next: number; more: number }[] = [];
  const progressOf = new Map(progress.map((p) => [p.run_id, p]));
  for (const run of plan.runs) {
    if (run.open !== true) {
      // A stopped run whose output was lost since: its chunks run again and are merged again.
      todo.push(...run.task_ids.filter((id) => !successes.has(id) && !failedHere.has(id)));
      continue;
    }
    if (run.task_ids.some((id) => failedHere.has(id))) continue;
    const unfinished = run.task_ids.filter((id) => !successes.has(id));
    todo.push(...unfinished);
    const have = run.task_ids.length;
    const next = have; // chunks are added in order, so the next index is the count so far
    if (next >= limit) continue;
    const p = progressOf.get(run.run_id);
    const room = limit - next;
    // Before any chunk of the run finished there is no estimate: it waits for its first
    // results, and only idle slots give it more.
    const known = p !== undefined && p.systems_done > 0;
    const need = known ? estimatedChunks(spec, p) - unfinished.length : Number.POSITIVE_INFINITY;
    const n = known && (need > 0 || unfinished.length === 0) ? Math.min(room, Math.max(1, Math.min(need, have))) : 0;
    for (let c = next; c < next + n; c++) {
      added.push({ run_id: run.run_id, chunk_index: c });
      todo.push(chunkTaskId(run.run_id, c));
    }
    wants.push({ run, next: next + n, more: Math.min(room - n, Math.max(0, need - n)) });
  }
  // Idle slots: one more chunk at a time to the runs that want the most.
  let idle = slots - todo.length;
  while (idle > 0) {
    const w = wants.filter((x) => x.more > 0).sort((a, b) => b.more - a.more)[0];
    if (w === undefined) break;
    added.push({ run_id: w.run.run_id, chunk_index: w.next });
    todo.push(chunkTaskId(w.run.run_id, w.next));
    w.next++;
    w.more--;
    idle--;
  }
  return { todo, added };
}

// Chunks still needed at the run's yield so far; with no DCO yet, as many as it has (doubling).
function estimatedChunks(spec: AdaptiveSpec, p: RunProgress): number {
  if (p.dcos === 0) return Math.max(1, p.chunks_done);
  const perChunk = (p.dcos / p.systems_done) * spec.chunk;
  return Math.max(1, Math.ceil((spec.target.count - p.dcos) / perChunk));
}

/**
 * Counts target DCOs in chunk files, each file once (by sha256): from the file itself, with
 * the same reader as `inspect`, so there is no second count that could drift.
 */
export class DcoCounter {
  private readonly cache = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly target: AdaptiveTarget,
  ) {}

  /** Target DCOs in the output at `key`. */
  async count(key: string, sha256: string): Promise<number> {
    const known = this.cache.get(sha256);
    if (known !== undefined) return known;
    let n: number;
    const local = this.store instanceof LocalStore ? await this.store.pathForRead(key) : null;
    if (local !== null) {
      n = countTarget(await inspect(local), this.target);
    } else {
      const work = mkdtempSync(join(tmpdir(), "compas-count-"));
      try {
        const path = join(work, "COMPAS_Output.h5");
        await this.store.getFile(key, path);
        n = countTarget(await inspect(path), this.target);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
    this.cache.set(sha256, n);
    return n;
  }
}
