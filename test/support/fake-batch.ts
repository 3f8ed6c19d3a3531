/**
 * An HTTP-level fake of the AWS Batch control plane for tests, written from the AWS Batch API
 * reference (test/support/fake-batch/README.md lists what it models, the sections it follows,
 * and where it deviates). The real @aws-sdk/client-batch talks REST-JSON to it
 * (POST /v1/<operation>), and every job or array child runs as a real local process (by
 * default the built `node <repo>/dist/cli.js ...` for "compas-ensemble"), at most
 * `parallelism` at once, with the AWS_BATCH_* variables Batch sets.
 *
 * Time runs on a {@link FakeClock}: AWS's seconds (60 s minimum attempt timeout, 30 s stop
 * timeout, scheduling and visibility delays) pass `timeScale` times faster, or only when a
 * test calls advance().
 */
import { cliCommand } from "./cli.js";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { FakeClock } from "./fake-batch/clock.js";
import { killTree } from "./fake-batch/host.js";
import {
  ATTEMPT_TIMEOUT,
  cannotPullContainer,
  ESSENTIAL_CONTAINER_EXITED,
  hostTerminated,
  TASK_FAILED_TO_START,
} from "./fake-batch/reasons.js";
import { decideRetry, retryStrategyProblem, type AttemptOutcome, type RetryStrategy } from "./fake-batch/retry.js";

export { FakeClock } from "./fake-batch/clock.js";
export { decideRetry, globMatches, retryStrategyProblem, ruleApplies, type EvaluateOnExit, type RetryStrategy } from "./fake-batch/retry.js";
export {
  ATTEMPT_TIMEOUT,
  cannotPullContainer,
  ESSENTIAL_CONTAINER_EXITED,
  HOST_TERMINATED,
  hostTerminated,
  TASK_FAILED_TO_START,
} from "./fake-batch/reasons.js";

/** Status reason of a container that exited by itself (kept for older tests). */
export const EXITED_REASON = ESSENTIAL_CONTAINER_EXITED;

type Status = "SUBMITTED" | "PENDING" | "RUNNABLE" | "STARTING" | "RUNNING" | "SUCCEEDED" | "FAILED";
const STATUSES: Status[] = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"];
const TERMINAL = new Set<Status>(["SUCCEEDED", "FAILED"]);
const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Options of {@link startFakeBatch}. Durations are in fake milliseconds (see timeScale). */
export interface FakeBatchOptions {
  /** Environment every child gets on top of process.env (the test's S3 endpoint and keys). */
  env?: Record<string, string>;
  /** Jobs on hosts (STARTING or RUNNING) at once. Default 2. */
  parallelism?: number;
  /** How command[0] of a job is started here; default "compas-ensemble" -> node dist/cli.js (the built CLI). */
  programs?: Record<string, string[]>;
  /** Fake milliseconds per real millisecond; 0 stops time until advance(). Default 50. */
  timeScale?: number;
  /** Between SubmitJob and the first time DescribeJobs/ListJobs return the job. Default 2,000. */
  visibilityDelayMs?: number;
  /** Time a job spends in SUBMITTED before the scheduler moves it (and spawns array children). Default 1,000. */
  schedulingDelayMs?: number;
  /** Time an attempt spends in STARTING (image pull, container start). Default 2,000. */
  startingDelayMs?: number;
  /** Between SIGTERM and SIGKILL when Batch stops a container (terminate, timeout). Default 30,000 (ECS's stop timeout). */
  killGraceMs?: number;
  /**
   * Largest page of ListJobs (AWS: 1,000, or 100 with a filter) and DescribeJobDefinitions;
   * smaller values exercise paging.
   */
  pageSize?: number;
  /**
   * Which RUNNABLE jobs may be placed on a host: false keeps every job RUNNABLE (scale tests of
   * submission and polling), a function decides per job. Default true.
   */
  start?: boolean | ((job: FakeJob) => boolean);
}

/** One attempt, as AttemptDetail reports it. */
export interface FakeAttempt {
  /** When the container started running (absent if it never did). */
  startedAt?: number;
  stoppedAt?: number;
  statusReason?: string;
  /** Container-level reason, e.g. CannotPullContainerError. */
  reason?: string;
  exitCode?: number;
  /** The instance the attempt was placed on. */
  instanceId: string;
  taskArn: string;
}

