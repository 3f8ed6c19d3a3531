/**
 * An HTTP-level fake of the AWS Batch control plane for tests: the real @aws-sdk/client-batch
 * talks REST-JSON to it (POST /v1/<operation>), and every job or array child runs as a real
 * local process (by default the built `node <repo>/dist/cli.js ...` for "compas-ensemble"),
 * at most `parallelism` at once, with AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ATTEMPT set.
 * It applies Batch's rules the executor relies on: array sizes 2-10,000, retryStrategy
 * attempts with evaluateOnExit (exit code, status reason, reason globs; no match = retry),
 * the parent's statusSummary, TerminateJob ending every child, job definition revisions.
 */
import { cliCommand } from "./cli.js";
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

type Status = "SUBMITTED" | "PENDING" | "RUNNABLE" | "STARTING" | "RUNNING" | "SUCCEEDED" | "FAILED";
const STATUSES: Status[] = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"];
const TERMINAL = new Set<Status>(["SUCCEEDED", "FAILED"]);
const ACCOUNT = "123456789012";
const REGION = "us-east-1";

/** Status reason Batch gives a job whose Spot instance was reclaimed. */
export const RECLAIM_REASON = "Host EC2 (instance i-123) terminated.";
/** Status reason of a container that exited by itself. */
export const EXITED_REASON = "Essential container in task exited";

/** Options of {@link startFakeBatch}. */
export interface FakeBatchOptions {
  /** Environment every child gets on top of process.env (the test's S3 endpoint and keys). */
  env?: Record<string, string>;
  /** Children running at once. Default 2. */
  parallelism?: number;
  /** How command[0] of a job is started here; default "compas-ensemble" -> node dist/cli.js (the built CLI). */
  programs?: Record<string, string[]>;
  /** Wait between SIGTERM and SIGKILL when a running job is terminated. Default 10 s (ECS's stopTimeout is 30 s). */
  killGraceMs?: number;
  /** Page size of ListJobs and DescribeJobDefinitions. Default 1000. */
  pageSize?: number;
  /** Start jobs at all; false keeps every job RUNNABLE (scale tests of submission and polling). Default true. */
  start?: boolean;
}

interface Attempt {
  startedAt: number;
  stoppedAt?: number;
  statusReason?: string;
  exitCode?: number;
}

/** One job as the fake holds it (parents, children and single jobs). */
export interface FakeJob {
  jobId: string;
  jobArn: string;
  jobName: string;
  jobQueue: string;
  jobDefinition: string;
  createdAt: number;
  startedAt?: number;
  stoppedAt?: number;
  status: Status;
  statusReason?: string;
  command: string[];
  environment: Record<string, string>;
  retryStrategy?: { attempts?: number; evaluateOnExit?: { onStatusReason?: string; onReason?: string; onExitCode?: string; action?: string }[] };
  timeout?: { attemptDurationSeconds?: number };
  tags: Record<string, string>;
  propagateTags: boolean;
  isTerminated: boolean;
  parent?: FakeJob;
  index?: number;
  children?: FakeJob[];
  attempts: Attempt[];
  exitCode?: number;
  /** Output of the latest attempt (for debugging a failing test). */
  output: string;
  /** Pids of every attempt's process. */
  pids: number[];
  proc?: ChildProcess;
  terminating?: string;
  reclaimed?: boolean;
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
  retryStrategy?: unknown;
  parameters: Record<string, string>;
}

