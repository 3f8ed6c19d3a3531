import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import { FragmentCache } from "../../store/fragments.js";
import { FRAGMENTS_PREFIX, parseFragmentKey } from "../../store/keys.js";
import { isCompasEnsembleError } from "../../errors.js";
import type { Fragment } from "../../manifest/schema.js";
import { type Plan } from "../../plan/schema.js";
import type { Store } from "../../store/types.js";
import { isTerminal, type ExecutorEvent, type TaskStatus } from "../types.js";
import { lastLines } from "./_connection.js";
import { pullJobStore, pushFiles } from "./_pull.js";
import { reconcile, type LiveJob, type ReconcileOutput } from "./_reconcile.js";
import type { HostStatus, RemoteHost, RemoteJob } from "./_remote-host.js";

/** Settings of one submission's bookkeeping (from the handle plus options). */
export interface SessionSettings {
  submission: string;
  mode: "s3" | "sftp";
  store: Store;
  plan: Plan;
  taskIds: readonly string[];
  firstAttempt: Readonly<Record<string, number>>;
  retries: number;
  retryBackoffMs: number;
  hostTimeoutMs: number;
  /** Pull attempts before a job's results are given up (local-store mode). */
  maxPullFailures?: number;
}

const WORKER_SUMMARY = /^worker: task \S+ (success|already-done|failed|cancelled)\b/m;

/**
 * The orchestrator's side of one submission while attached: each round asks every host for
 * its jobs, brings finished results home (local-store mode), reads the fragments, decides
 * with {@link reconcile} and carries the decisions out on the hosts. Everything it needs to
 * start over is on the hosts and in the store, so a fresh session (another process, another
 * machine) picks up where the last one stopped.
 */
export class Session {
  readonly hosts: RemoteHost[];
  private readonly attachedAt = Date.now();
  private readonly answered = new Set<string>();
  private readonly taskSet: Set<string>;
  private readonly nSystems = new Map<string, number>();
  private readonly dead = new Map<string, { count: number; reason: string }>();
  private readonly hardFailures = new Map<string, string>();
  private readonly counted = new Set<string>();
  private readonly pullFailures = new Map<string, number>();
  private readonly fragments: FragmentCache;
  private readonly reported = new Set<string>();
  private readonly started = new Set<string>();
  private readonly progress = new Map<string, number>();
  private readonly cancelReported = new Set<string>();
  private readonly timedOutReported = new Set<string>();
  private jobSeq = 0;
  /** Set by cancel: every unfinished task is reported cancelled. */
  cancelled = false;
  /** Where each task was placed by this session (for the handle). */
  readonly placements = new Map<string, string>();

  constructor(
    readonly settings: SessionSettings,
    hosts: RemoteHost[],
    answered: Iterable<string> = [],
  ) {
    this.hosts = hosts;
    for (const name of answered) this.answered.add(name);
    this.taskSet = new Set(settings.taskIds);
    // Only this submission's attempts of its tasks count; a store's hiccup is retried next round.
    this.fragments = new FragmentCache(settings.store, {
      ensembleId: settings.plan.ensemble_id,
      submission: { taskIds: settings.taskIds, firstAttempt: settings.firstAttempt },
      onReadError: "skip",
    });
    for (const t of settings.plan.tasks) this.nSystems.set(t.task_id, t.n_systems);
  }

