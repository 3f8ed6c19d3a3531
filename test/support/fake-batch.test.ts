// The fake Batch control plane checked against the AWS Batch API reference it was written
// from (test/support/fake-batch/README.md): the executor's tests are only worth what the fake's
// rules are worth. Containers here are small shell commands; time is stopped (timeScale 0) and
// moved by hand wherever a rule depends on it.
import {
  BatchClient,
  DescribeJobsCommand,
  ListJobsCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
  TerminateJobCommand,
  type EvaluateOnExit as SdkRule,
  type JobDetail,
  type SubmitJobCommandInput,
} from "@aws-sdk/client-batch";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  ATTEMPT_TIMEOUT,
  decideRetry,
  ESSENTIAL_CONTAINER_EXITED,
  FakeClock,
  globMatches,
  HOST_TERMINATED,
  retryStrategyProblem,
  startFakeBatch,
  TASK_FAILED_TO_START,
  type FakeBatch,
  type FakeBatchOptions,
} from "./fake-batch.js";
import { isAlive, waitFor } from "./processes.js";

const CREDENTIALS = { accessKeyId: "AKIDFAKECONFORMANCE", secretAccessKey: "conformance-secret" };
const RECLAIM = "Host EC2 (instance i-0123456789abcdef0) terminated.";
const PULL = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref x: not found";

// The executor's rules (src/executors/batch/_submission.ts), written out independently.
const EXECUTOR_RULES: SdkRule[] = [
  { onStatusReason: "Host EC2*", action: "RETRY" },
  { onExitCode: "75", action: "RETRY" },
  { onReason: "*", action: "EXIT" },
];

describe("evaluateOnExit as the API reference states it", () => {
  it("matches a pattern ending in * as a prefix and any other pattern as the whole value", () => {
    expect(globMatches("Host EC2*", RECLAIM)).toBe(true);
    expect(globMatches("Host EC2", RECLAIM)).toBe(false);
    expect(globMatches("Host EC2 (instance*", RECLAIM)).toBe(true);
    expect(globMatches("host ec2*", RECLAIM)).toBe(false);
    expect(globMatches("7*", "75")).toBe(true);
    expect(globMatches("7", "75")).toBe(false);
    expect(globMatches("*", undefined)).toBe(true);
    expect(globMatches("Essential*", undefined)).toBe(false);
  });

  it("lets the first rule whose patterns all match decide, and retries when none matches", () => {
    expect(decideRetry(EXECUTOR_RULES, { statusReason: RECLAIM })).toEqual({ action: "RETRY", rule: 0 });
    expect(decideRetry(EXECUTOR_RULES, { statusReason: ESSENTIAL_CONTAINER_EXITED, exitCode: 75 })).toEqual({ action: "RETRY", rule: 1 });
    expect(decideRetry(EXECUTOR_RULES, { statusReason: ESSENTIAL_CONTAINER_EXITED, exitCode: 1 })).toEqual({ action: "EXIT", rule: 2 });
    expect(decideRetry(EXECUTOR_RULES, { statusReason: TASK_FAILED_TO_START, reason: PULL })).toEqual({ action: "EXIT", rule: 2 });
    // Without the catch-all, an unmatched failure is retried (the documented default).
    expect(decideRetry(EXECUTOR_RULES.slice(0, 2), { statusReason: ESSENTIAL_CONTAINER_EXITED, exitCode: 1 })).toEqual({ action: "RETRY", rule: -1 });
    expect(decideRetry([], { exitCode: 1 })).toEqual({ action: "RETRY", rule: -1 });
    // Every pattern of a rule must match; the action is case-insensitive.
    expect(decideRetry([{ onStatusReason: "Host EC2*", onExitCode: "0", action: "exit" }], { statusReason: RECLAIM }).action).toBe("RETRY");
    expect(decideRetry([{ onStatusReason: "Host EC2*", action: "exit" }], { statusReason: RECLAIM }).action).toBe("EXIT");
    // A rule written against the wrong field does not catch a lost host: only `*` would.
    expect(decideRetry([{ onReason: "Host EC2*", action: "RETRY" }, { onReason: "*", action: "EXIT" }], { statusReason: RECLAIM })).toEqual({ action: "EXIT", rule: 1 });
  });

  it("refuses what Batch refuses: more than 5 rules, attempts outside 1-10, bad pattern characters or lengths, rules without attempts", () => {
    const rule = { onExitCode: "1", action: "EXIT" };
    expect(retryStrategyProblem({ attempts: 3, evaluateOnExit: EXECUTOR_RULES })).toBeUndefined();
    expect(retryStrategyProblem({ attempts: 3, evaluateOnExit: Array(5).fill(rule) })).toBeUndefined();
    expect(retryStrategyProblem({ attempts: 3, evaluateOnExit: Array(6).fill(rule) })).toMatch(/at most 5/);
    expect(retryStrategyProblem({ attempts: 0 })).toMatch(/between 1 and 10/);
    expect(retryStrategyProblem({ attempts: 11 })).toMatch(/between 1 and 10/);
    expect(retryStrategyProblem({ evaluateOnExit: [rule] })).toMatch(/attempts is required/);
    expect(retryStrategyProblem({ attempts: 2, evaluateOnExit: [{ onStatusReason: "Host EC2 (instance*", action: "RETRY" }] })).toMatch(/characters/);
    expect(retryStrategyProblem({ attempts: 2, evaluateOnExit: [{ onExitCode: "7a", action: "RETRY" }] })).toMatch(/characters/);
    expect(retryStrategyProblem({ attempts: 2, evaluateOnExit: [{ onReason: "*x", action: "RETRY" }] })).toMatch(/characters/);
    expect(retryStrategyProblem({ attempts: 2, evaluateOnExit: [{ onReason: "a".repeat(513), action: "RETRY" }] })).toMatch(/512/);
    expect(retryStrategyProblem({ attempts: 2, evaluateOnExit: [{ onReason: "a".repeat(512), action: "RETRY" }] })).toBeUndefined();
    expect(retryStrategyProblem({ attempts: 2, evaluateOnExit: [{ onReason: "x", action: "IGNORE" }] })).toMatch(/RETRY or EXIT/);
  });
});