/** A running fake Batch. */
export interface FakeBatch {
  /** `http://127.0.0.1:PORT`, for the executor's `endpoint`. */
  endpoint: string;
  /** Requests that arrived per operation (lower case, e.g. "submitjob"), throttled ones included. */
  requests: Record<string, number>;
  /** Requests answered 429 per operation. */
  throttled: Record<string, number>;
  /** Request bodies in arrival order (throttled ones included). */
  bodies: { op: string; body: Record<string, unknown> }[];
  /** Bodies of accepted SubmitJob requests. */
  submitted(): Record<string, unknown>[];
  /** Answers the next `n` requests (of `op` only, if given) with 429 ThrottlingException. */
  throttle(n: number, op?: string): void;
  /** Carries out the next `n` requests of `op`, then answers 500 ServerException (a lost response). */
  failAfterProcessing(n: number, op: string): void;
  /** The next start of array child `index` (of any job) is killed as a Spot reclaim. */
  reclaimOnce(index: number): void;
  /** Extra environment for array child `index` of every job (e.g. FAKE_COMPAS_FAIL). */
  setChildEnv(index: number, env: Record<string, string>): void;
  /** Forgets every per-index hook. */
  clearHooks(): void;
  /** A job by id (`<parent>:<index>` for children). */
  job(jobId: string): FakeJob | undefined;
  /** Every job and child the fake has. */
  allJobs(): FakeJob[];
  /** Pids of every process the fake started. */
  pids(): number[];
  /** Number of processes running now. */
  running(): number;
  /** Kills every process and closes the server. */
  stop(): Promise<void>;
}

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Starts the fake on 127.0.0.1, port 0.
 * @param options - child environment, parallelism, program mapping
 */