  /**
   * One round: query, collect, decide, and (with `act`) kill, acknowledge, queue and start.
   * Without `act` only finished results are brought home; nothing is started or stopped.
   * @param act - carry decisions out
   * @param emit - event sink
   */
  async round(act: boolean, emit: (e: ExecutorEvent) => void): Promise<ReconcileOutput> {
    const now = Date.now();
    const answers = await Promise.all(this.hosts.map((h) => this.query(h, emit)));

    const live: LiveJob[] = [];
    const toAck = new Map<string, string[]>();
    const toKill = new Map<string, string[]>();
    const queuedLeft = new Map<string, number>();
    for (const [i, h] of this.hosts.entries()) {
      const status = answers[i];
      if (status) {
        const { keepPulling } = await this.collectEnded(h, status, toAck, toKill, emit);
        for (const j of status.jobs) {
          if (!this.taskSet.has(j.task)) continue;
          if (j.state === "Q" || j.state === "S" || j.state === "R") live.push({ host: h.name, job: j.job, task: j.task, state: j.state, reachable: true, ...(j.progress !== undefined ? { progress: j.progress } : {}) });
        }
        for (const j of keepPulling) live.push({ host: h.name, job: j.job, task: j.task, state: "P", reachable: true });
        queuedLeft.set(h.name, status.jobs.filter((j) => j.state === "Q").length);
        continue;
      }
      const down = now - (h.unreachableSince ?? now);
      if (down < this.settings.hostTimeoutMs && h.lastStatus) {
        for (const j of h.lastStatus.jobs) {
          if (this.taskSet.has(j.task) && (j.state === "Q" || j.state === "S" || j.state === "R")) live.push({ host: h.name, job: j.job, task: j.task, state: j.state, reachable: false });
        }
      } else if (down >= this.settings.hostTimeoutMs && !this.timedOutReported.has(h.name)) {
        this.timedOutReported.add(h.name);
        emit({ type: "log", level: "warn", message: `SSH host ${h.name} has not answered for ${Math.round(down / 1000)} s; its unfinished tasks go to the other hosts.` });
      }
    }

    const fragments = await this.readFragments();
    const unknownJobsPossible = this.hosts.some(
      (h) => !this.answered.has(h.name) && now - Math.min(h.unreachableSince ?? now, this.attachedAt) < this.settings.hostTimeoutMs,
    );
    const decision = reconcile({
      now,
      tasks: this.settings.taskIds.map((id) => ({ taskId: id, nSystems: this.nSystems.get(id) ?? 1, fragments: fragments.get(id) ?? [] })),
      live,
      reachable: this.hosts.filter((h, i) => answers[i] !== undefined).map((h) => ({ name: h.name, slots: h.spec.slots })),
      unknownJobsPossible,
      retries: this.settings.retries,
      retryBackoffMs: this.settings.retryBackoffMs,
      dead: this.dead,
      hardFailures: this.hardFailures,
      cancelled: this.cancelled,
    });
    this.report(decision.statuses, fragments, live, emit);
    if (!act) {
      await Promise.all(this.hosts.map((h) => this.guard(h, emit, () => h.ack(toAck.get(h.name)?.filter((j) => this.pulled.has(j)) ?? []))));
      return decision;
    }

    // Stop first (duplicates, finished tasks, dead workers' orphans, stolen queue entries),
    // then queue: a host never starts a task before its stale copy of it is stopped.
    for (const k of decision.kill) push(toKill, k.host, k.job);
    for (const s of decision.steal) push(toKill, s.host, s.job);
    const stolen = new Set<string>();
    await Promise.all(
      this.hosts.map((h, i) =>
        answers[i] === undefined
          ? undefined
          : this.guard(h, emit, async () => {
              const outcome = await h.kill(toKill.get(h.name) ?? []);
              for (const [job, what] of outcome) if (what === "revoked") stolen.add(job);
              const killedQueued = [...outcome].filter(([, what]) => what === "revoked").length;
              queuedLeft.set(h.name, Math.max(0, (queuedLeft.get(h.name) ?? 0) - killedQueued));
              await h.ack(toAck.get(h.name) ?? []);
            }),
      ),
    );
    const placeOn = new Map<string, string[]>();
    for (const p of decision.place) push(placeOn, p.host, p.task);
    for (const s of decision.steal) if (stolen.has(s.job)) push(placeOn, s.to, s.task);
    await Promise.all(
      this.hosts.map((h, i) =>
        answers[i] === undefined
          ? undefined
          : this.guard(h, emit, async () => {
              const tasks = placeOn.get(h.name) ?? [];
              await this.enqueue(h, tasks);
              const status = answers[i]!;
              const busy = status.jobs.filter((j) => j.state === "S" || j.state === "R").length;
              const queued = (queuedLeft.get(h.name) ?? 0) + tasks.length;
              const want = Math.min(h.spec.slots, queued + busy);
              if (queued > 0 && status.runners < want) await h.startRunners(want - status.runners);
            }),
      ),
    );
    return decision;
  }