describe("the fake's clock", () => {
  it("runs timers in fake-time order when advanced by hand, and scales real time", async () => {
    const clock = new FakeClock(0);
    const fired: string[] = [];
    const t0 = clock.now();
    clock.after(60_000, () => fired.push("timeout"));
    clock.after(1_000, () => fired.push("schedule"));
    const cancel = clock.after(2_000, () => fired.push("cancelled"));
    cancel();
    clock.advance(59_999);
    expect(fired).toEqual(["schedule"]);
    expect(clock.now() - t0).toBe(59_999);
    clock.advance(1);
    expect(fired).toEqual(["schedule", "timeout"]);
    clock.setScale(1000);
    const due = new Promise<number>((resolve) => clock.after(5_000, () => resolve(clock.now())));
    const start = clock.now();
    expect((await due) - start).toBeGreaterThanOrEqual(5_000);
    clock.stop();
  });
});

describe("the fake against the SDK", () => {
  const fakes: FakeBatch[] = [];
  const clients: BatchClient[] = [];
  let dir = "";
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    for (const f of fakes.splice(0)) await f.stop();
  });

  async function setup(options: FakeBatchOptions = {}): Promise<{ fake: FakeBatch; client: BatchClient; definition: string }> {
    dir = mkdtempSync(join(tmpdir(), "fake-batch-"));
    // Reads see jobs at once unless a test is about eventual consistency.
    const fake = await startFakeBatch({ timeScale: 0, visibilityDelayMs: 0, ...options });
    fakes.push(fake);
    const client = new BatchClient({ endpoint: fake.endpoint, region: "us-east-1", credentials: CREDENTIALS, maxAttempts: 1 });
    clients.push(client);
    const def = await client.send(
      new RegisterJobDefinitionCommand({ jobDefinitionName: "sh", type: "container", containerProperties: { image: "public.ecr.aws/docker/library/busybox:1" } }),
    );
    return { fake, client, definition: def.jobDefinitionArn! };
  }
  const describeOne = async (client: BatchClient, id: string): Promise<JobDetail | undefined> =>
    (await client.send(new DescribeJobsCommand({ jobs: [id] }))).jobs?.[0];
  const untilStatus = async (client: BatchClient, id: string, status: string): Promise<JobDetail> => {
    let last: JobDetail | undefined;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      last = await describeOne(client, id);
      if (last?.status === status) return last;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`job ${id} did not reach ${status}; it is ${last?.status}`);
  };
  const sh = (script: string): SubmitJobCommandInput["containerOverrides"] => ({ command: ["/bin/sh", "-c", script] });

  it("moves a job through SUBMITTED, RUNNABLE, STARTING and RUNNING to SUCCEEDED, readable only after the visibility delay", async () => {
    let open = false;
    const { fake, client, definition } = await setup({ visibilityDelayMs: 3_000, schedulingDelayMs: 1_000, startingDelayMs: 2_000, start: () => open });
    const go = join(dir, "go");
    const { jobId } = await client.send(
      new SubmitJobCommand({ jobName: "states", jobQueue: "q", jobDefinition: definition, containerOverrides: sh(`while [ ! -e ${go} ]; do sleep 0.02; done`) }),
    );
    expect(await describeOne(client, jobId!)).toBeUndefined();
    expect((await client.send(new ListJobsCommand({ jobQueue: "q", filters: [{ name: "JOB_NAME", values: ["states"] }] }))).jobSummaryList).toEqual([]);
    expect(fake.invisibleReads).toEqual({ describejobs: 1, listjobs: 1 });
    fake.clock.advance(1_000);
    expect(await describeOne(client, jobId!)).toBeUndefined();
    fake.clock.advance(2_000);
    expect((await describeOne(client, jobId!))?.status).toBe("RUNNABLE");
    open = true;
    fake.reschedule();
    expect((await describeOne(client, jobId!))?.status).toBe("STARTING");
    fake.clock.advance(2_000);
    const running = await describeOne(client, jobId!);
    expect(running?.status).toBe("RUNNING");
    expect(running?.startedAt).toBe(fake.clock.now());
    expect((await client.send(new ListJobsCommand({ jobQueue: "q" }))).jobSummaryList?.map((s) => s.jobId)).toEqual([jobId]);
    writeFileSync(go, "");
    const done = await untilStatus(client, jobId!, "SUCCEEDED");
    expect(done.statusReason).toBe(ESSENTIAL_CONTAINER_EXITED);
    expect(done.container?.exitCode).toBe(0);
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts![0]).toMatchObject({ statusReason: ESSENTIAL_CONTAINER_EXITED, container: { exitCode: 0 } });
  });

  it("uses the job definition's retry strategy unless SubmitJob gives one, which replaces it whole", async () => {
    const { client } = await setup({ timeScale: 1_000 });
    const def = await client.send(
      new RegisterJobDefinitionCommand({
        jobDefinitionName: "retrying",
        type: "container",
        containerProperties: { image: "busybox" },
        // Lower case on purpose: Batch reads the action case-insensitively.
        retryStrategy: { attempts: 3, evaluateOnExit: [{ onExitCode: "4", action: "exit" as "EXIT" }] },
      }),
    );
    const submit = async (name: string, script: string, override?: SubmitJobCommandInput["retryStrategy"]) =>
      (await client.send(new SubmitJobCommand({ jobName: name, jobQueue: "q", jobDefinition: def.jobDefinitionArn, containerOverrides: sh(script), ...(override ? { retryStrategy: override } : {}) }))).jobId!;
    const fromDefinition = await submit("def-exit5", "exit 5");
    const stoppedByRule = await submit("def-exit4", "exit 4");
    const overridden = await submit("override-exit4", "exit 4", { attempts: 2 });
    const a = await untilStatus(client, fromDefinition, "FAILED");
    const b = await untilStatus(client, stoppedByRule, "FAILED");
    const c = await untilStatus(client, overridden, "FAILED");
    expect(a.attempts?.map((x) => x.container?.exitCode)).toEqual([5, 5, 5]);
    expect(b.attempts?.map((x) => x.container?.exitCode)).toEqual([4]);
    // The override has no rules, so the definition's EXIT on 4 no longer applies.
    expect(c.attempts?.map((x) => x.container?.exitCode)).toEqual([4, 4]);
    expect(c.retryStrategy).toEqual({ attempts: 2 });
  });

  it("stops an attempt at attemptDurationSeconds with SIGTERM, then SIGKILL after the stop timeout, and does not retry it", async () => {
    const { fake, client, definition } = await setup({ schedulingDelayMs: 0, startingDelayMs: 0, killGraceMs: 30_000 });
    const stubborn = await client.send(
      new SubmitJobCommand({
        jobName: "stubborn",
        jobQueue: "q",
        jobDefinition: definition,
        containerOverrides: sh(`trap '' TERM; touch ${join(dir, "up")}; while :; do sleep 0.02; done`),
        timeout: { attemptDurationSeconds: 60 },
        retryStrategy: { attempts: 3 },
      }),
    );
    fake.clock.advance(0);
    await waitFor(() => existsSync(join(dir, "up")), "the container to start");
    const proc = fake.job(stubborn.jobId!)!.proc!;
    fake.clock.advance(59_999);
    expect(fake.job(stubborn.jobId!)!.status).toBe("RUNNING");
    fake.clock.advance(1);
    // SIGTERM is ignored; the stop timeout has not passed.
    expect(isAlive(proc.pid!)).toBe(true);
    fake.clock.advance(30_000);
    const done = await untilStatus(client, stubborn.jobId!, "FAILED");
    expect(done.statusReason).toBe(ATTEMPT_TIMEOUT);
    expect(done.attempts?.map((a) => [a.statusReason, a.container?.exitCode])).toEqual([[ATTEMPT_TIMEOUT, 137]]);
  });

  it("keeps an array parent PENDING with a statusSummary while its 10,000 children wait RUNNABLE, lists them in pages, and cancels them all", async () => {
    const { fake, client, definition } = await setup({ start: false, schedulingDelayMs: 1_000 });
    const { jobId } = await client.send(new SubmitJobCommand({ jobName: "big", jobQueue: "q", jobDefinition: definition, arrayProperties: { size: 10_000 }, containerOverrides: sh("true") }));
    fake.clock.advance(999);
    const submitted = await describeOne(client, jobId!);
    expect(submitted?.status).toBe("SUBMITTED");
    expect((await client.send(new ListJobsCommand({ arrayJobId: jobId, jobStatus: "RUNNABLE" }))).jobSummaryList).toEqual([]);
    fake.clock.advance(1);
    const parent = await describeOne(client, jobId!);
    expect(parent?.status).toBe("PENDING");
    expect(parent?.arrayProperties).toMatchObject({
      size: 10_000,
      statusSummary: { SUBMITTED: 0, PENDING: 0, RUNNABLE: 10_000, STARTING: 0, RUNNING: 0, SUCCEEDED: 0, FAILED: 0 },
    });
    const ids: string[] = [];
    let pages = 0;
    let nextToken: string | undefined;
    do {
      const res = await client.send(new ListJobsCommand({ arrayJobId: jobId, jobStatus: "RUNNABLE", nextToken }));
      ids.push(...(res.jobSummaryList ?? []).map((s) => s.jobId!));
      nextToken = res.nextToken;
      pages++;
    } while (nextToken);
    expect(pages).toBe(10);
    expect(ids).toEqual(Array.from({ length: 10_000 }, (_, i) => `${jobId}:${i}`));
    const child = await describeOne(client, `${jobId}:9999`);
    expect(child).toMatchObject({ status: "RUNNABLE", arrayProperties: { index: 9999 } });
    await client.send(new TerminateJobCommand({ jobId, reason: "enough" }));
    const ended = await describeOne(client, jobId!);
    expect(ended).toMatchObject({ status: "FAILED", statusReason: "enough", isTerminated: true });
    expect(ended?.arrayProperties?.statusSummary?.FAILED).toBe(10_000);
    expect(await describeOne(client, `${jobId}:0`)).toMatchObject({ status: "FAILED", statusReason: "enough", isCancelled: true });
  });

  it("reports a lost host as Host EC2 (instance ...) terminated., kills every process of the attempt, and retries it on another instance", async () => {
    const { fake, client, definition } = await setup({ schedulingDelayMs: 0, startingDelayMs: 0 });
    const pidFile = join(dir, "sleep.pid");
    const { jobId } = await client.send(
      new SubmitJobCommand({
        jobName: "spot",
        jobQueue: "q",
        jobDefinition: definition,
        containerOverrides: sh(`if [ "$AWS_BATCH_JOB_ATTEMPT" = 1 ]; then sleep 300 & echo $! > ${pidFile}; wait; fi`),
        retryStrategy: { attempts: 2, evaluateOnExit: EXECUTOR_RULES },
      }),
    );
    fake.clock.advance(0);
    await waitFor(() => existsSync(pidFile) && readPid(pidFile) > 0, "the first attempt's sleep");
    const grandchild = readPid(pidFile);
    fake.reclaim(jobId!);
    await waitFor(() => fake.job(jobId!)!.attempts.length === 2, "a second attempt");
    fake.clock.advance(0);
    const done = await untilStatus(client, jobId!, "SUCCEEDED");
    expect(isAlive(grandchild)).toBe(false);
    expect(done.attempts?.[0]?.statusReason).toMatch(HOST_TERMINATED);
    expect(done.attempts?.[0]?.container?.exitCode).toBeUndefined();
    expect(done.attempts?.[1]?.statusReason).toBe(ESSENTIAL_CONTAINER_EXITED);
    expect(done.attempts?.[0]?.container?.containerInstanceArn).not.toBe(done.attempts?.[1]?.container?.containerInstanceArn);
  });

  it("fails an attempt whose image cannot be pulled in STARTING, with Task failed to start and CannotPullContainerError, never starting the container", async () => {
    const { fake, client, definition } = await setup({ schedulingDelayMs: 0, startingDelayMs: 0 });
    fake.removeImage("public.ecr.aws/docker/library/busybox:1");
    const { jobId } = await client.send(
      new SubmitJobCommand({ jobName: "pull", jobQueue: "q", jobDefinition: definition, containerOverrides: sh("true"), retryStrategy: { attempts: 3, evaluateOnExit: EXECUTOR_RULES } }),
    );
    fake.clock.advance(0);
    fake.clock.advance(0);
    const done = await untilStatus(client, jobId!, "FAILED");
    expect(done.statusReason).toBe(TASK_FAILED_TO_START);
    expect(done.container?.reason).toMatch(/^CannotPullContainerError: /);
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts![0]!.startedAt).toBeUndefined();
    expect(fake.job(jobId!)!.pids).toEqual([]);
    const [listed] = (await client.send(new ListJobsCommand({ jobQueue: "q", jobStatus: "FAILED" }))).jobSummaryList ?? [];
    expect(listed?.container?.reason).toMatch(/^CannotPullContainerError: /);
  });

  it("TerminateJob stops a running job and cancels a waiting one, and neither is retried", async () => {
    const { fake, client, definition } = await setup({ schedulingDelayMs: 0, startingDelayMs: 0, parallelism: 1 });
    const up = join(dir, "up");
    const retry = { attempts: 3 };
    const running = (await client.send(new SubmitJobCommand({ jobName: "a", jobQueue: "q", jobDefinition: definition, containerOverrides: sh(`touch ${up}; sleep 300`), retryStrategy: retry }))).jobId!;
    const waiting = (await client.send(new SubmitJobCommand({ jobName: "b", jobQueue: "q", jobDefinition: definition, containerOverrides: sh("true"), retryStrategy: retry }))).jobId!;
    fake.clock.advance(0);
    await waitFor(() => existsSync(up), "the first job to run");
    expect(fake.job(waiting)!.status).toBe("RUNNABLE");
    await client.send(new TerminateJobCommand({ jobId: waiting, reason: "not needed" }));
    await client.send(new TerminateJobCommand({ jobId: running, reason: "stop now" }));
    const a = await untilStatus(client, running, "FAILED");
    expect(a).toMatchObject({ statusReason: "stop now", isTerminated: true });
    expect(a.attempts?.map((x) => x.container?.exitCode)).toEqual([143]);
    expect(await describeOne(client, waiting)).toMatchObject({ status: "FAILED", statusReason: "not needed", isCancelled: true, attempts: [] });
    const err = await client.send(new TerminateJobCommand({ jobId: running, reason: "" })).catch((e: unknown) => e);
    expect((err as Error).name).toBe("ClientException");
  });

  it("ListJobs by JOB_NAME ignores case and jobStatus, skips array children, lists the newest first and pages at 100", async () => {
    const { fake, client, definition } = await setup({ start: false });
    const ids: string[] = [];
    for (let i = 0; i < 105; i++) {
      ids.push((await client.send(new SubmitJobCommand({ jobName: i % 2 ? "Sweep-A" : "sweep-a", jobQueue: "q", jobDefinition: definition, containerOverrides: sh("true") }))).jobId!);
      fake.clock.advance(1);
    }
    await client.send(new SubmitJobCommand({ jobName: "other", jobQueue: "q", jobDefinition: definition, arrayProperties: { size: 2 }, containerOverrides: sh("true") }));
    fake.clock.advance(5_000);
    const first = await client.send(new ListJobsCommand({ jobQueue: "q", jobStatus: "SUCCEEDED", filters: [{ name: "JOB_NAME", values: ["SWEEP-a"] }] }));
    expect(first.jobSummaryList).toHaveLength(100);
    expect(first.jobSummaryList![0]!.jobId).toBe(ids.at(-1));
    const rest = await client.send(new ListJobsCommand({ jobQueue: "q", filters: [{ name: "JOB_NAME", values: ["SWEEP-a"] }], nextToken: first.nextToken }));
    expect(rest.jobSummaryList?.map((s) => s.jobId)).toEqual(ids.slice(0, 5).reverse());
    const prefix = await client.send(new ListJobsCommand({ jobQueue: "q", filters: [{ name: "JOB_NAME", values: ["oth*"] }] }));
    expect(prefix.jobSummaryList?.map((s) => s.jobName)).toEqual(["other"]);
  });

  it("refuses the requests Batch refuses, with ClientException", async () => {
    const { client, definition } = await setup();
    const refused = async (input: Partial<SubmitJobCommandInput>): Promise<string> => {
      const err = await client.send(new SubmitJobCommand({ jobName: "x", jobQueue: "q", jobDefinition: definition, ...input })).catch((e: unknown) => e);
      expect((err as Error).name).toBe("ClientException");
      return (err as Error).message;
    };
    expect(await refused({ arrayProperties: { size: 1 } })).toMatch(/between 2 and 10,000/);
    expect(await refused({ arrayProperties: { size: 10_001 } })).toMatch(/between 2 and 10,000/);
    expect(await refused({ timeout: { attemptDurationSeconds: 59 } })).toMatch(/at least 60/);
    expect(await refused({ retryStrategy: { attempts: 3, evaluateOnExit: Array(6).fill({ onReason: "*", action: "EXIT" }) } })).toMatch(/at most 5/);
    expect(await refused({ jobName: "-bad" })).toMatch(/Job name/);
    expect(await refused({ containerOverrides: { environment: [{ name: "AWS_BATCH_JOB_ID", value: "x" }] } })).toMatch(/reserved/);
    expect(await refused({ jobDefinition: "missing:1" })).toMatch(/does not exist/);
    const many = await client.send(new DescribeJobsCommand({ jobs: Array.from({ length: 101 }, (_, i) => `j${i}`) })).catch((e: unknown) => e);
    expect((many as Error).message).toMatch(/At most 100/);
    const noSelector = await client.send(new ListJobsCommand({})).catch((e: unknown) => e);
    expect((noSelector as Error).message).toMatch(/exactly one of jobQueue/);
  });
});

function readPid(file: string): number {
  try {
    return Number(readFileSync(file, "utf8").trim()) || 0;
  } catch {
    return 0;
  }
}
