import { hostname } from "node:os";
import { readIndexList, requirePlan } from "../store/ensemble-files.js";
import { indexListKey } from "../store/keys.js";
import { readFragments } from "../store/fragments.js";
import { verifiedSuccesses } from "../ensemble/verify.js";
import { CompasEnsembleError } from "../errors.js";
import { planIndex } from "../plan/plan-index.js";
import { nextAttempt } from "../manifest/resume.js";
import type { Plan, Task } from "../plan/schema.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/types.js";
import { defaultScratchRoot, runTask, type RunTaskResult } from "./task.js";

/** Exit codes of `compas-ensemble worker`, so schedulers can tell outcomes apart. */
export const WORKER_EXIT = {
  success: 0,
  alreadyDone: 0,
  failed: 1,
  usage: 2,
  /** Retryable failure (killed from outside, timeout, I/O; the rule is in worker.ts): Batch/Slurm may run it again. */
  retryable: 75,
  cancelled: 130,
} as const;

/** Options of {@link runWorker}. */
export interface RunWorkerOptions {
  /** The ensemble: a directory or s3://bucket/prefix holding plan.json. */
  plan: string | Store;
  /** Task id to run; or give `index`. */
  taskId?: string;
  /** Array index; mapped through the index list, or the plan's task order without one. */
  index?: number;
  /** Name of the index list stored with the plan (`executor/index-lists/<name>.json`). */
  indexList?: string;
  /** COMPAS binary on this machine; default the plan's path. */
  binary?: string;
  scratchRoot?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called for each binary COMPAS reports finished. */
  onProgress?: (done: number, total: number) => void;
}

/** What {@link runWorker} did. */
export interface RunWorkerResult {
  taskId: string;
  outcome: "success" | "failed" | "cancelled" | "already-done";
  exitCode: number;
  result?: RunTaskResult;
}

/**
 * The worker entry point used on every executor: finds the task, skips it when a verified
 * success exists (idempotent), runs it with the same code as the local executor, and returns
 * the exit code that says what happened.
 * @param options - plan location and task selection
 */
export async function runWorker(options: RunWorkerOptions): Promise<RunWorkerResult> {
  const store = typeof options.plan === "string" ? openStore(options.plan) : options.plan;
  const plan = await requirePlan(store, { hint: "--plan must name the output of `compas-ensemble run` (a directory or s3://bucket/prefix)." });
  const task = await selectTask(store, plan, options);
  const { fragments } = await readFragments(store);
  const own = fragments.filter((f) => f.task_id === task.task_id);
  const verified = await verifiedSuccesses(store, plan, own);
  if (verified.successes.has(task.task_id)) {
    return { taskId: task.task_id, outcome: "already-done", exitCode: WORKER_EXIT.alreadyDone };
  }
  const result = await runTask({
    plan,
    task,
    store,
    attempt: nextAttempt(task.task_id, fragments),
    supersedes: verified.unverified.get(task.task_id),
    scratchRoot: options.scratchRoot ?? defaultScratchRoot(plan.ensemble_id),
    binary: options.binary,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    onProgress: options.onProgress,
    host: hostname(),
  });
  if (result.status === "cancelled") return { taskId: task.task_id, outcome: "cancelled", exitCode: WORKER_EXIT.cancelled, result };
  if (result.status === "success") return { taskId: task.task_id, outcome: "success", exitCode: WORKER_EXIT.success, result };
  const retryable = result.fragment.error?.retryable ?? false;
  return { taskId: task.task_id, outcome: "failed", exitCode: retryable ? WORKER_EXIT.retryable : WORKER_EXIT.failed, result };
}

async function selectTask(store: Store, plan: Plan, options: RunWorkerOptions): Promise<Task> {
  if (options.taskId !== undefined) {
    const task = planIndex(plan).tasks.get(options.taskId);
    if (!task) throw new CompasEnsembleError("OPTIONS_INVALID", `--task ${options.taskId} is not a task of the plan in ${store.uri}.`);
    return task;
  }
  if (options.index === undefined) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      "The worker needs --task <id> or --index <n> (or AWS_BATCH_JOB_ARRAY_INDEX / SLURM_ARRAY_TASK_ID in the environment).",
    );
  }
  let ids = plan.tasks.map((t) => t.task_id);
  if (options.indexList) {
    const list = await readIndexList(store, options.indexList);
    if (list === null) {
      const key = indexListKey(options.indexList);
      throw new CompasEnsembleError("METADATA_INVALID", `Index list ${store.uri}/${key} does not exist.`, { key });
    }
    ids = list;
  }
  const id = ids[options.index];
  if (id === undefined) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `Array index ${options.index} is outside the ${ids.length} tasks of the index list.`);
  }
  return selectTask(store, plan, { ...options, taskId: id });
}