  /**
   * Stops every live job of the submission on the hosts that answer.
   * @param emit - event sink
   */
  async cancelAll(emit: (e: ExecutorEvent) => void): Promise<void> {
    this.cancelled = true;
    await Promise.all(
      this.hosts.map(async (h) => {
        const status = await this.query(h, emit);
        if (!status) {
          emit({ type: "log", level: "warn", message: `SSH host ${h.name} does not answer; its jobs keep running until it can be reached (run cancel again).` });
          return;
        }
        const jobs = status.jobs.filter((j) => this.taskSet.has(j.task) && (j.state === "Q" || j.state === "S" || j.state === "R")).map((j) => j.job);
        await this.guard(h, emit, () => h.kill(jobs));
      }),
    );
  }

  /** Closes every connection. */
  close(): void {
    for (const h of this.hosts) h.close();
  }

  private readonly pulled = new Set<string>();

  private async query(h: RemoteHost, emit: (e: ExecutorEvent) => void): Promise<HostStatus | undefined> {
    try {
      const status = await h.status();
      if (h.unreachableSince !== undefined) {
        emit({ type: "log", level: "info", message: `SSH host ${h.name} answers again.` });
      }
      h.unreachableSince = undefined;
      h.lastError = undefined;
      this.answered.add(h.name);
      this.timedOutReported.delete(h.name);
      return status;
    } catch (err) {
      // A refused host key or login is a configuration or security matter, not an outage:
      // treating it as one would move tasks away from hosts that are running them.
      if (!isCompasEnsembleError(err) || err.code === "SSH_HOST_KEY" || err.code === "OPTIONS_INVALID") throw err;
      h.close();
      if (h.unreachableSince === undefined) {
        h.unreachableSince = Date.now();
        emit({ type: "log", level: "warn", message: `SSH host ${h.name} does not answer: ${err.message}` });
      }
      h.lastError = err.message;
      return undefined;
    }
  }

