import type { Fragment } from "../../manifest/schema.js";
import { backoffDelayMs } from "../../util/retry.js";
import type { TaskStatus } from "../types.js";
import { EXECUTOR_DEFAULTS } from "../options.js";

/**
 * A job that holds its task: queued (Q), starting (S), running (R), or ended with results
 * still to bring home (P, local-store mode). P jobs are never killed: that would mark them
 * revoked and their results would be dropped.
 */
export interface LiveJob {
  host: string;
  job: string;
  task: string;
  state: "Q" | "S" | "R" | "P";
  progress?: number;
  /** False for the last known jobs of a host that does not answer now (within its timeout). */
  reachable: boolean;
}

/** A host that answered this round, for placement. */
export interface HostLoad {
  name: string;
  slots: number;
}

/** Everything the decision needs; no I/O. */
export interface ReconcileInput {
  now: number;
  /** The handle's tasks with their fragments of this submission (attempt >= first attempt). */
  tasks: readonly { taskId: string; nSystems: number; fragments: readonly Fragment[] }[];
  live: readonly LiveJob[];
  /** Hosts that answered this round, in the user's order. */
  reachable: readonly HostLoad[];
  /** A host has not answered since attaching and may hold jobs nobody has seen: do not place yet. */
  unknownJobsPossible: boolean;
  retries: number;
  retryBackoffMs: number;
  /** Jobs that died without a fragment, per task. */
  dead: ReadonlyMap<string, { count: number; reason: string }>;
  /** Tasks that must not be retried (a worker usage error), with the reason. */
  hardFailures: ReadonlyMap<string, string>;
  cancelled: boolean;
  /**
   * A running job of a task whose final fragment is younger than this is most likely the
   * worker that wrote it, still exiting; it is left alone until then. Default 15 s.
   */
  exitGraceMs?: number;
}

/** What to do this round. */
export interface ReconcileOutput {
  statuses: TaskStatus[];
  /** Live jobs to stop: duplicates of a task, or jobs of finished tasks. */
  kill: { host: string; job: string }[];
  /** Tasks to queue, and where. */
  place: { task: string; host: string }[];
  /** Queued jobs to take from a busy host and give to an idle one (if the revocation wins). */
  steal: { host: string; job: string; task: string; to: string }[];
  /** Earliest time a task waiting for its retry backoff becomes due. */
  nextRetryAt?: number;
}

const STATE_RANK: Record<LiveJob["state"], number> = { P: 4, R: 3, S: 2, Q: 1 };

/**
 * Decides, from fragments (the truth for results) and the jobs the hosts report, each
 * task's state and what to change: one live job per task at most, none for finished tasks,
 * every unfinished task without a live job placed on the least loaded host, and queued work
 * moved from busy hosts to idle ones.
 * @param input - see {@link ReconcileInput}
 */