/** One job as the fake holds it (parents, children and single jobs). */
export interface FakeJob {
  jobId: string;
  jobArn: string;
  jobName: string;
  jobQueue: string;
  jobDefinition: string;
  image: string;
  createdAt: number;
  /** Fake time from which reads (DescribeJobs, ListJobs) return it. */
  visibleAt: number;
  startedAt?: number;
  stoppedAt?: number;
  status: Status;
  statusReason?: string;
  command: string[];
  environment: Record<string, string>;
  /** The SubmitJob override if given, else the job definition's. */
  retryStrategy?: RetryStrategy;
  timeout?: { attemptDurationSeconds?: number };
  tags: Record<string, string>;
  propagateTags: boolean;
  isTerminated: boolean;
  isCancelled: boolean;
  parent?: FakeJob;
  index?: number;
  /** Array children, spawned when the scheduler first evaluates the parent. */
  children?: FakeJob[];
  size?: number;
  attempts: FakeAttempt[];
  /** Output of the latest attempt (for debugging a failing test). */
  output: string;
  /** Pids of every attempt's process. */
  pids: number[];
  proc?: ChildProcess;
  /** Set when Batch (not the container) ends the running attempt. */
  ending?: { kind: "terminate" | "timeout" | "reclaim"; reason: string };
  /** Cancels the pending timers of the current state. */
  cancelTimers: (() => void)[];
}

interface JobDef {
  jobDefinitionName: string;
  jobDefinitionArn: string;
  revision: number;
  status: "ACTIVE" | "INACTIVE";
  type: string;
  containerProperties: Record<string, unknown> & { image: string; command?: string[]; environment?: { name: string; value: string }[] };
  timeout?: { attemptDurationSeconds?: number };
  tags?: Record<string, string>;
  propagateTags?: boolean;
  platformCapabilities?: string[];
  retryStrategy?: RetryStrategy;
  parameters: Record<string, string>;
}

/** A running fake Batch. */
export interface FakeBatch {
  /** `http://127.0.0.1:PORT`, for the executor's `endpoint`. */
  endpoint: string;
  /** The fake's clock (now(), advance(), setScale()). */
  clock: FakeClock;
  /** Requests that arrived per operation (lower case, e.g. "submitjob"), throttled ones included. */
  requests: Record<string, number>;
  /** Requests answered 429 per operation. */
  throttled: Record<string, number>;
  /** Read requests (DescribeJobs, ListJobs) that left out a job that exists but is not visible yet. */
  invisibleReads: Record<string, number>;
  /** Request bodies in arrival order (throttled ones included). */
  bodies: { op: string; body: Record<string, unknown> }[];
  /** Bodies of accepted SubmitJob requests. */
  submitted(): Record<string, unknown>[];
  /** Answers the next `n` requests (of `op` only, if given) with 429 ThrottlingException. */
  throttle(n: number, op?: string): void;
  /** From now on answers `throttledPerSuccess` requests of `op` with 429 before letting one through, until calm(). */
  storm(op: string, throttledPerSuccess: number): void;
  /** Ends every storm. */
  calm(): void;
  /** Carries out the next `n` requests of `op`, then answers 500 ServerException (a lost response). */
  failAfterProcessing(n: number, op: string): void;
  /** The next start of array child `index` (of any job) is lost with its host right after the container starts. */
  reclaimOnce(index: number): void;
  /**
   * The host of a job's current attempt goes away (a Spot reclaim): with a notice, the
   * container gets SIGTERM first and the host dies after `noticeMs` (fake time); without,
   * every process of the attempt dies at once.
   */
  reclaim(jobId: string, options?: { noticeMs?: number }): void;
  /** The registry no longer has this image: attempts fail in STARTING with CannotPullContainerError. */
  removeImage(image: string): void;
  /** Extra environment for array child `index` of every job (e.g. FAKE_COMPAS_FAIL), for one attempt number or all. */
  setChildEnv(index: number, env: Record<string, string>, attempt?: number): void;
  /** Forgets every per-index hook, throttle, storm, lost response and removed image. */
  clearHooks(): void;
  /** Looks at the RUNNABLE jobs again (after a test changed what `start` allows). */
  reschedule(): void;
  /** An extra rule on top of `start` for which RUNNABLE jobs may get a host (undefined removes it). */
  setStartFilter(filter: ((job: FakeJob) => boolean) | undefined): void;
  /** Changes visibilityDelayMs for jobs submitted from now on. */
  setVisibilityDelay(ms: number): void;
  /** A job by id (`<parent>:<index>` for children). */
  job(jobId: string): FakeJob | undefined;
  /** Every job and child the fake has. */
  allJobs(): FakeJob[];
  /** Jobs whose container process runs now. */
  runningJobs(): FakeJob[];
  /** Pids of every process the fake started. */
  pids(): number[];
  /** Kills every process and closes the server. */
  stop(): Promise<void>;
}

const REPO = fileURLToPath(new URL("../../", import.meta.url));

class ClientError extends Error {}

/**
 * Starts the fake on 127.0.0.1, port 0.
 * @param options - child environment, parallelism, clock and delays
 */
