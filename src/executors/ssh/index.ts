import { randomUUID } from "node:crypto";
import { abortableDelay } from "../../util/delay.js";
import { posix } from "node:path";
import { z } from "zod";
import { jsonText, readPlan } from "../../store/ensemble-files.js";
import { HANDLE_KEY, PLAN_KEY } from "../../store/keys.js";
import { CompasEnsembleError, isCompasEnsembleError } from "../../errors.js";
import type { S3StoreOptions } from "../../store/s3-client.js";
import { LocalStore } from "../../store/local.js";
import { openStore } from "../../store/open.js";
import { S3Store } from "../../store/s3.js";
import type { Store } from "../../store/types.js";
import { isTerminal, type Executor, type ExecutorEvent, type ExecutorHandle, type SubmitContext, type TaskStatus, type WaitOptions } from "../types.js";
import { SshConnection, defaultKnownHostsFile, loadKnownHosts, type ConnectionSettings } from "./_connection.js";
import { RemoteHost, type HostRecord } from "./_remote-host.js";
import { CTL_SCRIPT, checkRemoteEnv, checkSafeId, workerScript } from "./_remote-scripts.js";
import { hostRemoteDir } from "./_install-layout.js";
import { Session } from "./_session.js";
import { parseHosts, type SshHost, type SshHostInput } from "./hosts.js";
import { assertPreflightOk, formatPreflight, preflightConnection, unreachableReport, type HostPreflight } from "./preflight.js";
import { describeZodError } from "../../util/zod-error.js";
import { checkExecutorOptions, definedEnv, EXECUTOR_DEFAULTS, type ExecutorOptions, timeoutSeconds } from "../options.js";

export { shellQuote, quoteArg } from "../../util/shell-quote.js";
export { parseHosts, loadHostsFile, SshHostSchema, type SshHost, type SshHostInput } from "./hosts.js";
export { preflightHosts, formatPreflight, type HostPreflight, type PreflightCheck } from "./preflight.js";
export { parseKnownHosts, verifyHostKey, fingerprint, type KnownHostEntry, type HostKeyVerdict } from "./known-hosts.js";

/**
 * Options of the SSH executor; only `hosts` is needed to submit, nothing to re-attach. The
 * shared ones (compasBinary, taskTimeoutMs, pollIntervalMs, env, retries) mean what they mean
 * for every executor; `env` is set on the hosts for remote commands and workers (e.g. PATH,
 * AWS_REGION, S3_ENDPOINT), and names that look like secrets are refused.
 */
export interface SshExecutorOptions extends ConnectionSettings, ExecutorOptions {
  /** Hosts to run on (objects or `user@host:port` strings). On re-attach, an entry's identityFile and hostKey override those of the handle's host of the same name. */
  hosts?: readonly (SshHostInput | string)[];
  /** The store, when re-attaching in a process that did not submit; default: opened from the handle's URI. */
  store?: Store;
  /** S3 options (endpoint, region) for opening the handle's store. */
  storeOptions?: S3StoreOptions;
  /** How the hosts start `compas-ensemble`, as argv. Default `["compas-ensemble"]`. */
  workerCommand?: readonly string[];
  /**
   * The remote `compas-ensemble` command as argv.
   * @deprecated Use `workerCommand`; kept for one release.
   */
  remoteCommand?: readonly string[];
  /** Remote node, for the preflight check. Default `node`. */
  remoteNode?: string;
  /** Folder on each host holding `<ensemble id>/` (queue, scripts, scratch); relative paths are under the remote home. Default `.compas-ensemble`. */
  remoteDir?: string;
  /**
   * Non-secret environment for remote commands and workers.
   * @deprecated Use `env`; kept for one release.
   */
  remoteEnv?: Readonly<Record<string, string>>;
  /** Wait before the first retry of a failed task, doubled each time (max 60 s). Default 2000 ms. */
  retryBackoffMs?: number;
  /**
   * How often an attached orchestrator looks at the hosts and the store.
   * @deprecated Use `pollIntervalMs`; kept for one release.
   */
  pollMs?: number;
  /** A host unreachable this long loses its unfinished tasks to the other hosts. Default 120 s. */
  hostTimeoutMs?: number;
  /** Refuse to start unless every host passes preflight. Default true; false runs on the hosts that pass. */
  requireAllHosts?: boolean;
  /** Stop the remote jobs when the wait's signal aborts. Default false: aborting only detaches. */
  cancelOnAbort?: boolean;
  /** Called with each host's preflight report as it completes submission checks. */
  onPreflight?: (reports: readonly HostPreflight[]) => void;
}

