import { outcomesByTask, relevantFragments } from "./outcomes.js";
import type { Fragment } from "./schema.js";
import type { Plan } from "../plan/schema.js";

/** Which of a plan's tasks are finished and which still need running. */
export interface ResumePlan {
  /** Task ids with a success fragment of this ensemble, in plan order. */
  done: string[];
  /** Every other task id (failed or never run), in plan order. */
  todo: string[];
}

/**
 * Splits a plan's tasks into done and todo from the fragments found in its directory.
 * Only fragments of this ensemble count. Whether a done task's output really is in the store
 * is the caller's to check; a task whose output is missing goes back to todo there.
 * @param plan - the ensemble's plan
 * @param fragments - fragments read from the ensemble directory
 * @throws CompasEnsembleError METADATA_CONFLICT when two successes of a task disagree
 */
export function planResume(plan: Plan, fragments: readonly Fragment[]): ResumePlan {
  const outcomes = outcomesByTask(relevantFragments(fragments, plan).fragments);
  const done: string[] = [];
  const todo: string[] = [];
  for (const task of plan.tasks) {
    if (outcomes.get(task.task_id)?.status === "success") done.push(task.task_id);
    else todo.push(task.task_id);
  }
  return { done, todo };
}

/**
 * The attempt number the next run of a task must use: one more than any attempt recorded
 * for that task id, whatever ensemble wrote it, so that no fragment file is ever reused.
 * @param taskId - the task
 * @param fragments - fragments read from the ensemble directory
 */
export function nextAttempt(taskId: string, fragments: readonly Fragment[]): number {
  return nextAttempts([taskId], fragments)[taskId]!;
}

/**
 * {@link nextAttempt} of many tasks in one pass over the fragments (one pass per task was
 * quadratic when resuming a large ensemble).
 * @param taskIds - the tasks
 * @param fragments - fragments read from the ensemble directory
 */
export function nextAttempts(taskIds: readonly string[], fragments: readonly Fragment[]): Record<string, number> {
  const max = new Map<string, number>();
  for (const f of fragments) if (f.attempt > (max.get(f.task_id) ?? 0)) max.set(f.task_id, f.attempt);
  return Object.fromEntries(taskIds.map((id) => [id, (max.get(id) ?? 0) + 1]));
}
