import type { TaskOutcome } from "./outcomes.js";
import type { PlanRun } from "../plan/schema.js";

/** Where a run (grid point) stands, from its tasks. */
export type RunProgressState = "succeeded" | "failed" | "running" | "queued";

/**
 * A run's state from its tasks: running while any task runs (a retry of a failed task
 * included), succeeded when every task succeeded, failed when a task failed for good, else
 * queued (nothing started, or some chunks done and the rest waiting).
 * @param run - the run of the plan
 * @param outcomes - task outcomes from the fragments
 * @param running - ids of tasks known to be running
 */
export function runProgressState(run: PlanRun, outcomes: ReadonlyMap<string, TaskOutcome>, running: ReadonlySet<string>): RunProgressState {
  if (run.task_ids.some((id) => running.has(id))) return "running";
  const states = run.task_ids.map((id) => outcomes.get(id)?.status);
  if (states.every((s) => s === "success")) return "succeeded";
  if (states.some((s) => s === "failed")) return "failed";
  return "queued";
}