const HostRecordSchema = z.looseObject({
  name: z.string(),
  host: z.string(),
  port: z.number().int(),
  user: z.string(),
  slots: z.number().int().min(1),
  dir: z.string(),
  identityFile: z.string().optional(),
  hostKey: z.string().optional(),
  compasBinary: z.string().optional(),
  remoteDir: z.string().optional(),
});

/** What an SSH handle's `data` holds: where everything is, never a secret. */
export const SshHandleDataSchema = z.looseObject({
  version: z.literal(1),
  submission: z.string(),
  store: z.string(),
  mode: z.enum(["s3", "sftp"]),
  hosts: z.array(HostRecordSchema).min(1),
  remote_command: z.array(z.string()),
  remote_env: z.record(z.string(), z.string()),
  first_attempt: z.record(z.string(), z.number().int().min(1)),
  retries: z.number().int().min(0),
  retry_backoff_ms: z.number().min(0),
  host_timeout_ms: z.number().min(0),
  task_timeout_s: z.number().int().min(1).optional(),
  /** Task id -> host name where submit queued it (later moves are on the hosts). */
  placement: z.record(z.string(), z.string()),
});
/** Parsed `data` of an SSH handle. */
export type SshHandleData = z.infer<typeof SshHandleDataSchema>;

/**
 * Runs tasks on SSH hosts (EC2 or any Linux machine with Node >= 20, compas-ensemble and
 * COMPAS): each host gets a queue and detached runner loops (setsid/nohup) that start
 * `compas-ensemble worker --task <id>` for each queued job, so the ensemble goes on when the
 * orchestrator disconnects. An attached orchestrator watches hosts and the store, moves
 * the tasks of a host that stays unreachable to the others, balances queues, retries lost
 * workers, and (with a local-directory store) brings outputs home over SFTP. Results go
 * through fragments in the store, as with every executor.
 */
export class SshExecutor implements Executor {
  readonly kind = "ssh";
  readonly detached = true;
  private readonly sessions = new Map<string, Session>();
  private knownHostsCache: ReturnType<typeof loadKnownHosts> | undefined;

  /** @param options - see {@link SshExecutorOptions} */
  constructor(options: SshExecutorOptions = {}) {
    // The names of the previous release map onto the shared ones.
    const env = options.env ?? options.remoteEnv;
    this.options = {
      ...options,
      ...(env !== undefined ? { env } : {}),
      ...((options.pollIntervalMs ?? options.pollMs) !== undefined ? { pollIntervalMs: options.pollIntervalMs ?? options.pollMs } : {}),
      ...((options.workerCommand ?? options.remoteCommand) !== undefined ? { workerCommand: options.workerCommand ?? options.remoteCommand } : {}),
    };
    checkExecutorOptions("SSH", this.options);
    if (this.options.env) checkRemoteEnv(definedEnv(this.options.env));
    if (this.options.workerCommand && this.options.workerCommand.length === 0) {
      throw new CompasEnsembleError("OPTIONS_INVALID", "workerCommand is empty; give the remote compas-ensemble command as argv.");
    }
  }

  private readonly options: SshExecutorOptions;

