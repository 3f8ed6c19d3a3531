import { posix } from "node:path";
import { CompasEnsembleError } from "../../errors.js";
import { SshConnection, type ConnectionSettings } from "./_connection.js";
import type { SshHost } from "./hosts.js";
import type { KnownHostEntry } from "./known-hosts.js";
import { shellQuote } from "../../util/shell-quote.js";

/** A job's state as the host's `ctl.sh status` reports it. */
export type JobState =
  /** queued */
  | "Q"
  /** claimed by a runner, worker starting, or ended with its runner (alive) about to write the exit code */
  | "S"
  /** worker running */
  | "R"
  /** worker exited (exit code known) */
  | "E"
  /** worker and its runner gone without an exit code (killed, host restarted) */
  | "D"
  /** revoked before it ran */
  | "X"
  /** half-enqueued (the orchestrator died while enqueuing) */
  | "U";

/** One job on a host. */
export interface RemoteJob {
  job: string;
  task: string;
  state: JobState;
  revoked: boolean;
  exit?: number;
  /** Binaries done, for running jobs. */
  progress?: number;
}

/** What one `ctl.sh status` call returned. */
export interface HostStatus {
  jobs: RemoteJob[];
  /** Runner loops alive. */
  runners: number;
}

/** A host of a submission: its spec with slots and folder settled. */
export interface HostRecord extends SshHost {
  slots: number;
  /** This ensemble's folder on the host (relative paths are under the remote home). */
  dir: string;
}

/**
 * One host of a submission: a lazily (re)opened connection and the control-script calls on
 * the ensemble's folder there. Tracks since when the host has been unreachable.
 */
export class RemoteHost {
  private conn: SshConnection | undefined;
  /** When the host first failed to answer, if it is failing now. */
  unreachableSince: number | undefined;
  /** The last error while it is failing. */
  lastError: string | undefined;
  /** The last status the host answered (kept while it is unreachable). */
  lastStatus: HostStatus | undefined;

  constructor(
    readonly spec: HostRecord,
    private readonly settings: ConnectionSettings,
    private readonly knownHosts: readonly KnownHostEntry[],
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** The open connection, reconnecting if it broke. */
  async connection(): Promise<SshConnection> {
    if (!this.conn || this.conn.closed) {
      this.conn = undefined;
      this.conn = await SshConnection.open(this.spec, this.settings, this.knownHosts);
    }
    return this.conn;
  }

  /** Uses an already open connection (from preflight). */
  adopt(conn: SshConnection): void {
    this.conn = conn;
  }

  /**
   * Runs `sh ctl.sh <args>` in the ensemble folder.
   * @param args - control-script command and arguments
   * @param stdin - input for enqueue/prepare
   */
  async ctl(args: readonly string[], stdin?: string): Promise<string> {
    const conn = await this.connection();
    const command = `${shellQuote(["cd", this.spec.dir])} && ${shellQuote(["sh", "ctl.sh", ...args])}`;
    return conn.run(command, `ctl.sh ${args[0] ?? ""}`, stdin === undefined ? {} : { stdin });
  }

  /**
   * Writes a file in the ensemble folder atomically (temporary name, then rename), so a
   * runner that is reading the old script keeps its copy.
   * @param name - file name inside the folder
   * @param content - file content
   */
  async writeFile(name: string, content: string | Buffer): Promise<void> {
    const conn = await this.connection();
    const tmp = `.${name}.tmp`;
    const command = [shellQuote(["mkdir", "-p", this.spec.dir]), shellQuote(["cd", this.spec.dir]), `cat > ${shellQuote([tmp])}`, shellQuote(["mv", "-f", tmp, name])].join(" && ");
    await conn.run(command, `writing ${posix.join(this.spec.dir, name)}`, { stdin: content });
  }

  /** Parsed `ctl.sh status`; remembered as lastStatus. */
  async status(): Promise<HostStatus> {
    const out = await this.ctl(["status"]);
    const status = parseStatus(out, this.name);
    this.lastStatus = status;
    return status;
  }

  /**
   * Revokes queued jobs and kills running ones (TERM, then KILL, then orphaned COMPAS groups).
   * @param jobs - job ids
   * @returns per job: revoked (never ran), killed, ended (was not running) or missing
   */
  async kill(jobs: readonly string[]): Promise<Map<string, string>> {
    const outcome = new Map<string, string>();
    if (jobs.length === 0) return outcome;
    const out = await this.ctl(["kill", ...jobs]);
    for (const line of out.split("\n")) {
      const [job, what] = line.trim().split(" ");
      if (job && what) outcome.set(job, what);
    }
    return outcome;
  }

  /** Marks ended jobs as dealt with (and removes their job stores). */
  async ack(jobs: readonly string[]): Promise<void> {
    if (jobs.length > 0) await this.ctl(["ack", ...jobs]);
  }

  /** Adds jobs to the host's queue. */
  async enqueue(jobs: readonly { job: string; task: string }[]): Promise<void> {
    if (jobs.length > 0) await this.ctl(["enqueue"], jobs.map((j) => `${j.job} ${j.task}\n`).join(""));
  }

  /** Creates per-job store folders holding the plan (local-store mode). */
  async prepare(jobs: readonly { job: string; task: string }[]): Promise<void> {
    if (jobs.length > 0) await this.ctl(["prepare"], jobs.map((j) => `${j.job} ${j.task}\n`).join(""));
  }

  /** Starts `n` detached runner loops (at most `slots` hold a slot at once). */
  async startRunners(n: number): Promise<void> {
    if (n > 0) await this.ctl(["start", String(n), String(this.spec.slots)]);
  }

  /**
   * The last bytes of each job's worker log, for jobs that ended badly.
   * @param jobs - job ids
   */
  async logTails(jobs: readonly string[]): Promise<Map<string, string>> {
    const tails = new Map<string, string>();
    if (jobs.length === 0) return tails;
    const conn = await this.connection();
    for (const job of jobs) {
      const r = await conn.exec(`${shellQuote(["cd", this.spec.dir])} && ${shellQuote(["tail", "-c", "1500", `jobs/${job}/log`])}`);
      tails.set(job, r.code === 0 ? r.stdout : "");
    }
    return tails;
  }

  /** Closes the connection (it is reopened on next use). */
  close(): void {
    this.conn?.close();
    this.conn = undefined;
  }
}

/**
 * Parses `ctl.sh status` output.
 * @param out - its stdout
 * @param host - host name for messages
 */
export function parseStatus(out: string, host: string): HostStatus {
  const jobs: RemoteJob[] = [];
  let runners: number | undefined;
  for (const line of out.split("\n")) {
    const f = line.trim().split(" ");
    if (f[0] === "N") {
      runners = Number(f[1]);
      continue;
    }
    const [state, job, task, r, extra] = f;
    if (!state || !job || !task || !/^[QSREDXU]$/.test(state)) continue;
    const item: RemoteJob = { job, task, state: state as JobState, revoked: r === "r" };
    if (state === "E") item.exit = Number(extra);
    if (state === "R" && extra !== undefined && extra !== "") item.progress = Number(extra);
    jobs.push(item);
  }
  if (runners === undefined || !Number.isInteger(runners)) {
    throw new CompasEnsembleError("SSH_HOST_UNREACHABLE", `Host ${host} answered the status query with something unexpected: ${out.slice(0, 200)}`);
  }
  return { jobs, runners };
}
