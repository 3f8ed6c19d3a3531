import type { Fragment, Plan } from "../metadata/schemas.js";
import type { Store } from "../store/types.js";
import { mapLimit } from "./_store-io.js";
import { readMergeRecord, type MergeRecord } from "./merge-runs.js";

/** Tasks whose success is proven by the store, and runs whose chunks are already merged. */
export interface Verified {
  successes: Map<string, Fragment>;
  mergedRuns: Set<string>;
  /** Per task, successful attempts whose output the store contradicts. */
  unverified: Map<string, number[]>;
}

/**
 * Finds the tasks that really are done: a success fragment of this ensemble whose output is
 * in the store with the recorded size and sha256 (for a chunk, either its own file or the
 * merged run file listed in the run's merge record). A fragment alone is not trusted: an
 * output that was deleted or corrupted since sends its task back to be run.
 * @param store - the ensemble's store
 * @param plan - the plan
 * @param fragments - all fragments in the store
 * @param onUnverified - told about each success fragment that the store contradicts
 */
export async function verifiedSuccesses(
  store: Store,
  plan: Plan,
  fragments: readonly Fragment[],
  onUnverified: (taskId: string, reason: string) => void = () => {},
): Promise<Verified> {
  const latest = new Map<string, Fragment>();
  // Successful attempts per task, gathered once: filtering all fragments per contradicted
  // task was quadratic when a whole output folder had gone.
  const successAttempts = new Map<string, number[]>();
  for (const f of fragments) {
    if (f.ensemble_id !== plan.ensemble_id || f.status !== "success") continue;
    const attempts = successAttempts.get(f.task_id);
    if (attempts) attempts.push(f.attempt);
    else successAttempts.set(f.task_id, [f.attempt]);
    if (!f.output) continue;
    const prev = latest.get(f.task_id);
    if (!prev || f.attempt > prev.attempt) latest.set(f.task_id, f);
  }
  const mergedRuns = new Set<string>();
  const records = new Map<string, MergeRecord | null>();
  for (const run of plan.runs) {
    if (run.task_ids.length > 1 && run.task_ids.some((id) => latest.has(id))) {
      const record = await readMergeRecord(store, run.run_id);
      const ok = record !== null && (await matches(store, record.output.key, record.output.sha256, record.output.bytes));
      records.set(run.run_id, ok ? record : null);
      if (ok) mergedRuns.add(run.run_id);
    }
  }
  const successes = new Map<string, Fragment>();
  const unverified = new Map<string, number[]>();
  const tasks = plan.tasks.filter((t) => latest.has(t.task_id));
  await mapLimit(tasks, 8, async (task) => {
    const f = latest.get(task.task_id)!;
    const out = f.output!;
    const record = records.get(task.run_id);
    if (record && record.chunks.some((c) => c.task_id === task.task_id && c.sha256 === out.sha256)) {
      successes.set(task.task_id, { ...f, output: { ...out, key: record.output.key } });
      return;
    }
    if (await matches(store, out.key, out.sha256, out.bytes)) successes.set(task.task_id, f);
    else {
      const attempts = successAttempts.get(task.task_id) ?? [];
      unverified.set(task.task_id, [...new Set(attempts)].sort((a, b) => a - b));
      onUnverified(task.task_id, `its output ${out.key} is missing or differs from the recorded sha256`);
    }
  });
  return { successes, mergedRuns, unverified };
}

async function matches(store: Store, key: string, sha256: string, bytes: number): Promise<boolean> {
  const head = await store.head(key, { checksum: true });
  return head !== null && head.size === bytes && head.sha256 === sha256;
}