  /**
   * Checks every host (preflight, reported host by host as log events and to onPreflight),
   * sets up the ensemble's folder on each, queues the tasks on the hosts by their slots and
   * starts the runners. Jobs still running there from an earlier submission of the same
   * ensemble are adopted (or stopped if their task is not part of this one).
   */
  async submit(context: SubmitContext, taskIds: readonly string[]): Promise<ExecutorHandle> {
    const { plan, store } = context;
    const emit = (e: ExecutorEvent): void => context.onEvent?.(e);
    checkSafeId(plan.ensemble_id, "Ensemble id");
    const inPlan = new Set(plan.tasks.map((t) => t.task_id));
    for (const id of taskIds) {
      if (!inPlan.has(id)) throw new CompasEnsembleError("PLAN_MISMATCH", `Task ${id} is not in the plan of ensemble ${plan.ensemble_id}.`);
      checkSafeId(id, "Task id");
    }
    const mode = storeMode(store);
    if (!this.options.hosts) throw new CompasEnsembleError("OPTIONS_INVALID", "The SSH executor needs hosts to submit to; give a hosts file (--hosts) or a host list.");
    const hosts = parseHosts(this.options.hosts);
    const remoteEnv = definedEnv(this.options.env);
    const taskTimeoutS = this.options.taskTimeoutMs !== undefined ? timeoutSeconds(this.options.taskTimeoutMs) : undefined;

    const settings = this.connectionSettings();
    const knownHosts = this.knownHosts();
    const checked = await Promise.all(
      hosts.map(async (host) => {
        const started = Date.now();
        let conn: SshConnection;
        try {
          conn = await SshConnection.open(host, settings, knownHosts);
        } catch (err) {
          if (!isCompasEnsembleError(err)) throw err;
          return { host, report: unreachableReport(host, err) };
        }
        const report = await preflightConnection(
          conn,
          { plan, remoteCommand: this.options.workerCommand, remoteNode: this.options.remoteNode, compasBinary: this.options.compasBinary, remoteEnv, remoteDir: this.options.remoteDir },
          Date.now() - started,
        );
        return { host, report, conn };
      }),
    );
    const reports = checked.map((c) => c.report);
    this.options.onPreflight?.(reports);
    for (const line of formatPreflight(reports).split("\n")) emit({ type: "log", level: line.includes(": FAILED:") ? "warn" : "info", message: `preflight ${line}` });
    const passed = checked.filter((c) => c.report.ok && c.conn);
    const closeAll = (): void => checked.forEach((c) => c.conn?.close());
    if (passed.length === 0 || (passed.length < checked.length && this.options.requireAllHosts !== false)) {
      closeAll();
      assertPreflightOk(reports);
    }
    for (const c of checked) if (!c.report.ok) c.conn?.close();

    const remoteHosts = passed.map((c) => {
      const record: HostRecord = {
        ...c.host,
        slots: c.report.slots ?? 1,
        dir: posix.join(hostRemoteDir(c.host, this.options.remoteDir), plan.ensemble_id),
      };
      const rh = new RemoteHost(record, settings, knownHosts);
      rh.adopt(c.conn!);
      return rh;
    });
    // Workers run what preflight checked: the configured command and binary, or what
    // `hosts setup` installed for this plan.
    const checkedWith = new Map(passed.map((c) => [c.host.name, c.report]));

    const submission = randomUUID();
    const session = new Session(
      {
        submission,
        mode,
        store,
        plan,
        taskIds,
        firstAttempt: context.firstAttempt,
        retries: this.options.retries ?? EXECUTOR_DEFAULTS.retries,
        retryBackoffMs: this.options.retryBackoffMs ?? EXECUTOR_DEFAULTS.retryBackoffMs,
        hostTimeoutMs: this.options.hostTimeoutMs ?? EXECUTOR_DEFAULTS.ssh.hostTimeoutMs,
      },
      remoteHosts,
      remoteHosts.map((h) => h.name),
    );
    try {
      const planText = mode === "sftp" ? jsonText(plan) : undefined;
      await Promise.all(
        remoteHosts.map(async (h) => {
          await h.writeFile("ctl.sh", CTL_SCRIPT);
          const report = checkedWith.get(h.name);
          const compasBinary = h.spec.compasBinary ?? this.options.compasBinary ?? report?.compasBinary;
          await h.writeFile(
            "worker.sh",
            workerScript({
              remoteCommand: this.options.workerCommand ?? report?.remoteCommand ?? EXECUTOR_DEFAULTS.workerCommand,
              ...(mode === "s3" ? { storeUri: store.uri } : {}),
              ...(compasBinary !== undefined ? { compasBinary } : {}),
              ...(taskTimeoutS !== undefined ? { taskTimeoutS } : {}),
              env: remoteEnv,
            }),
          );
          if (planText !== undefined) await h.writeFile(PLAN_KEY, planText);
          // Queued jobs of an earlier submission are dropped (they are queued afresh below);
          // running ones of tasks outside this submission are stopped, the others adopted.
          const old = await h.status();
          const wanted = new Set(taskIds);
          const drop = old.jobs.filter((j) => j.state === "Q" || ((j.state === "S" || j.state === "R") && !wanted.has(j.task))).map((j) => j.job);
          await h.kill(drop);
          await h.ack(old.jobs.filter((j) => !wanted.has(j.task) && (j.state === "E" || j.state === "D" || j.state === "X" || j.state === "U")).map((j) => j.job));
        }),
      );
      await session.round(true, emit);
    } catch (err) {
      session.close();
      throw err;
    }
    session.close();
    this.sessions.set(submission, session);

    const data: SshHandleData = {
      version: 1,
      submission,
      store: store.uri,
      mode,
      hosts: remoteHosts.map((h) => stripUndefined({ ...h.spec })),
      remote_command: [...(this.options.workerCommand ?? EXECUTOR_DEFAULTS.workerCommand)],
      remote_env: { ...remoteEnv },
      first_attempt: Object.fromEntries(taskIds.map((id) => [id, context.firstAttempt[id] ?? 1])),
      retries: this.options.retries ?? EXECUTOR_DEFAULTS.retries,
      retry_backoff_ms: this.options.retryBackoffMs ?? EXECUTOR_DEFAULTS.retryBackoffMs,
      host_timeout_ms: this.options.hostTimeoutMs ?? EXECUTOR_DEFAULTS.ssh.hostTimeoutMs,
      ...(taskTimeoutS !== undefined ? { task_timeout_s: taskTimeoutS } : {}),
      placement: Object.fromEntries(session.placements),
    };
    return { kind: this.kind, ensemble_id: plan.ensemble_id, task_ids: [...taskIds], submitted_at: new Date().toISOString(), data };
  }