  private async guard(h: RemoteHost, emit: (e: ExecutorEvent) => void, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (!isCompasEnsembleError(err)) throw err;
      h.close();
      h.unreachableSince ??= Date.now();
      emit({ type: "log", level: "warn", message: `SSH host ${h.name}: ${err.message}` });
    }
  }

  // Jobs that ended since the last round: bring results home, count workers that died
  // without a fragment, and mark them for acknowledgement.
  private async collectEnded(
    h: RemoteHost,
    status: HostStatus,
    toAck: Map<string, string[]>,
    toKill: Map<string, string[]>,
    emit: (e: ExecutorEvent) => void,
  ): Promise<{ keepPulling: RemoteJob[] }> {
    const keepPulling: RemoteJob[] = [];
    const ended = status.jobs.filter((j) => this.taskSet.has(j.task) && (j.state === "E" || j.state === "D" || j.state === "X" || j.state === "U"));
    const needTail = ended.filter((j) => j.state === "E" && !j.revoked && j.exit !== 0 && !this.counted.has(j.job));
    const tails = needTail.length ? await h.logTails(needTail.map((j) => j.job)).catch(() => new Map<string, string>()) : new Map<string, string>();
    for (const j of ended) {
      if (j.state === "E" && !j.revoked && this.settings.mode === "sftp" && !this.pulled.has(j.job)) {
        try {
          const conn = await h.connection();
          await pullJobStore(conn, posix.join(h.spec.dir, "jobs", j.job, "store"), this.settings.store, j.task, this.settings.plan.ensemble_id);
          this.pulled.add(j.job);
        } catch (err) {
          const n = (this.pullFailures.get(j.job) ?? 0) + 1;
          this.pullFailures.set(j.job, n);
          emit({ type: "log", level: "warn", message: `Bringing back the results of task ${j.task} from ${h.name} failed (${n}): ${(err as Error).message}` });
          if (n < (this.settings.maxPullFailures ?? 3)) {
            keepPulling.push(j);
            continue;
          }
          this.countDead(j, `its results could not be brought back from ${h.name}: ${(err as Error).message}`);
        }
      }
      if (j.state === "E" && !j.revoked && j.exit !== 0) {
        const tail = tails.get(j.job) ?? "";
        if (j.exit === 2) {
          if (!this.hardFailures.has(j.task)) this.hardFailures.set(j.task, `the worker on ${h.name} refused to run (exit 2): ${lastLines(tail)}`);
        } else if (!WORKER_SUMMARY.test(tail) || (j.exit === 130 && !j.revoked)) {
          this.countDead(j, `the worker on ${h.name} ended with exit code ${j.exit} without recording a result: ${lastLines(tail) || "no output"}`);
        }
      }
      if (j.state === "D") {
        this.countDead(j, `the worker on ${h.name} disappeared (killed, or the host restarted)`);
        push(toKill, h.name, j.job);
      }
      push(toAck, h.name, j.job);
    }
    return { keepPulling };
  }

  private countDead(j: RemoteJob, reason: string): void {
    if (this.counted.has(j.job)) return;
    this.counted.add(j.job);
    const prev = this.dead.get(j.task);
    this.dead.set(j.task, { count: (prev?.count ?? 0) + 1, reason });
  }

  private async readFragments(): Promise<Map<string, Fragment[]>> {
    await this.fragments.refresh();
    return new Map(this.settings.taskIds.map((id) => [id, [...this.fragments.forTask(id)]]));
  }

  private report(statuses: readonly TaskStatus[], fragments: Map<string, Fragment[]>, live: readonly LiveJob[], emit: (e: ExecutorEvent) => void): void {
    const byId = new Map(statuses.map((s) => [s.taskId, s]));
    for (const j of live) {
      if (j.state === "R" && j.reachable && !this.started.has(j.job)) {
        this.started.add(j.job);
        const attempts = (fragments.get(j.task) ?? []).map((f) => f.attempt);
        const attempt = Math.max((this.settings.firstAttempt[j.task] ?? 1) - 1, ...attempts) + 1;
        emit({ type: "task-started", taskId: j.task, attempt, where: j.host });
      }
      const total = this.nSystems.get(j.task);
      // Only forward: the count drops to 0 once the worker has removed its scratch folder.
      if (j.state === "R" && j.progress !== undefined && total !== undefined && j.progress > (this.progress.get(j.task) ?? 0)) {
        this.progress.set(j.task, j.progress);
        emit({ type: "task-progress", taskId: j.task, done: Math.min(j.progress, total), total });
      }
    }
    for (const list of fragments.values()) {
      for (const f of [...list].sort((a, b) => a.attempt - b.attempt)) {
        const key = `${f.task_id}.a${f.attempt}`;
        if (this.reported.has(key)) continue;
        this.reported.add(key);
        const s = byId.get(f.task_id);
        const willRetry = f.status === "failed" && s !== undefined && !isTerminal(s.state);
        emit({ type: "task-finished", taskId: f.task_id, fragment: f, willRetry });
      }
    }
    for (const s of statuses) {
      if (s.state === "cancelled" && !this.cancelReported.has(s.taskId)) {
        this.cancelReported.add(s.taskId);
        emit({ type: "task-cancelled", taskId: s.taskId, attempt: s.attempt ?? this.settings.firstAttempt[s.taskId] ?? 1, reason: s.reason ?? "cancelled" });
      }
    }
  }

  private async enqueue(h: RemoteHost, tasks: readonly string[]): Promise<void> {
    if (tasks.length === 0) return;
    const jobs = tasks.map((task) => ({ job: this.newJobId(), task }));
    if (this.settings.mode === "sftp") {
      await h.prepare(jobs);
      const conn = await h.connection();
      const existing = (await this.settings.store.list(FRAGMENTS_PREFIX)).map((e) => e.key);
      for (const j of jobs) {
        // The job's own store starts with the task's fragments, so the worker numbers its
        // attempt after them, as it would against the real store.
        const keys = existing.filter((k) => parseFragmentKey(k)?.taskId === j.task);
        const files = await Promise.all(keys.map(async (key) => ({ key, content: await this.settings.store.get(key) })));
        await pushFiles(conn, posix.join(h.spec.dir, "jobs", j.job, "store"), files);
      }
    }
    await h.enqueue(jobs);
    for (const j of jobs) this.placements.set(j.task, h.name);
  }

  private newJobId(): string {
    // Creation time first, so ids sort by age (the newest of two queued copies is kept).
    const seq = (this.jobSeq++ % 1296).toString(36).padStart(2, "0");
    return `${Date.now().toString(36)}${seq}-${randomBytes(3).toString("hex")}`;
  }
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