export function reconcile(input: ReconcileInput): ReconcileOutput {
  const byTask = new Map<string, LiveJob[]>();
  for (const j of input.live) byTask.set(j.task, [...(byTask.get(j.task) ?? []), j]);
  const statuses: TaskStatus[] = [];
  const kill: ReconcileOutput["kill"] = [];
  const toPlace: string[] = [];
  let nextRetryAt: number | undefined;
  const kept: LiveJob[] = [];

  for (const t of input.tasks) {
    const frs = [...t.fragments].sort((a, b) => a.attempt - b.attempt);
    const latest = frs.at(-1);
    const failures = frs.filter((f) => f.status === "failed").length;
    const dead = input.dead.get(t.taskId);
    const tries = failures + (dead?.count ?? 0);
    const live = [...(byTask.get(t.taskId) ?? [])].sort(rank);
    const keeper = live[0];
    const base = { taskId: t.taskId, ...(latest ? { attempt: latest.attempt } : {}) };
    let status: TaskStatus;
    const hard = input.hardFailures.get(t.taskId);
    if (latest?.status === "success") status = { ...base, state: "succeeded", where: latest.host };
    else if (hard !== undefined) status = { ...base, state: "failed", reason: hard };
    else if (latest?.status === "failed" && !latest.error?.retryable) status = { ...base, state: "failed", reason: latest.error?.message ?? "failed" };
    else if (tries > input.retries) {
      const why = latest?.error?.message ?? dead?.reason ?? "failed";
      status = { ...base, state: "failed", reason: `${why} (gave up after ${tries} attempts)` };
    } else if (input.cancelled) status = { ...base, state: "cancelled", reason: "the submission was cancelled" };
    else if (keeper) {
      const running = keeper.state !== "Q";
      status = {
        ...base,
        state: running ? "running" : "pending",
        where: keeper.host,
        ...(keeper.progress !== undefined ? { progress: { done: Math.min(keeper.progress, t.nSystems), total: t.nSystems } } : {}),
        ...(latest?.status === "failed" ? { reason: `retrying after: ${latest.error?.message ?? "failure"}` } : {}),
      };
    } else {
      status = { ...base, state: "pending", ...(latest?.status === "failed" ? { reason: `retrying after: ${latest.error?.message ?? "failure"}` } : {}) };
      const due = latest?.status === "failed" && !dead ? Date.parse(latest.finished_at) + backoffDelayMs(Math.max(0, failures - 1), { baseDelayMs: input.retryBackoffMs, maxDelayMs: EXECUTOR_DEFAULTS.maxRetryBackoffMs, jitter: "none" }) : input.now;
      if (due <= input.now && !input.unknownJobsPossible) toPlace.push(t.taskId);
      else if (due > input.now) nextRetryAt = Math.min(nextRetryAt ?? Infinity, due);
    }
    statuses.push(status);

    const terminal = status.state === "succeeded" || status.state === "failed" || status.state === "cancelled";
    const exiting = terminal && latest !== undefined && status.state !== "cancelled" && input.now - Date.parse(latest.finished_at) < (input.exitGraceMs ?? 15_000);
    for (const j of live) {
      const stoppable = j.reachable && j.state !== "P" && !(exiting && j.state === "R");
      if (stoppable && (terminal || j !== keeper)) kill.push({ host: j.host, job: j.job });
    }
    if (keeper && !terminal) kept.push(keeper);
  }

  // Placement: the least loaded host (jobs it holds per slot), in the user's order on ties.
  const load = new Map(input.reachable.map((h) => [h.name, { slots: h.slots, busy: 0, queued: [] as LiveJob[], placed: 0 }]));
  for (const j of kept) {
    const l = load.get(j.host);
    if (!l || !j.reachable) continue;
    if (j.state === "Q") l.queued.push(j);
    else if (j.state !== "P") l.busy++;
  }
  const place: ReconcileOutput["place"] = [];
  for (const task of toPlace) {
    let best: string | undefined;
    let bestLoad = Infinity;
    for (const [name, l] of load) {
      const v = (l.busy + l.queued.length + l.placed) / l.slots;
      if (v < bestLoad) {
        bestLoad = v;
        best = name;
      }
    }
    if (best === undefined) break;
    load.get(best)!.placed++;
    place.push({ task, host: best });
  }

  // Balancing: a host with free slots and nothing queued takes queued jobs of a full host.
  const steal: ReconcileOutput["steal"] = [];
  for (const [name, l] of load) {
    let free = l.slots - l.busy - l.queued.length - l.placed;
    while (free > 0) {
      let victim: { queued: LiveJob[]; slots: number; busy: number } | undefined;
      for (const [other, o] of load) {
        if (other === name || o.queued.length === 0 || o.busy < o.slots) continue;
        if (!victim || o.queued.length > victim.queued.length) victim = o;
      }
      if (!victim) break;
      const job = victim.queued.sort((a, b) => (a.job < b.job ? -1 : 1)).pop()!;
      steal.push({ host: job.host, job: job.job, task: job.task, to: name });
      l.placed++;
      free--;
    }
  }

  return { statuses, kill, place, steal, ...(nextRetryAt !== undefined ? { nextRetryAt } : {}) };
}

// Best job first: reachable, then furthest along (ended with results > running > starting >
// queued), then most progress, then the newest (job ids start with their creation time).
function rank(a: LiveJob, b: LiveJob): number {
  if (a.reachable !== b.reachable) return a.reachable ? -1 : 1;
  if (a.state !== b.state) return STATE_RANK[b.state] - STATE_RANK[a.state];
  if ((a.progress ?? 0) !== (b.progress ?? 0)) return (b.progress ?? 0) - (a.progress ?? 0);
  return a.job < b.job ? 1 : a.job > b.job ? -1 : 0;
}