  /**
   * Each task's state, from the store's fragments and the hosts' jobs. With a local store,
   * results that finished on the hosts are brought home; nothing is started or stopped.
   */
  async status(handle: ExecutorHandle): Promise<TaskStatus[]> {
    const session = await this.session(handle);
    try {
      return (await session.round(false, () => {})).statuses;
    } finally {
      session.close();
    }
  }

  /**
   * Watches until every task is succeeded, failed or cancelled, and keeps the ensemble
   * going meanwhile (retries, reassignment from unreachable hosts, balancing). Aborting the
   * signal detaches (the hosts go on) unless `cancelOnAbort` is set.
   */
  async wait(handle: ExecutorHandle, options: WaitOptions = {}): Promise<TaskStatus[]> {
    const session = await this.session(handle);
    const emit = (e: ExecutorEvent): void => options.onEvent?.(e);
    const pollMs = this.options.pollIntervalMs ?? EXECUTOR_DEFAULTS.pollIntervalMs.ssh;
    try {
      for (;;) {
        const decision = await session.round(true, emit);
        if (decision.statuses.every((s) => isTerminal(s.state))) return decision.statuses;
        if (options.signal?.aborted) {
          if (this.options.cancelOnAbort) {
            await session.cancelAll(emit);
            return (await session.round(false, emit)).statuses;
          }
          return decision.statuses;
        }
        const until = decision.nextRetryAt !== undefined ? Math.min(pollMs, Math.max(50, decision.nextRetryAt - Date.now())) : pollMs;
        await abortableDelay(until, options.signal);
      }
    } finally {
      session.close();
    }
  }