export async function startFakeBatch(options: FakeBatchOptions = {}): Promise<FakeBatch> {
  const parallelism = options.parallelism ?? 2;
  const pageSize = options.pageSize ?? 1000;
  const killGraceMs = options.killGraceMs ?? 30_000;
  let visibilityDelayMs = options.visibilityDelayMs ?? 2_000;
  const schedulingDelayMs = options.schedulingDelayMs ?? 1_000;
  const startingDelayMs = options.startingDelayMs ?? 2_000;
  const clock = new FakeClock(options.timeScale ?? 50);
  // The built CLI is looked up when a job first runs it, so tests of other commands need no build.
  const programFor = (name: string): string[] =>
    options.programs?.[name] ?? (name === "compas-ensemble" ? cliCommand() : [name || "false"]);
  const requests: Record<string, number> = {};
  const throttled: Record<string, number> = {};
  const invisibleReads: Record<string, number> = {};
  const bodies: { op: string; body: Record<string, unknown> }[] = [];
  const accepted: Record<string, unknown>[] = [];
  const throttles: { n: number; op?: string }[] = [];
  const storms = new Map<string, { every: number; seen: number }>();
  const lostResponses: { n: number; op: string }[] = [];
  const reclaims = new Map<number, number>();
  const childEnv: { index: number; attempt?: number; env: Record<string, string> }[] = [];
  const removedImages = new Set<string>();
  const jobs = new Map<string, FakeJob>();
  const topLevel: FakeJob[] = [];
  const defs: JobDef[] = [];
  const queue: FakeJob[] = [];
  const onHost = new Set<FakeJob>();
  const allPids: number[] = [];
  let stopping = false;

  let startFilter: ((job: FakeJob) => boolean) | undefined;
  const mayStart = (job: FakeJob): boolean =>
    (typeof options.start === "function" ? options.start(job) : options.start !== false) && (startFilter?.(job) ?? true);
  const instanceId = (): string => `i-0${randomBytes(8).toString("hex")}`;

  // ---- array parents -------------------------------------------------------------------
  // Per the Array jobs guide, a parent is only ever SUBMITTED, PENDING, SUCCEEDED or FAILED:
  // PENDING from the moment a child becomes RUNNABLE until every child has ended.
  const refreshParent = (p: FakeJob | undefined): void => {
    if (!p?.children || TERMINAL.has(p.status)) return;
    const kids = p.children;
    if (kids.length === 0) return;
    if (kids.every((c) => TERMINAL.has(c.status))) {
      p.status = kids.some((c) => c.status === "FAILED") ? "FAILED" : "SUCCEEDED";
      p.stoppedAt = clock.now();
    } else {
      p.status = "PENDING";
      p.startedAt ??= kids.map((c) => c.startedAt).find((t) => t !== undefined);
    }
  };

  // ---- the scheduler -------------------------------------------------------------------
  const schedule = (job: FakeJob): void => {
    job.cancelTimers.push(
      clock.after(schedulingDelayMs, () => {
        if (job.status !== "SUBMITTED") return;
        if (job.size !== undefined) {
          // The parent spawns its children (each created PENDING), and they become RUNNABLE.
          job.children = Array.from({ length: job.size }, (_, index) => {
            const childId = `${job.jobId}:${index}`;
            const child: FakeJob = {
              ...blankJob(),
              jobId: childId,
              jobArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job/${childId}`,
              jobName: job.jobName,
              jobQueue: job.jobQueue,
              jobDefinition: job.jobDefinition,
              image: job.image,
              createdAt: clock.now(),
              visibleAt: job.visibleAt,
              status: "PENDING",
              command: job.command,
              environment: job.environment,
              retryStrategy: job.retryStrategy,
              timeout: job.timeout,
              tags: job.tags,
              propagateTags: job.propagateTags,
              parent: job,
              index,
            };
            jobs.set(childId, child);
            return child;
          });
          for (const c of job.children) makeRunnable(c);
          refreshParent(job);
        } else {
          makeRunnable(job);
        }
        pump();
      }),
    );
  };

  const makeRunnable = (job: FakeJob): void => {
    job.status = "RUNNABLE";
    queue.push(job);
  };

  const pump = (): void => {
    if (stopping) return;
    for (let i = 0; i < queue.length && onHost.size < parallelism; ) {
      const job = queue[i]!;
      if (!mayStart(job)) {
        i++;
        continue;
      }
      queue.splice(i, 1);
      place(job);
    }
  };

  /** RUNNABLE -> STARTING: the job gets a host; the image is pulled, then the container runs. */
  const place = (job: FakeJob): void => {
    onHost.add(job);
    job.status = "STARTING";
    job.ending = undefined;
    job.output = "";
    const id = instanceId();
    job.attempts.push({ instanceId: id, taskArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task/fake/${randomBytes(16).toString("hex")}` });
    refreshParent(job.parent);
    job.cancelTimers.push(
      clock.after(startingDelayMs, () => {
        if (job.status !== "STARTING") return;
        if (removedImages.has(job.image)) {
          endAttempt(job, { statusReason: TASK_FAILED_TO_START, reason: cannotPullContainer(job.image) });
          return;
        }
        run(job);
      }),
    );
  };

  /** STARTING -> RUNNING: the container's process starts. */
  const run = (job: FakeJob): void => {
    const attempt = job.attempts.at(-1)!;
    const [program, ...rest] = job.command;
    const argv = [...programFor(program ?? ""), ...rest];
    const number = job.attempts.length;
    const extra = childEnv.filter((e) => e.index === job.index && (e.attempt === undefined || e.attempt === number)).map((e) => e.env);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...options.env,
      ...job.environment,
      ...Object.assign({}, ...extra),
      AWS_BATCH_JOB_ID: job.jobId,
      AWS_BATCH_JOB_ATTEMPT: String(number),
      AWS_BATCH_JQ_NAME: job.jobQueue,
      AWS_BATCH_CE_NAME: "fake-ce",
    };
    delete env.AWS_BATCH_JOB_ARRAY_INDEX;
    if (job.index !== undefined) env.AWS_BATCH_JOB_ARRAY_INDEX = String(job.index);
    // Its own process group stands in for the container: when the main process exits, the
    // container stops and whatever it left running in the group goes with it.
    const proc = spawn(argv[0]!, argv.slice(1), { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    job.proc = proc;
    job.status = "RUNNING";
    attempt.startedAt = clock.now();
    job.startedAt ??= attempt.startedAt;
    refreshParent(job.parent);
    if (proc.pid !== undefined) {
      job.pids.push(proc.pid);
      allPids.push(proc.pid);
    }
    proc.stdout!.setEncoding("utf8").on("data", (d: string) => (job.output += d));
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => (job.output += d));
    let ended = false;
    const end = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (ended) return;
      ended = true;
      job.proc = undefined;
      exited(job, code, signal);
    };
    proc.on("error", () => end(127, null));
    proc.on("exit", (code, signal) => {
      if (proc.pid !== undefined) {
        try {
          process.kill(-proc.pid, "SIGKILL");
        } catch {
          // the group is already empty
        }
      }
      end(code, signal);
    });
    const seconds = job.timeout?.attemptDurationSeconds;
    if (seconds !== undefined) {
      job.cancelTimers.push(clock.after(seconds * 1000, () => stopContainer(job, { kind: "timeout", reason: ATTEMPT_TIMEOUT })));
    }
    const left = job.index !== undefined ? (reclaims.get(job.index) ?? 0) : 0;
    if (left > 0) {
      reclaims.set(job.index!, left - 1);
      loseHost(job, 0);
    }
  };

  /** Batch stops the container: SIGTERM, then SIGKILL after the stop timeout. */
  const stopContainer = (job: FakeJob, ending: NonNullable<FakeJob["ending"]>): void => {
    const proc = job.proc;
    if (!proc || job.ending) return;
    job.ending = ending;
    proc.kill("SIGTERM");
    clock.after(killGraceMs, () => {
      if (job.proc === proc) proc.kill("SIGKILL");
    });
  };

  const loseHost = (job: FakeJob, noticeMs: number): void => {
    const ending = { kind: "reclaim" as const, reason: hostTerminated(job.attempts.at(-1)!.instanceId) };
    if (!job.proc) {
      // Lost while the image was pulled.
      job.ending = ending;
      endAttempt(job, { statusReason: ending.reason });
      return;
    }
    if (job.ending) return;
    job.ending = ending;
    const pid = job.proc.pid;
    if (noticeMs > 0) job.proc.kill("SIGTERM");
    const die = (): void => {
      if (job.proc && pid !== undefined && job.proc.pid === pid) killTree(pid);
    };
    if (noticeMs > 0) clock.after(noticeMs, die);
    else die();
  };

  /** The container's process is gone: what Batch records depends on who ended it. */
  const exited = (job: FakeJob, code: number | null, signal: NodeJS.Signals | null): void => {
    const exitCode = code ?? (signal === "SIGKILL" ? 137 : signal === "SIGTERM" ? 143 : 1);
    const ending = job.ending;
    if (ending?.kind === "reclaim") endAttempt(job, { statusReason: ending.reason });
    else if (ending) endAttempt(job, { statusReason: ending.reason, exitCode }, { final: true });
    else endAttempt(job, { statusReason: ESSENTIAL_CONTAINER_EXITED, exitCode });
  };

  /**
   * Records an ended attempt and moves the job on: SUCCEEDED on exit 0; else back to RUNNABLE
   * when attempts remain and the retry rules say RETRY; else FAILED. Terminated jobs and
   * timed-out attempts are never retried (Automated job retries; Job timeouts).
   */
  const endAttempt = (job: FakeJob, outcome: AttemptOutcome, how: { final?: boolean } = {}): void => {
    for (const cancel of job.cancelTimers.splice(0)) cancel();
    onHost.delete(job);
    const attempt = job.attempts.at(-1)!;
    attempt.stoppedAt = clock.now();
    attempt.statusReason = outcome.statusReason;
    if (outcome.reason !== undefined) attempt.reason = outcome.reason;
    if (outcome.exitCode !== undefined) attempt.exitCode = outcome.exitCode;
    job.statusReason = outcome.statusReason;
    job.ending = undefined;
    const max = job.retryStrategy?.attempts ?? 1;
    if (outcome.exitCode === 0 && !how.final) {
      job.status = "SUCCEEDED";
    } else if (!how.final && !job.isTerminated && job.attempts.length < max && decideRetry(job.retryStrategy?.evaluateOnExit ?? [], outcome).action === "RETRY") {
      makeRunnable(job);
    } else {
      job.status = "FAILED";
    }
    if (TERMINAL.has(job.status)) job.stoppedAt = clock.now();
    refreshParent(job.parent);
    pump();
  };

  /** TerminateJob on one job or child: running ones are stopped, waiting ones cancelled. */
  const terminateOne = (job: FakeJob, reason: string): void => {
    if (TERMINAL.has(job.status)) return;
    job.isTerminated = true;
    if (job.status === "RUNNING") {
      stopContainer(job, { kind: "terminate", reason });
      return;
    }
    if (job.status === "STARTING") {
      endAttempt(job, { statusReason: reason }, { final: true });
      return;
    }
    for (const cancel of job.cancelTimers.splice(0)) cancel();
    const at = queue.indexOf(job);
    if (at >= 0) queue.splice(at, 1);
    job.isCancelled = true;
    job.status = "FAILED";
    job.statusReason = reason;
    job.stoppedAt = clock.now();
  };

  // ---- requests ------------------------------------------------------------------------
  const resolveDef = (ref: string): JobDef => {
    const arn = /^arn:aws:batch:[^:]*:\d+:job-definition\/([^:]+):(\d+)$/.exec(ref);
    const named = /^([^:]+):(\d+)$/.exec(ref);
    const [name, rev] = arn ? [arn[1]!, Number(arn[2])] : named ? [named[1]!, Number(named[2])] : [ref, undefined];
    const candidates = defs.filter((d) => d.jobDefinitionName === name && (rev === undefined ? d.status === "ACTIVE" : d.revision === rev));
    const def = candidates.sort((a, b) => b.revision - a.revision)[0];
    if (!def) throw new ClientError(`Job definition ${ref} does not exist.`);
    return def;
  };

  const visible = (job: FakeJob, op: string): boolean => {
    if (clock.now() >= job.visibleAt) return true;
    invisibleReads[op] = (invisibleReads[op] ?? 0) + 1;
    return false;
  };

  const page = <T>(items: T[], b: Record<string, unknown>, cap: number): { items: T[]; nextToken?: string } => {
    const max = Math.min(Number(b.maxResults ?? cap), cap, pageSize);
    if (!(max >= 1)) throw new ClientError("maxResults must be at least 1.");
    const from = b.nextToken ? Number(Buffer.from(String(b.nextToken), "base64url").toString("utf8")) : 0;
    if (!Number.isInteger(from) || from < 0) throw new ClientError("nextToken is invalid.");
    const slice = items.slice(from, from + max);
    return from + max < items.length ? { items: slice, nextToken: Buffer.from(String(from + max)).toString("base64url") } : { items: slice };
  };

  const ops: Record<string, (b: Record<string, unknown>) => unknown> = {
    submitjob(b) {
      const jobName = String(b.jobName ?? "");
      if (!NAME.test(jobName)) throw new ClientError(`Job name ${jobName} is invalid: up to 128 letters, digits, hyphens and underscores, starting with a letter or digit.`);
      if (!b.jobQueue) throw new ClientError("jobQueue is required.");
      const def = resolveDef(String(b.jobDefinition ?? ""));
      const overrides = (b.containerOverrides ?? {}) as { command?: string[]; environment?: { name: string; value: string }[] };
      for (const e of overrides.environment ?? []) {
        if (e.name.startsWith("AWS_BATCH")) throw new ClientError(`Environment variable ${e.name} is reserved.`);
      }
      const envList = [...(def.containerProperties.environment ?? []), ...(overrides.environment ?? [])];
      // The request's retry strategy and timeout replace the definition's (SubmitJob).
      const rs = (b.retryStrategy as RetryStrategy | undefined) ?? def.retryStrategy;
      const problem = retryStrategyProblem(rs);
      if (problem) throw new ClientError(problem);
      const timeout = (b.timeout as FakeJob["timeout"]) ?? def.timeout;
      if (timeout?.attemptDurationSeconds !== undefined && timeout.attemptDurationSeconds < 60) {
        throw new ClientError("timeout.attemptDurationSeconds must be at least 60.");
      }
      const tags = (b.tags ?? {}) as Record<string, string>;
      if (Object.keys(tags).length > 50) throw new ClientError("At most 50 tags are allowed.");
      const size = (b.arrayProperties as { size?: number } | undefined)?.size;
      if (size !== undefined && (!Number.isInteger(size) || size < 2 || size > 10_000)) {
        throw new ClientError("Array job size must be between 2 and 10,000.");
      }
      const jobId = randomUUID();
      const now = clock.now();
      const job: FakeJob = {
        ...blankJob(),
        jobId,
        jobArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job/${jobId}`,
        jobName,
        jobQueue: String(b.jobQueue),
        jobDefinition: def.jobDefinitionArn,
        image: def.containerProperties.image,
        createdAt: now,
        visibleAt: now + visibilityDelayMs,
        status: "SUBMITTED",
        command: overrides.command ?? def.containerProperties.command ?? [],
        environment: Object.fromEntries(envList.map((e) => [e.name, e.value])),
        retryStrategy: rs,
        timeout,
        tags,
        propagateTags: b.propagateTags === true,
        ...(size !== undefined ? { size } : {}),
      };
      jobs.set(jobId, job);
      topLevel.push(job);
      accepted.push(b);
      schedule(job);
      return { jobArn: job.jobArn, jobName, jobId };
    },
    describejobs(b) {
      const ids = (b.jobs ?? []) as string[];
      if (ids.length > 100) throw new ClientError("At most 100 job ids per DescribeJobs request.");
      const found = ids.map((id) => jobs.get(id)).filter((j): j is FakeJob => j !== undefined && visible(j, "describejobs"));
      return { jobs: found.map(detail) };
    },
    listjobs(b) {
      const selectors = [b.jobQueue, b.arrayJobId, b.multiNodeJobId].filter((x) => x !== undefined && x !== null && x !== "");
      if (selectors.length !== 1) throw new ClientError("Give exactly one of jobQueue, arrayJobId and multiNodeJobId.");
      const filters = (b.filters ?? []) as { name?: string; values?: string[] }[];
      if (filters.length > 1) throw new ClientError("Only one filter can be used at a time.");
      const filter = filters[0];
      if (filter && filter.name !== "JOB_NAME") throw new ClientError(`The fake supports only the JOB_NAME filter, not ${filter.name}.`);
      if (filter && !b.jobQueue) throw new ClientError("The fake applies the JOB_NAME filter to a job queue only.");
      const status = (b.jobStatus as Status | undefined) ?? "RUNNING";
      if (!STATUSES.includes(status)) throw new ClientError(`jobStatus ${String(b.jobStatus)} is invalid.`);
      let pool: FakeJob[];
      if (b.arrayJobId) {
        const parent = jobs.get(String(b.arrayJobId));
        if (!parent || parent.size === undefined) throw new ClientError(`${String(b.arrayJobId)} is not an array job.`);
        pool = visible(parent, "listjobs") ? (parent.children ?? []) : [];
      } else if (b.jobQueue) {
        const q = String(b.jobQueue);
        pool = topLevel.filter((j) => j.jobQueue === q || `arn:aws:batch:${REGION}:${ACCOUNT}:job-queue/${j.jobQueue}` === q);
        pool = pool.filter((j) => visible(j, "listjobs"));
      } else {
        throw new ClientError("The fake has no multi-node parallel jobs.");
      }
      let matching: FakeJob[];
      let cap = 1000;
      if (filter) {
        // With a filter, jobStatus is ignored and the newest jobs come first.
        cap = 100;
        const value = String(filter.values?.[0] ?? "").toLowerCase();
        const ok = value.endsWith("*") ? (n: string) => n.toLowerCase().startsWith(value.slice(0, -1)) : (n: string) => n.toLowerCase() === value;
        matching = pool.filter((j) => ok(j.jobName)).sort((x, y) => y.createdAt - x.createdAt);
      } else {
        matching = pool.filter((j) => j.status === status);
      }
      const p = page(matching, b, cap);
      return { jobSummaryList: p.items.map(summary), ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
    },
    terminatejob(b) {
      const job = jobs.get(String(b.jobId ?? ""));
      if (!job) throw new ClientError(`Job ${String(b.jobId)} does not exist.`);
      const reason = String(b.reason ?? "");
      if (!reason) throw new ClientError("reason is required.");
      if (job.size !== undefined) {
        if (!TERMINAL.has(job.status)) {
          job.isTerminated = true;
          job.statusReason = reason;
        }
        if (job.status === "SUBMITTED") {
          // Not evaluated yet: no child was spawned; the parent is cancelled as it is.
          for (const cancel of job.cancelTimers.splice(0)) cancel();
          job.isCancelled = true;
          job.status = "FAILED";
          job.stoppedAt = clock.now();
        }
        for (const c of job.children ?? []) terminateOne(c, reason);
        refreshParent(job);
      } else {
        terminateOne(job, reason);
        refreshParent(job.parent);
      }
      return {};
    },
    registerjobdefinition(b) {
      const name = String(b.jobDefinitionName ?? "");
      if (!NAME.test(name)) throw new ClientError(`Job definition name ${name} is invalid.`);
      if (b.type !== "container") throw new ClientError("Only container job definitions are supported by the fake.");
      const cp = b.containerProperties as JobDef["containerProperties"] | undefined;
      if (!cp?.image) throw new ClientError("containerProperties.image is required.");
      const problem = retryStrategyProblem(b.retryStrategy as RetryStrategy | undefined);
      if (problem) throw new ClientError(problem);
      const timeout = b.timeout as JobDef["timeout"];
      if (timeout?.attemptDurationSeconds !== undefined && timeout.attemptDurationSeconds < 60) {
        throw new ClientError("timeout.attemptDurationSeconds must be at least 60.");
      }
      const revision = Math.max(0, ...defs.filter((d) => d.jobDefinitionName === name).map((d) => d.revision)) + 1;
      const def: JobDef = {
        jobDefinitionName: name,
        jobDefinitionArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job-definition/${name}:${revision}`,
        revision,
        status: "ACTIVE",
        type: "container",
        // Batch fills in empty lists for what the request left out.
        containerProperties: { volumes: [], environment: [], mountPoints: [], ulimits: [], secrets: [], ...cp },
        timeout,
        tags: b.tags as Record<string, string> | undefined,
        propagateTags: b.propagateTags as boolean | undefined,
        platformCapabilities: (b.platformCapabilities as string[] | undefined) ?? ["EC2"],
        retryStrategy: b.retryStrategy as RetryStrategy | undefined,
        parameters: {},
      };
      defs.push(def);
      return { jobDefinitionName: name, jobDefinitionArn: def.jobDefinitionArn, revision };
    },
    describejobdefinitions(b) {
      let list = [...defs];
      if (b.jobDefinitionName) list = list.filter((d) => d.jobDefinitionName === b.jobDefinitionName);
      if (b.status) list = list.filter((d) => d.status === b.status);
      if (Array.isArray(b.jobDefinitions)) {
        const refs = b.jobDefinitions as string[];
        list = list.filter((d) => refs.includes(d.jobDefinitionArn) || refs.includes(`${d.jobDefinitionName}:${d.revision}`) || refs.includes(d.jobDefinitionName));
      }
      const p = page(list, b, 1000);
      return { jobDefinitions: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
    },
    deregisterjobdefinition(b) {
      const def = resolveDef(String(b.jobDefinition ?? ""));
      def.status = "INACTIVE";
      return {};
    },
  };

  function attemptDetail(a: FakeAttempt): Record<string, unknown> {
    return {
      container: {
        containerInstanceArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:container-instance/fake/${a.instanceId}`,
        taskArn: a.taskArn,
        ...(a.exitCode !== undefined ? { exitCode: a.exitCode } : {}),
        ...(a.reason !== undefined ? { reason: a.reason } : {}),
        logStreamName: `fake/default/${a.taskArn.split("/").at(-1)}`,
        networkInterfaces: [],
      },
      ...(a.startedAt !== undefined ? { startedAt: a.startedAt } : {}),
      stoppedAt: a.stoppedAt,
      statusReason: a.statusReason,
    };
  }

  function detail(j: FakeJob): Record<string, unknown> {
    const last = j.attempts.at(-1);
    const ended = TERMINAL.has(j.status);
    return {
      jobArn: j.jobArn,
      jobName: j.jobName,
      jobId: j.jobId,
      jobQueue: `arn:aws:batch:${REGION}:${ACCOUNT}:job-queue/${j.jobQueue}`,
      status: j.status,
      ...(j.statusReason ? { statusReason: j.statusReason } : {}),
      createdAt: j.createdAt,
      ...(j.startedAt ? { startedAt: j.startedAt } : {}),
      ...(j.stoppedAt ? { stoppedAt: j.stoppedAt } : {}),
      jobDefinition: j.jobDefinition,
      dependsOn: [],
      parameters: {},
      attempts: j.attempts.filter((a) => a.stoppedAt !== undefined).map(attemptDetail),
      ...(j.size === undefined
        ? {
            container: {
              image: j.image,
              command: j.command,
              environment: Object.entries(j.environment).map(([name, value]) => ({ name, value })),
              ...(ended && last?.exitCode !== undefined ? { exitCode: last.exitCode } : {}),
              ...(ended && last?.reason !== undefined ? { reason: last.reason } : {}),
              ...(last ? { taskArn: last.taskArn } : {}),
            },
          }
        : {}),
      ...(j.retryStrategy ? { retryStrategy: j.retryStrategy } : {}),
      ...(j.timeout ? { timeout: j.timeout } : {}),
      tags: j.tags,
      propagateTags: j.propagateTags,
      platformCapabilities: ["EC2"],
      ...(j.size !== undefined
        ? {
            arrayProperties: {
              size: j.size,
              statusSummary: Object.fromEntries(STATUSES.map((s) => [s, (j.children ?? []).filter((c) => c.status === s).length])),
              statusSummaryLastUpdatedAt: clock.now(),
            },
          }
        : j.index !== undefined
          ? { arrayProperties: { index: j.index } }
          : {}),
      ...(j.isTerminated ? { isTerminated: true } : {}),
      ...(j.isCancelled ? { isCancelled: true } : {}),
    };
  }

  function summary(j: FakeJob): Record<string, unknown> {
    const last = j.attempts.at(-1);
    const ended = TERMINAL.has(j.status);
    return {
      jobArn: j.jobArn,
      jobId: j.jobId,
      jobName: j.jobName,
      createdAt: j.createdAt,
      status: j.status,
      ...(j.statusReason ? { statusReason: j.statusReason } : {}),
      ...(j.startedAt ? { startedAt: j.startedAt } : {}),
      ...(j.stoppedAt ? { stoppedAt: j.stoppedAt } : {}),
      ...(ended && last && (last.exitCode !== undefined || last.reason !== undefined)
        ? { container: { ...(last.exitCode !== undefined ? { exitCode: last.exitCode } : {}), ...(last.reason !== undefined ? { reason: last.reason } : {}) } }
        : {}),
      ...(j.index !== undefined ? { arrayProperties: { index: j.index } } : j.size !== undefined ? { arrayProperties: { size: j.size } } : {}),
      jobDefinition: j.jobDefinition,
      ...(j.isTerminated ? { isTerminated: true } : {}),
      ...(j.isCancelled ? { isCancelled: true } : {}),
    };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const m = /^\/v1\/([a-z]+)$/.exec(req.url ?? "");
      const op = m?.[1] ?? "";
      requests[op] = (requests[op] ?? 0) + 1;
      let body: Record<string, unknown> = {};
      try {
        const text = Buffer.concat(chunks).toString("utf8");
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        return send(res, 400, "SerializationException", { message: "Request body is not JSON." });
      }
      bodies.push({ op, body });
      const t = throttles.find((x) => x.n > 0 && (x.op === undefined || x.op === op));
      const storm = storms.get(op);
      let throttle = false;
      if (t) {
        t.n--;
        throttle = true;
      } else if (storm) {
        throttle = storm.seen++ % (storm.every + 1) !== storm.every;
      }
      if (throttle) {
        throttled[op] = (throttled[op] ?? 0) + 1;
        return send(res, 429, "ThrottlingException", { message: "Rate exceeded" });
      }
      const handler = req.method === "POST" ? ops[op] : undefined;
      if (!handler) return send(res, 404, "ClientException", { message: `Unknown operation ${req.method} ${req.url}` });
      try {
        const out = handler(body);
        const lost = lostResponses.find((x) => x.n > 0 && x.op === op);
        if (lost) {
          lost.n--;
          return send(res, 500, "ServerException", { message: "Internal error (the request was carried out)" });
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(out));
      } catch (err) {
        if (err instanceof ClientError) return send(res, 400, "ClientException", { message: err.message });
        return send(res, 500, "ServerException", { message: (err as Error).message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    clock,
    requests,
    throttled,
    invisibleReads,
    bodies,
    submitted: () => [...accepted],
    throttle(n, op) {
      throttles.push({ n, op });
    },
    storm(op, throttledPerSuccess) {
      storms.set(op, { every: throttledPerSuccess, seen: 0 });
    },
    calm() {
      storms.clear();
    },
    failAfterProcessing(n, op) {
      lostResponses.push({ n, op });
    },
    reclaimOnce(index) {
      reclaims.set(index, (reclaims.get(index) ?? 0) + 1);
    },
    reclaim(jobId, opts = {}) {
      const job = jobs.get(jobId);
      if (!job || (job.status !== "RUNNING" && job.status !== "STARTING")) {
        throw new Error(`fake Batch: job ${jobId} is ${job?.status ?? "unknown"}, not on a host`);
      }
      loseHost(job, opts.noticeMs ?? 0);
    },
    removeImage(image) {
      removedImages.add(image);
    },
    setChildEnv(index, env, attempt) {
      childEnv.push({ index, env, ...(attempt !== undefined ? { attempt } : {}) });
    },
    clearHooks() {
      reclaims.clear();
      childEnv.length = 0;
      throttles.length = 0;
      storms.clear();
      lostResponses.length = 0;
      removedImages.clear();
    },
    reschedule: () => pump(),
    setStartFilter(filter) {
      startFilter = filter;
      pump();
    },
    setVisibilityDelay(ms) {
      visibilityDelayMs = ms;
    },
    job: (id) => jobs.get(id),
    allJobs: () => [...jobs.values()],
    runningJobs: () => [...jobs.values()].filter((j) => j.proc !== undefined),
    pids: () => [...allPids],
    async stop() {
      stopping = true;
      queue.length = 0;
      clock.stop();
      // SIGTERM first, so each worker stops its COMPAS process group instead of orphaning it.
      const procs = [...jobs.values()].map((j) => j.proc).filter((p): p is ChildProcess => p !== undefined);
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
              p.once("exit", () => {
                clearTimeout(timer);
                resolve();
              });
              p.kill("SIGTERM");
            }),
        ),
      );
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function blankJob(): Omit<FakeJob, "jobId" | "jobArn" | "jobName" | "jobQueue" | "jobDefinition" | "image" | "createdAt" | "visibleAt" | "status" | "command" | "environment" | "tags" | "propagateTags"> {
  return { isTerminated: false, isCancelled: false, attempts: [], output: "", pids: [], cancelTimers: [] };
}

function send(res: http.ServerResponse, status: number, type: string, body: Record<string, unknown>): void {
  res.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type });
  res.end(JSON.stringify({ __type: type, ...body }));
}
