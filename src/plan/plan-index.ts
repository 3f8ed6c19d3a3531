import type { Plan, PlanRun, Task } from "./schema.js";

/** A plan's runs and tasks by id. */
export interface PlanIndex {
  runs: ReadonlyMap<string, PlanRun>;
  tasks: ReadonlyMap<string, Task>;
}

// Plans are not changed once built or read, so one index per plan object serves every
// lookup; searching the arrays per task made a plan of 10^5 tasks cost 10^10 steps.
const indexes = new WeakMap<Plan, PlanIndex>();

/**
 * The runs and tasks of a plan by id, built once per plan object.
 * @param plan - a plan (not changed after this call)
 */
export function planIndex(plan: Plan): PlanIndex {
  let index = indexes.get(plan);
  if (index === undefined) {
    index = {
      runs: new Map(plan.runs.map((r) => [r.run_id, r])),
      tasks: new Map(plan.tasks.map((t) => [t.task_id, t])),
    };
    indexes.set(plan, index);
  }
  return index;
}