  /** Stops every queued and running job of the handle on the hosts that answer. */
  async cancel(handle: ExecutorHandle): Promise<void> {
    const session = await this.session(handle);
    try {
      await session.cancelAll(() => {});
    } finally {
      session.close();
    }
  }

  private async session(handle: ExecutorHandle): Promise<Session> {
    const data = parseHandleData(handle);
    const existing = this.sessions.get(data.submission);
    if (existing) return existing;
    const store = this.options.store ?? openStore(data.store, this.options.storeOptions);
    const plan = await readPlan(store);
    if (!plan || plan.ensemble_id !== handle.ensemble_id) {
      throw new CompasEnsembleError("PLAN_MISMATCH", `${store.uri} does not hold the plan of ensemble ${handle.ensemble_id} that the SSH handle names.`);
    }
    const overrides = this.options.hosts ? new Map(parseHosts(this.options.hosts).map((h) => [h.name, h])) : new Map<string, SshHost>();
    const settings = this.connectionSettings();
    const knownHosts = this.knownHosts();
    const hosts = data.hosts.map((h) => {
      const o = overrides.get(h.name);
      const record: HostRecord = { ...h, ...(o ? pickConnection(o) : {}) };
      return new RemoteHost(record, settings, knownHosts);
    });
    const session = new Session(
      {
        submission: data.submission,
        mode: data.mode,
        store,
        plan,
        taskIds: handle.task_ids,
        firstAttempt: data.first_attempt,
        retries: this.options.retries ?? data.retries,
        retryBackoffMs: this.options.retryBackoffMs ?? data.retry_backoff_ms,
        hostTimeoutMs: this.options.hostTimeoutMs ?? data.host_timeout_ms,
      },
      hosts,
    );
    this.sessions.set(data.submission, session);
    return session;
  }

  private connectionSettings(): ConnectionSettings {
    const { knownHostsFile, identityFile, agent, connectTimeoutMs } = this.options;
    return stripUndefined({ knownHostsFile, identityFile, agent, connectTimeoutMs });
  }

  private knownHosts(): ReturnType<typeof loadKnownHosts> {
    this.knownHostsCache ??= loadKnownHosts(this.options.knownHostsFile ?? defaultKnownHostsFile());
    return this.knownHostsCache;
  }
}

/**
 * Rebuilds an SSH executor for a saved handle (from `executor/handle.json`), in any process
 * on any machine that can reach the hosts: `status`, `wait` and `cancel` then work on it.
 * @param handle - the saved handle
 * @param options - keys, known_hosts, the store (or S3 options to open it); hosts override by name
 */
export function reattachSshExecutor(handle: ExecutorHandle, options: SshExecutorOptions = {}): SshExecutor {
  parseHandleData(handle);
  return new SshExecutor(options);
}

/**
 * Validates a handle as an SSH handle and returns its data.
 * @param handle - a saved handle
 */
export function parseHandleData(handle: ExecutorHandle): SshHandleData {
  if (handle.kind !== "ssh") throw new CompasEnsembleError("OPTIONS_INVALID", `The saved handle is of a ${handle.kind} executor, not of the SSH executor.`);
  const parsed = SshHandleDataSchema.safeParse(handle.data);
  if (!parsed.success) {
    throw new CompasEnsembleError("METADATA_INVALID", `The saved SSH handle is invalid at ${describeZodError(parsed.error, "data")}.`, { cause: parsed.error, key: HANDLE_KEY });
  }
  return parsed.data;
}

function storeMode(store: Store): "s3" | "sftp" {
  if (store instanceof S3Store || store.uri.startsWith("s3://")) return "s3";
  if (store instanceof LocalStore) return "sftp";
  throw new CompasEnsembleError("OPTIONS_INVALID", `The SSH executor cannot use store ${store.describe()}; give a local directory or an s3:// URI.`);
}

// Only how to authenticate may differ between machines; where the host is and who runs
// the jobs there are fixed by the submission.
function pickConnection(h: SshHost): Partial<HostRecord> {
  return stripUndefined({ identityFile: h.identityFile, hostKey: h.hostKey });
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

