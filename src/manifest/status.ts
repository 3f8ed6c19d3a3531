import { CompasEnsembleError } from "../errors.js";
import { errorText, outcomesByTask, relevantFragments } from "./outcomes.js";
import type { Fragment } from "./schema.js";
import type { Plan } from "../plan/schema.js";

/** One task that failed and has no success. */
export interface TaskFailure {
  task_id: string;
  run_id: string;
  /** `CODE: message` of the latest failed attempt. */
  reason: string;
  /** How many attempts were recorded. */
  attempts: number;
}

/** A task recorded as succeeded whose output the store contradicts (missing, other size or sha256). */
export interface InvalidOutput {
  task_id: string;
  run_id: string;
  /** What is wrong, naming the file. */
  reason: string;
}

/** Progress of an ensemble as its fragments tell it (tasks, not runs). */
export interface StatusSummary {
  total: number;
  succeeded: number;
  failed: number;
  /** Tasks with no fragment yet. */
  pending: number;
  /** Fragments cannot see running tasks; executors that can fill this in. */
  running: number;
  failures: TaskFailure[];
  /** Tasks recorded as succeeded whose output is missing or differs from its record; not counted as succeeded (a resume reruns them). */
  invalidOutputs: InvalidOutput[];
  /** Systems evolved by succeeded tasks. */
  systemsDone: number;
  systemsTotal: number;
  /** Mean duration of succeeded tasks, or null before the first success. */
  meanTaskSeconds: number | null;
}

/**
 * Summarises progress for `compas-ensemble status <dir>`.
 * @param plan - the ensemble's plan
 * @param fragments - fragments read from the ensemble directory
 * @param invalid - per task id, why its recorded output does not check out (see verifiedSuccesses)
 */
export function summarizeStatus(
  plan: Plan,
  fragments: readonly Fragment[],
  invalid: ReadonlyMap<string, string> = new Map(),
): StatusSummary {
  const outcomes = outcomesByTask(relevantFragments(fragments, plan).fragments);
  let succeeded = 0;
  let systemsDone = 0;
  let seconds = 0;
  const failures: TaskFailure[] = [];
  const invalidOutputs: InvalidOutput[] = [];
  for (const task of plan.tasks) {
    const o = outcomes.get(task.task_id);
    if (o === undefined) continue;
    const reason = invalid.get(task.task_id);
    if (o.status === "success" && reason !== undefined) {
      invalidOutputs.push({ task_id: task.task_id, run_id: task.run_id, reason });
    } else if (o.status === "success") {
      succeeded++;
      systemsDone += o.decisive.n_systems;
      seconds += o.decisive.duration_s;
    } else {
      failures.push({ task_id: task.task_id, run_id: task.run_id, reason: errorText(o.decisive), attempts: o.attempts.length });
    }
  }
  const total = plan.tasks.length;
  return {
    total,
    succeeded,
    failed: failures.length,
    pending: total - succeeded - failures.length - invalidOutputs.length,
    running: 0,
    failures,
    invalidOutputs,
    systemsDone,
    systemsTotal: plan.tasks.reduce((sum, t) => sum + t.n_systems, 0),
    meanTaskSeconds: succeeded === 0 ? null : seconds / succeeded,
  };
}

/**
 * Rough time left: the unfinished tasks (pending and failed, which a resume retries) at the
 * mean task duration, run `concurrency` at a time.
 * @param summary - from {@link summarizeStatus}
 * @param concurrency - tasks running at once (at least 1)
 * @returns seconds, 0 when nothing is left, or null before any task has succeeded
 */
export function estimateRemainingSeconds(summary: StatusSummary, concurrency: number): number | null {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `Concurrency ${concurrency} is not a positive integer.`);
  }
  const remaining = summary.total - summary.succeeded;
  if (remaining <= 0) return 0;
  if (summary.meanTaskSeconds === null) return null;
  return Math.ceil(remaining / concurrency) * summary.meanTaskSeconds;
}