export async function startFakeBatch(options: FakeBatchOptions = {}): Promise<FakeBatch> {
  const parallelism = options.parallelism ?? 2;
  const pageSize = options.pageSize ?? 1000;
  const killGraceMs = options.killGraceMs ?? 10_000;
  const programs: Record<string, string[]> = {
    "compas-ensemble": cliCommand(),
    ...options.programs,
  };
  const requests: Record<string, number> = {};
  const throttled: Record<string, number> = {};
  const bodies: { op: string; body: Record<string, unknown> }[] = [];
  const accepted: Record<string, unknown>[] = [];
  const throttles: { n: number; op?: string }[] = [];
  const lostResponses: { n: number; op: string }[] = [];
  const reclaims = new Map<number, number>();
  const childEnv = new Map<number, Record<string, string>>();
  const jobs = new Map<string, FakeJob>();
  const topLevel: FakeJob[] = [];
  const defs: JobDef[] = [];
  const queue: FakeJob[] = [];
  const active = new Set<FakeJob>();
  const allPids: number[] = [];
  let counter = 0;

  class ClientError extends Error {}

  const parentStatus = (p: FakeJob): Status => {
    const kids = p.children!;
    if (kids.every((c) => TERMINAL.has(c.status))) return kids.some((c) => c.status === "FAILED") ? "FAILED" : "SUCCEEDED";
    if (kids.some((c) => c.status === "RUNNING" || c.status === "STARTING")) return "RUNNING";
    return "PENDING";
  };
  const statusOf = (j: FakeJob): Status => (j.children ? parentStatus(j) : j.status);

  const refreshParent = (p: FakeJob | undefined): void => {
    if (!p) return;
    const s = parentStatus(p);
    if (s === "RUNNING" && !p.startedAt) p.startedAt = Date.now();
    if (TERMINAL.has(s) && !p.stoppedAt) {
      p.stoppedAt = Date.now();
      p.statusReason ??= s === "FAILED" ? "Array Child Job failed" : undefined;
    }
    p.status = s;
  };

  const glob = (pattern: string | undefined, value: string | undefined): boolean => {
    if (pattern === undefined) return true;
    const v = value ?? "";
    return pattern.endsWith("*") ? v.startsWith(pattern.slice(0, -1)) : v === pattern;
  };

  const decide = (job: FakeJob, info: { statusReason?: string; exitCode?: number }): "RETRY" | "EXIT" => {
    const rules = job.retryStrategy?.evaluateOnExit ?? [];
    for (const r of rules) {
      const exitCode = info.exitCode === undefined ? undefined : String(info.exitCode);
      if (r.onExitCode !== undefined && exitCode === undefined) continue;
      if (glob(r.onStatusReason, info.statusReason) && glob(r.onReason, undefined) && glob(r.onExitCode, exitCode)) {
        return (r.action ?? "").toUpperCase() === "EXIT" ? "EXIT" : "RETRY";
      }
    }
    // Batch retries a job that no rule matches.
    return "RETRY";
  };

  const pump = (): void => {
    if (options.start === false) return;
    while (active.size < parallelism && queue.length > 0) start(queue.shift()!);
  };

  const start = (job: FakeJob): void => {
    active.add(job);
    job.status = "RUNNING";
    job.startedAt ??= Date.now();
    job.attempts.push({ startedAt: Date.now() });
    job.output = "";
    refreshParent(job.parent);
    const [program, ...rest] = job.command;
    const argv = [...(programs[program ?? ""] ?? [program ?? "false"]), ...rest];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...options.env,
      ...job.environment,
      ...(job.index !== undefined ? childEnv.get(job.index) : {}),
      AWS_BATCH_JOB_ID: job.jobId,
      AWS_BATCH_JOB_ATTEMPT: String(job.attempts.length),
      AWS_BATCH_JQ_NAME: job.jobQueue,
      AWS_BATCH_CE_NAME: "fake-ce",
    };
    delete env.AWS_BATCH_JOB_ARRAY_INDEX;
    if (job.index !== undefined) env.AWS_BATCH_JOB_ARRAY_INDEX = String(job.index);
    const proc = spawn(argv[0]!, argv.slice(1), { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
    job.proc = proc;
    if (proc.pid !== undefined) {
      job.pids.push(proc.pid);
      allPids.push(proc.pid);
    }
    proc.stdout!.setEncoding("utf8").on("data", (d: string) => (job.output += d));
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => (job.output += d));
    let ended = false;
    const end = (code: number | null): void => {
      if (ended) return;
      ended = true;
      finish(job, code);
    };
    proc.on("error", () => end(127));
    proc.on("close", (code) => end(code));
    const left = job.index !== undefined ? (reclaims.get(job.index) ?? 0) : 0;
    if (left > 0 && job.index !== undefined) {
      reclaims.set(job.index, left - 1);
      job.reclaimed = true;
      proc.kill("SIGKILL");
    }
  };

  const finish = (job: FakeJob, code: number | null): void => {
    active.delete(job);
    job.proc = undefined;
    const attempt = job.attempts.at(-1)!;
    attempt.stoppedAt = Date.now();
    if (job.terminating !== undefined) {
      job.status = "FAILED";
      job.statusReason = job.terminating;
      job.exitCode = code ?? undefined;
      attempt.statusReason = job.terminating;
    } else if (job.reclaimed) {
      job.reclaimed = false;
      job.exitCode = undefined;
      settle(job, { statusReason: RECLAIM_REASON });
    } else if (code === 0) {
      job.status = "SUCCEEDED";
      job.statusReason = EXITED_REASON;
      job.exitCode = 0;
      attempt.exitCode = 0;
      attempt.statusReason = EXITED_REASON;
    } else {
      job.exitCode = code ?? 137;
      settle(job, { statusReason: EXITED_REASON, exitCode: code ?? 137 });
    }
    if (TERMINAL.has(job.status)) job.stoppedAt = Date.now();
    refreshParent(job.parent);
    pump();
  };

  const settle = (job: FakeJob, info: { statusReason: string; exitCode?: number }): void => {
    const attempt = job.attempts.at(-1)!;
    attempt.statusReason = info.statusReason;
    attempt.exitCode = info.exitCode;
    job.statusReason = info.statusReason;
    const max = job.retryStrategy?.attempts ?? 1;
    if (job.attempts.length < max && decide(job, info) === "RETRY") {
      job.status = "RUNNABLE";
      queue.push(job);
    } else {
      job.status = "FAILED";
    }
  };

  const terminateOne = (job: FakeJob, reason: string): void => {
    job.isTerminated = true;
    if (TERMINAL.has(job.status)) return;
    if (job.proc) {
      job.terminating = reason;
      const proc = job.proc;
      proc.kill("SIGTERM");
      setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      }, killGraceMs).unref();
      return;
    }
    const at = queue.indexOf(job);
    if (at >= 0) queue.splice(at, 1);
    job.status = "FAILED";
    job.statusReason = reason;
    job.stoppedAt = Date.now();
  };

  const resolveDef = (ref: string): JobDef => {
    const arn = /^arn:aws:batch:[^:]*:\d+:job-definition\/([^:]+):(\d+)$/.exec(ref);
    const named = /^([^:]+):(\d+)$/.exec(ref);
    const [name, rev] = arn ? [arn[1]!, Number(arn[2])] : named ? [named[1]!, Number(named[2])] : [ref, undefined];
    const candidates = defs.filter((d) => d.jobDefinitionName === name && (rev === undefined ? d.status === "ACTIVE" : d.revision === rev));
    const def = candidates.sort((a, b) => b.revision - a.revision)[0];
    if (!def) throw new ClientError(`Job definition ${ref} does not exist.`);
    return def;
  };

  const newJob = (fields: Omit<FakeJob, "attempts" | "output" | "pids" | "isTerminated" | "createdAt" | "status">): FakeJob => ({
    ...fields,
    createdAt: Date.now(),
    status: "SUBMITTED",
    attempts: [],
    output: "",
    pids: [],
    isTerminated: false,
  });

  const ops: Record<string, (b: Record<string, unknown>) => unknown> = {
    submitjob(b) {
      const jobName = String(b.jobName ?? "");
      if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(jobName)) throw new ClientError(`Job name ${jobName} is invalid.`);
      if (!b.jobQueue) throw new ClientError("jobQueue is required.");
      const def = resolveDef(String(b.jobDefinition ?? ""));
      const overrides = (b.containerOverrides ?? {}) as { command?: string[]; environment?: { name: string; value: string }[] };
      const envList = [...(def.containerProperties.environment ?? []), ...(overrides.environment ?? [])];
      for (const e of overrides.environment ?? []) {
        if (e.name.startsWith("AWS_BATCH")) throw new ClientError(`Environment variable ${e.name} is reserved.`);
      }
      const rs = b.retryStrategy as FakeJob["retryStrategy"] | undefined;
      if (rs && (rs.attempts === undefined || rs.attempts < 1 || rs.attempts > 10)) throw new ClientError("retryStrategy.attempts must be between 1 and 10.");
      if ((rs?.evaluateOnExit?.length ?? 0) > 5) throw new ClientError("At most 5 evaluateOnExit conditions are allowed.");
      const timeout = (b.timeout as FakeJob["timeout"]) ?? def.timeout;
      if (timeout?.attemptDurationSeconds !== undefined && timeout.attemptDurationSeconds < 60) {
        throw new ClientError("attemptDurationSeconds must be at least 60.");
      }
      const tags = (b.tags ?? {}) as Record<string, string>;
      if (Object.keys(tags).length > 50) throw new ClientError("At most 50 tags are allowed.");
      const size = (b.arrayProperties as { size?: number } | undefined)?.size;
      if (size !== undefined && (!Number.isInteger(size) || size < 2 || size > 10_000)) {
        throw new ClientError("Array job size must be between 2 and 10,000.");
      }
      const jobId = `fake-${(++counter).toString().padStart(4, "0")}-${Date.now().toString(36)}`;
      const base = {
        jobName,
        jobQueue: String(b.jobQueue),
        jobDefinition: def.jobDefinitionArn,
        command: overrides.command ?? def.containerProperties.command ?? [],
        environment: Object.fromEntries(envList.map((e) => [e.name, e.value])),
        retryStrategy: rs,
        timeout,
        tags,
        propagateTags: b.propagateTags === true,
      };
      const job = newJob({ ...base, jobId, jobArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job/${jobId}` });
      jobs.set(jobId, job);
      topLevel.push(job);
      accepted.push(b);
      if (size !== undefined) {
        job.status = "PENDING";
        job.children = Array.from({ length: size }, (_, index) => {
          const childId = `${jobId}:${index}`;
          const child = newJob({ ...base, jobId: childId, jobArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job/${childId}`, parent: job, index });
          child.status = "RUNNABLE";
          jobs.set(childId, child);
          return child;
        });
        queue.push(...job.children);
      } else {
        job.status = "RUNNABLE";
        queue.push(job);
      }
      setImmediate(pump);
      return { jobArn: job.jobArn, jobName, jobId };
    },
    describejobs(b) {
      const ids = (b.jobs ?? []) as string[];
      if (ids.length > 100) throw new ClientError("At most 100 job ids per DescribeJobs request.");
      return { jobs: ids.map((id) => jobs.get(id)).filter((j): j is FakeJob => j !== undefined).map(detail) };
    },
    listjobs(b) {
      const status = (b.jobStatus as Status | undefined) ?? "RUNNING";
      const filters = (b.filters ?? []) as { name?: string; values?: string[] }[];
      if (filters.length > 1) throw new ClientError("Only one filter can be used at a time.");
      const byName = filters[0]?.name === "JOB_NAME" ? String(filters[0].values?.[0] ?? "").toLowerCase() : undefined;
      if (filters.length === 1 && byName === undefined) throw new ClientError(`The fake supports only the JOB_NAME filter.`);
      let pool: FakeJob[];
      if (b.arrayJobId) {
        const parent = jobs.get(String(b.arrayJobId));
        if (!parent?.children) throw new ClientError(`${String(b.arrayJobId)} is not an array job.`);
        pool = parent.children;
      } else {
        pool = topLevel.filter((j) => j.jobQueue === b.jobQueue);
      }
      // With a filter Batch ignores jobStatus and returns the newest jobs first.
      const matching =
        byName !== undefined
          ? pool.filter((j) => j.jobName.toLowerCase() === byName).reverse()
          : pool.filter((j) => statusOf(j) === status);
      const max = Math.min(Number(b.maxResults ?? pageSize), pageSize);
      const from = b.nextToken ? Number(b.nextToken) : 0;
      const page = matching.slice(from, from + max);
      return { jobSummaryList: page.map(summary), ...(from + max < matching.length ? { nextToken: String(from + max) } : {}) };
    },
    terminatejob(b) {
      const job = jobs.get(String(b.jobId ?? ""));
      if (!job) throw new ClientError(`Job ${String(b.jobId)} does not exist.`);
      const reason = String(b.reason ?? "");
      if (!reason) throw new ClientError("reason is required.");
      job.isTerminated = true;
      if (job.children) {
        if (!TERMINAL.has(parentStatus(job))) job.statusReason = reason;
        for (const c of job.children) terminateOne(c, reason);
        refreshParent(job);
      } else {
        terminateOne(job, reason);
        refreshParent(job.parent);
      }
      return {};
    },
    registerjobdefinition(b) {
      const name = String(b.jobDefinitionName ?? "");
      if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(name)) throw new ClientError(`Job definition name ${name} is invalid.`);
      if (b.type !== "container") throw new ClientError("Only container job definitions are supported by the fake.");
      const cp = b.containerProperties as JobDef["containerProperties"] | undefined;
      if (!cp?.image) throw new ClientError("containerProperties.image is required.");
      const revision = Math.max(0, ...defs.filter((d) => d.jobDefinitionName === name).map((d) => d.revision)) + 1;
      const def: JobDef = {
        jobDefinitionName: name,
        jobDefinitionArn: `arn:aws:batch:${REGION}:${ACCOUNT}:job-definition/${name}:${revision}`,
        revision,
        status: "ACTIVE",
        type: "container",
        // Batch fills in empty lists for what the request left out.
        containerProperties: { volumes: [], environment: [], mountPoints: [], ulimits: [], secrets: [], ...cp },
        timeout: b.timeout as JobDef["timeout"],
        tags: b.tags as Record<string, string> | undefined,
        propagateTags: b.propagateTags as boolean | undefined,
        platformCapabilities: (b.platformCapabilities as string[] | undefined) ?? ["EC2"],
        retryStrategy: b.retryStrategy,
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
      const max = Math.min(Number(b.maxResults ?? pageSize), pageSize);
      const from = b.nextToken ? Number(b.nextToken) : 0;
      return { jobDefinitions: list.slice(from, from + max), ...(from + max < list.length ? { nextToken: String(from + max) } : {}) };
    },
  };

  function detail(j: FakeJob): Record<string, unknown> {
    const status = statusOf(j);
    return {
      jobArn: j.jobArn,
      jobName: j.jobName,
      jobId: j.jobId,
      jobQueue: j.jobQueue,
      status,
      ...(j.statusReason ? { statusReason: j.statusReason } : {}),
      createdAt: j.createdAt,
      ...(j.startedAt ? { startedAt: j.startedAt } : {}),
      ...(j.stoppedAt ? { stoppedAt: j.stoppedAt } : {}),
      jobDefinition: j.jobDefinition,
      dependsOn: [],
      parameters: {},
      attempts: j.attempts
        .filter((a) => a.stoppedAt !== undefined)
        .map((a) => ({ container: a.exitCode !== undefined ? { exitCode: a.exitCode } : {}, startedAt: a.startedAt, stoppedAt: a.stoppedAt, statusReason: a.statusReason })),
      container: {
        command: j.command,
        environment: Object.entries(j.environment).map(([name, value]) => ({ name, value })),
        ...(j.exitCode !== undefined && TERMINAL.has(status) ? { exitCode: j.exitCode } : {}),
      },
      ...(j.retryStrategy ? { retryStrategy: j.retryStrategy } : {}),
      ...(j.timeout ? { timeout: j.timeout } : {}),
      tags: j.tags,
      propagateTags: j.propagateTags,
      platformCapabilities: ["EC2"],
      ...(j.children
        ? {
            arrayProperties: {
              size: j.children.length,
              statusSummary: Object.fromEntries(STATUSES.map((s) => [s, j.children!.filter((c) => c.status === s).length])),
              statusSummaryLastUpdatedAt: Date.now(),
            },
          }
        : j.index !== undefined
          ? { arrayProperties: { index: j.index } }
          : {}),
      ...(j.isTerminated ? { isTerminated: true } : {}),
    };
  }

  function summary(j: FakeJob): Record<string, unknown> {
    const status = statusOf(j);
    return {
      jobArn: j.jobArn,
      jobId: j.jobId,
      jobName: j.jobName,
      createdAt: j.createdAt,
      status,
      ...(j.statusReason ? { statusReason: j.statusReason } : {}),
      ...(j.startedAt ? { startedAt: j.startedAt } : {}),
      ...(j.stoppedAt ? { stoppedAt: j.stoppedAt } : {}),
      ...(j.exitCode !== undefined && TERMINAL.has(status) ? { container: { exitCode: j.exitCode } } : {}),
      ...(j.index !== undefined ? { arrayProperties: { index: j.index } } : j.children ? { arrayProperties: { size: j.children.length } } : {}),
      jobDefinition: j.jobDefinition,
      ...(j.isTerminated ? { isTerminated: true } : {}),
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
      if (t) {
        t.n--;
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
    requests,
    throttled,
    bodies,
    submitted: () => [...accepted],
    throttle(n, op) {
      throttles.push({ n, op });
    },
    failAfterProcessing(n, op) {
      lostResponses.push({ n, op });
    },
    reclaimOnce(index) {
      reclaims.set(index, (reclaims.get(index) ?? 0) + 1);
    },
    setChildEnv(index, env) {
      childEnv.set(index, { ...childEnv.get(index), ...env });
    },
    clearHooks() {
      reclaims.clear();
      childEnv.clear();
      throttles.length = 0;
      lostResponses.length = 0;
    },
    job: (id) => jobs.get(id),
    allJobs: () => [...jobs.values()],
    pids: () => [...allPids],
    running: () => active.size,
    async stop() {
      queue.length = 0;
      // SIGTERM first, so each worker stops its COMPAS process group instead of orphaning it.
      const procs = [...active].map((j) => j.proc).filter((p): p is ChildProcess => p !== undefined);
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              const timer = setTimeout(() => p.kill("SIGKILL"), killGraceMs);
              p.once("close", () => {
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

function send(res: http.ServerResponse, status: number, type: string, body: Record<string, unknown>): void {
  res.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type });
  res.end(JSON.stringify({ __type: type, ...body }));
}
