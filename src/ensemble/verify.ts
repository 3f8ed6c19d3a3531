import type { Fragment } from "../manifest/schema.js";
import type { Plan } from "../plan/schema.js";
import type { Store } from "../store/types.js";
import { mapLimit } from "../util/map-limit.js";
import { readMergeRecord, type MergeRecord } from "../store/ensemble-files.js";

/**
 * How closely an output is compared with its record: `size` only (cheap, for status);
 * `sha256` too, trusting a local checksum cached for an unchanged file (resume); or `rehash`,
 * computing the sha256 of local files again (explicit verification, which must also catch a
 * file changed in place without a new modification time).
 */
export type OutputCheck = "size" | "sha256" | "rehash";

/** Options of {@link verifiedSuccesses}. */
export interface VerifyOptions {
  /** Default `sha256`. */
  check?: OutputCheck;
}

/** Tasks whose success is proven by the store, and runs whose chunks are already merged. */
export interface Verified {
  successes: Map<string, Fragment>;
  mergedRuns: Set<string>;
  /** Per task, successful attempts whose output the store contradicts. */
  unverified: Map<string, number[]>;
  /** Per task in `unverified`, what is wrong with its output (one clause, naming the file). */
  reasons: Map<string, string>;
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
 * @param options - how closely outputs are checked (default size and sha256)
 */
export async function verifiedSuccesses(
  store: Store,
  plan: Plan,
  fragments: readonly Fragment[],
  onUnverified: (taskId: string, reason: string) => void = () => {},
  options: VerifyOptions = {},
): Promise<Verified> {
  const check = options.check ?? "sha256";
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
  // Why a run's merged output was rejected; its chunks' own files are gone after a merge,
  // so this, not "chunk missing", is what explains their rerun.
  const mergeProblems = new Map<string, string>();
  for (const run of plan.runs) {
    if (run.task_ids.length > 1 && run.task_ids.some((id) => latest.has(id))) {
      const record = await readMergeRecord(store, run.run_id);
      const problem = record === null ? null : await outputProblem(store, record.output, check);
      records.set(run.run_id, record !== null && problem === null ? record : null);
      if (record !== null && problem === null) mergedRuns.add(run.run_id);
      if (problem !== null) mergeProblems.set(run.run_id, `its merged output ${problem}`);
    }
  }
  const successes = new Map<string, Fragment>();
  const unverified = new Map<string, number[]>();
  const reasons = new Map<string, string>();
  const tasks = plan.tasks.filter((t) => latest.has(t.task_id));
  await mapLimit(tasks, 8, async (task) => {
    const f = latest.get(task.task_id)!;
    const out = f.output!;
    const record = records.get(task.run_id);
    if (record && record.chunks.some((c) => c.task_id === task.task_id && c.sha256 === out.sha256)) {
      successes.set(task.task_id, { ...f, output: { ...out, key: record.output.key } });
      return;
    }
    const problem = await outputProblem(store, out, check);
    if (problem === null) successes.set(task.task_id, f);
    else {
      const attempts = successAttempts.get(task.task_id) ?? [];
      unverified.set(task.task_id, [...new Set(attempts)].sort((a, b) => a - b));
      const reason = mergeProblems.get(task.run_id) ?? `its output ${problem}`;
      reasons.set(task.task_id, reason);
      onUnverified(task.task_id, reason);
    }
  });
  return { successes, mergedRuns, unverified, reasons };
}

/** What is wrong with a stored output compared with its record, or null when it matches. */
async function outputProblem(
  store: Store,
  recorded: { key: string; bytes: number; sha256: string },
  check: OutputCheck,
): Promise<string | null> {
  const head = await store.head(recorded.key, check === "size" ? {} : { checksum: true, fresh: check === "rehash" });
  if (head === null) return `${recorded.key} is missing`;
  if (head.size !== recorded.bytes) return `${recorded.key} has ${head.size} bytes where ${recorded.bytes} were recorded`;
  if (check !== "size" && head.sha256 !== recorded.sha256) {
    return `${recorded.key} has sha256 ${short(head.sha256)} where ${short(recorded.sha256)} was recorded`;
  }
  return null;
}

function short(sha256: string | undefined): string {
  return sha256 === undefined ? "(unknown)" : `${sha256.slice(0, 12)}...`;
}
