import { CompasEnsembleError } from "../errors.js";
import { canonicalJson, compareStrings } from "../util/canonical-json.js";
import type { Fragment } from "./schema.js";
import type { Plan } from "../plan/schema.js";
import { fragmentKey } from "../store/keys.js";

/** What the fragments of one task say about it. */
export interface TaskOutcome {
  task_id: string;
  status: "success" | "failed";
  /** The fragment that decides the status: the first success, else the latest failure. */
  decisive: Fragment;
  /** Every distinct fragment of the task, by attempt. */
  attempts: Fragment[];
}

/** Fragments that belong to a plan, and how many were left out. */
export interface RelevantFragments {
  fragments: Fragment[];
  /** Fragments of another ensemble or of tasks the plan does not have. */
  ignored: number;
}

/**
 * Drops exact duplicates (so merging a set twice equals merging it once) and, with a plan,
 * keeps only this ensemble's fragments of tasks the plan has: after a forced re-plan, old
 * fragments describe other work and must neither count as done nor conflict.
 * @param fragments - any fragments, in any order
 * @param plan - the plan, if known
 */
export function relevantFragments(fragments: readonly Fragment[], plan?: Plan): RelevantFragments {
  const unique = withoutSuperseded(dedupe(fragments));
  if (plan === undefined) return { fragments: unique, ignored: 0 };
  const runOfTask = new Map(plan.tasks.map((t) => [t.task_id, t.run_id]));
  const kept: Fragment[] = [];
  for (const f of unique) {
    const runId = runOfTask.get(f.task_id);
    if (f.ensemble_id !== plan.ensemble_id || runId === undefined) continue;
    if (f.run_id !== runId) {
      throw new CompasEnsembleError(
        "METADATA_INVALID",
        `Fragment ${fragmentLabel(f)} says task ${f.task_id} belongs to run ${f.run_id}, but the plan puts it in run ${runId}.`,
        { hint: "The fragment was edited or written by another tool; remove it and run the task again." },
      );
    }
    kept.push(f);
  }
  return { fragments: kept, ignored: unique.length - kept.length };
}

// A rerun of a task whose output was lost names the attempts it replaces; those no longer
// describe what is in the store, so they leave the merge (but stay on disk as history).
function withoutSuperseded(fragments: Fragment[]): Fragment[] {
  const replaced = new Set<string>();
  for (const f of fragments) for (const a of f.supersedes ?? []) replaced.add(`${f.ensemble_id}\u0000${f.task_id}\u0000${a}`);
  if (replaced.size === 0) return fragments;
  return fragments.filter((f) => !replaced.has(`${f.ensemble_id}\u0000${f.task_id}\u0000${f.attempt}`));
}

// Canonical JSON is the identity of a fragment, but it is costly on large ensembles, so it
// is computed only among fragments that share a task and attempt.
function dedupe(fragments: readonly Fragment[]): Fragment[] {
  const bySlot = new Map<string, Fragment[]>();
  for (const f of fragments) {
    const slot = `${f.task_id}\u0000${f.attempt}`;
    const list = bySlot.get(slot);
    if (list === undefined) bySlot.set(slot, [f]);
    else if (!list.includes(f)) list.push(f);
  }
  const out: Fragment[] = [];
  for (const list of bySlot.values()) {
    if (list.length === 1) {
      out.push(list[0] as Fragment);
      continue;
    }
    const seen = new Set<string>();
    for (const f of list) {
      const key = canonicalJson(f);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(f);
      }
    }
  }
  return out;
}

/**
 * Decides each task's status from its fragments: success beats failure whatever the order;
 * two successes must agree on provenance, otherwise METADATA_CONFLICT names both fragments.
 * @param fragments - deduplicated fragments (see {@link relevantFragments})
 */
export function outcomesByTask(fragments: readonly Fragment[]): Map<string, TaskOutcome> {
  const groups = new Map<string, Fragment[]>();
  for (const f of fragments) {
    const list = groups.get(f.task_id);
    if (list === undefined) groups.set(f.task_id, [f]);
    else list.push(f);
  }
  const out = new Map<string, TaskOutcome>();
  for (const taskId of [...groups.keys()].sort(compareStrings)) {
    const attempts = (groups.get(taskId) ?? []).sort(
      (a, b) =>
        a.attempt - b.attempt ||
        compareStrings(a.finished_at, b.finished_at) ||
        compareStrings(canonicalJson(a), canonicalJson(b)),
    );
    const successes = attempts.filter((f) => f.status === "success");
    const first = successes[0];
    if (first !== undefined) {
      for (const other of successes.slice(1)) {
        const diff = provenanceDifference(first, other);
        if (diff !== null) throw conflict(first, other, diff);
      }
      out.set(taskId, { task_id: taskId, status: "success", decisive: first, attempts });
    } else {
      const last = attempts[attempts.length - 1] as Fragment;
      out.set(taskId, { task_id: taskId, status: "failed", decisive: last, attempts });
    }
  }
  return out;
}

/**
 * `CODE: message` of a failed fragment, the form the manifest's `error` field takes.
 * @param f - a failed fragment
 */
export function errorText(f: Fragment): string {
  return f.error === null ? "TASK_FAILED: the attempt failed without recording an error" : `${f.error.code}: ${f.error.message}`;
}

/**
 * How a fragment is named in messages: its file under the ensemble directory.
 * @param f - a fragment
 */
export function fragmentLabel(f: Fragment): string {
  return fragmentKey(f.task_id, f.attempt);
}

function provenanceDifference(a: Fragment, b: Fragment): string | null {
  if (a.output?.sha256 !== b.output?.sha256) return "output sha256";
  if (a.seed !== b.seed) return "seed";
  if (canonicalJson(comparableArgv(a.argv)) !== canonicalJson(comparableArgv(b.argv))) return "COMPAS arguments";
  // The path may differ between hosts; the build is what matters for the output.
  if (a.compas.sha256 !== b.compas.sha256) return "COMPAS binary sha256";
  if (a.compas.version !== b.compas.version) return "COMPAS version";
  return null;
}

const SCRATCH_FLAGS = new Set(["--output-path", "--output-container"]);

// Each attempt runs in its own scratch folder and the binary may live elsewhere on another
// host, so those parts of argv say nothing about what was computed.
function comparableArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (i === 0 && !a.startsWith("-")) continue;
    if (SCRATCH_FLAGS.has(a)) {
      i++;
      continue;
    }
    if ([...SCRATCH_FLAGS].some((flag) => a.startsWith(`${flag}=`))) continue;
    out.push(a);
  }
  return out;
}

function conflict(a: Fragment, b: Fragment, what: string): CompasEnsembleError {
  const la = fragmentLabel(a);
  const lb = fragmentLabel(b);
  const names = la === lb ? `two different copies of ${la}` : `${la} and ${lb}`;
  return new CompasEnsembleError(
    "METADATA_CONFLICT",
    `Task ${a.task_id} of run ${a.run_id} has two successful attempts with different ${what}: ${names}.`,
    { hint: "Keep the fragment whose output is the one in the store, move the other out of fragments/, and merge again." },
  );
}
