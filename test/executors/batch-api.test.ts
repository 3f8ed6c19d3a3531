import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { probeCompas } from "../../src/compas/probe.js";
import { buildPlan } from "../../src/plan/build.js";
import { isCompasEnsembleError } from "../../src/errors.js";
import { BatchApi } from "../../src/executors/batch/_api.js";
import { isThrottlingError } from "../../src/executors/batch/_backoff.js";
import { backoffDelayMs } from "../../src/util/retry.js";
import { childTaskStatus, failureReason, type ChildView } from "../../src/executors/batch/_states.js";
import { groupTasks, retryStrategy, submitJobInput, type SubmissionContext } from "../../src/executors/batch/_submission.js";
import {
  BatchExecutor,
  batchStatusToTaskState,
  ensureJobDefinition,
  jobDefinitionInput,
  reattachBatchExecutor,
  resolveBatchOptions,
  SPEC_TAG,
} from "../../src/executors/batch/index.js";
import { expandGrid, sliceGrid, sparseGrid } from "../../src/grid/index.js";
import type { Fragment } from "../../src/manifest/schema.js";
import { LocalStore } from "../../src/store/local.js";
import { startFakeBatch, type FakeBatch } from "../support/fake-batch.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { openStore } from "../../src/store/open.js";
import { indexListKey } from "../../src/store/keys.js";
import { fullGrid } from "../../src/grid/index.js";
import { HANDLE_KEY } from "../../src/store/keys.js";
import { waitFor } from "../support/processes.js";

const DUMMY = { accessKeyId: "AKIDFAKEBATCH", secretAccessKey: "fake-batch-secret" };
const FAST_RETRY = { maxRetries: 4, baseDelayMs: 2, maxDelayMs: 10 };

describe("Batch API calls against the fake control plane", () => {
  let fake: FakeBatch;
  let api: BatchApi;
  const retries: { operation: string; throttled: boolean }[] = [];
  beforeAll(async () => {
    fake = await startFakeBatch();
    api = new BatchApi({ endpoint: fake.endpoint, region: "us-east-1", credentials: DUMMY, apiRetry: FAST_RETRY, onRetry: (r) => retries.push(r) });
  });
  afterAll(async () => {
    api?.destroy();
    await fake?.stop();
  });
  beforeEach(() => {
    retries.length = 0;
    fake.clearHooks();
  });

  const spec = { name: "ce-unit", image: "example.org/compas-ensemble:1", vcpus: 1, memoryMiB: 2048, jobRoleArn: "arn:aws:iam::123456789012:role/ce", environment: { B: "2", A: "1" } };

  it("registers a job definition from a spec once and reuses the identical ACTIVE one", async () => {
    const before = { ...fake.requests };
    const first = await ensureJobDefinition(api, spec);
    const second = await ensureJobDefinition(api, { ...spec, environment: { A: "1", B: "2" } });
    expect(first.registered).toBe(true);
    expect(second).toEqual({ jobDefinition: first.jobDefinition, registered: false });
    expect((fake.requests.registerjobdefinition ?? 0) - (before.registerjobdefinition ?? 0)).toBe(1);
    expect((fake.requests.describejobdefinitions ?? 0) - (before.describejobdefinitions ?? 0)).toBe(2);
  });

  it("registers a new revision when the spec differs, and finds each revision again", async () => {
    const small = await ensureJobDefinition(api, { ...spec, name: "ce-rev" });
    const big = await ensureJobDefinition(api, { ...spec, name: "ce-rev", memoryMiB: 4096 });
    expect(small.jobDefinition).toMatch(/job-definition\/ce-rev:1$/);
    expect(big.jobDefinition).toMatch(/job-definition\/ce-rev:2$/);
    expect(await ensureJobDefinition(api, { ...spec, name: "ce-rev" })).toEqual({ jobDefinition: small.jobDefinition, registered: false });
    expect(await ensureJobDefinition(api, { ...spec, name: "ce-rev", memoryMiB: 4096 })).toEqual({ jobDefinition: big.jobDefinition, registered: false });
  });

  it("builds the definition with resources, role, sorted environment and a hash tag of the spec", () => {
    const input = jobDefinitionInput(spec);
    expect(input.containerProperties?.resourceRequirements).toEqual([
      { type: "VCPU", value: "1" },
      { type: "MEMORY", value: "2048" },
    ]);
    expect(input.containerProperties?.environment).toEqual([
      { name: "A", value: "1" },
      { name: "B", value: "2" },
    ]);
    expect(input.containerProperties?.jobRoleArn).toBe(spec.jobRoleArn);
    expect(input.tags?.[SPEC_TAG]).toMatch(/^[0-9a-f]{64}$/);
    expect(jobDefinitionInput({ ...spec, image: "other:2" }).tags?.[SPEC_TAG]).not.toBe(input.tags?.[SPEC_TAG]);
  });

  it("uses a named job definition as is, without any definition request", async () => {
    const before = { ...fake.requests };
    const ex = new BatchExecutor({ endpoint: fake.endpoint, region: "us-east-1", credentials: DUMMY, jobQueue: "q", jobDefinition: "existing:3" });
    expect(ex.resolvedOptions.jobDefinition).toBe("existing:3");
    expect(fake.requests.describejobdefinitions ?? 0).toBe(before.describejobdefinitions ?? 0);
    ex.close();
  });

  it("retries throttled responses (429 ThrottlingException) with backoff until they pass", async () => {
    const def = await ensureJobDefinition(api, spec);
    fake.throttle(3, "submitjob");
    const before = fake.requests.submitjob ?? 0;
    const res = await api.submitJob({
      jobName: "throttled",
      jobQueue: "q",
      jobDefinition: def.jobDefinition,
      arrayProperties: { size: 2 },
      containerOverrides: { command: ["true"] },
    });
    expect(res.jobId).toBeTruthy();
    expect((fake.requests.submitjob ?? 0) - before).toBe(4);
    expect(fake.submitted().filter((b) => b.jobName === "throttled")).toHaveLength(1);
    expect(retries).toEqual([1, 2, 3].map(() => ({ operation: "SubmitJob", retry: expect.any(Number), delayMs: expect.any(Number), throttled: true })));
  });

  it("gives up after the configured retries with BATCH_API, the throttling error as cause and a hint", async () => {
    fake.throttle(10, "describejobs");
    const before = fake.requests.describejobs ?? 0;
    const err = await api.describeJobs(["nope"]).catch((e: unknown) => e);
    expect(isCompasEnsembleError(err, "BATCH_API")).toBe(true);
    expect((err as Error).message).toMatch(/^AWS Batch DescribeJobs failed \(HTTP 429\): ThrottlingException/);
    expect(isThrottlingError((err as Error).cause)).toBe(true);
    expect((err as { hint?: string }).hint).toMatch(/throttling/);
    expect((fake.requests.describejobs ?? 0) - before).toBe(1 + FAST_RETRY.maxRetries);
  });

  it("does not submit twice when Batch created the job but the response was lost (5xx)", async () => {
    const def = await ensureJobDefinition(api, spec);
    fake.failAfterProcessing(1, "submitjob");
    const before = { submit: fake.requests.submitjob ?? 0, list: fake.requests.listjobs ?? 0, jobs: fake.submitted().length };
    const res = await api.submitJob({ jobName: "lost-response-1", jobQueue: "q", jobDefinition: def.jobDefinition, arrayProperties: { size: 3 } });
    expect(fake.submitted().length - before.jobs).toBe(1);
    expect((fake.requests.submitjob ?? 0) - before.submit).toBe(1);
    expect((fake.requests.listjobs ?? 0) - before.list).toBeGreaterThanOrEqual(1);
    expect(fake.job(res.jobId!)?.jobName).toBe("lost-response-1");
  });

  it("does not resubmit after a lost SubmitJob response while Batch does not list the new job yet: it looks the name up until the job shows", async () => {
    // Reads lag behind SubmitJob (eventual consistency); fake time stands still until advanced.
    const slow = await startFakeBatch({ timeScale: 0, visibilityDelayMs: 10_000 });
    const lookups = new BatchApi({ endpoint: slow.endpoint, region: "us-east-1", credentials: DUMMY, apiRetry: FAST_RETRY });
    try {
      const def = await ensureJobDefinition(lookups, spec);
      slow.failAfterProcessing(1, "submitjob");
      let settled = false;
      const pending = lookups.submitJob({ jobName: "invisible-1", jobQueue: "q", jobDefinition: def.jobDefinition, arrayProperties: { size: 2 } }).finally(() => (settled = true));
      await waitFor(() => settled || (slow.invisibleReads.listjobs ?? 0) >= 3, "three name lookups that do not see the job yet");
      expect(settled).toBe(false);
      slow.clock.advance(10_000);
      const res = await pending;
      expect(slow.submitted()).toHaveLength(1);
      expect(slow.requests.submitjob).toBe(1);
      expect(slow.job(res.jobId!)?.jobName).toBe("invisible-1");
    } finally {
      lookups.destroy();
      await slow.stop();
    }
  });

  it("sends SubmitJob again when the job never shows within the lookup window after a lost response", async () => {
    const slow = await startFakeBatch({ timeScale: 0, visibilityDelayMs: 10_000 });
    // A 5xx before Batch created anything looks the same as a lost response; the window ends the doubt.
    const lookups = new BatchApi({ endpoint: slow.endpoint, region: "us-east-1", credentials: DUMMY, apiRetry: { ...FAST_RETRY, lookupWindowMs: 50 } });
    try {
      const def = await ensureJobDefinition(lookups, spec);
      slow.failAfterProcessing(1, "submitjob");
      const res = await lookups.submitJob({ jobName: "never-seen", jobQueue: "q", jobDefinition: def.jobDefinition });
      expect(slow.requests.submitjob).toBe(2);
      expect(slow.submitted()).toHaveLength(2);
      expect(res.jobId).toBe(slow.allJobs()[1]!.jobId);
      expect(slow.invisibleReads.listjobs ?? 0).toBeGreaterThanOrEqual(1);
    } finally {
      lookups.destroy();
      await slow.stop();
    }
  });

  it("does not retry a client error (bad job definition)", async () => {
    const before = fake.requests.submitjob ?? 0;
    const err = await api.submitJob({ jobName: "bad", jobQueue: "q", jobDefinition: "missing-def" }).catch((e: unknown) => e);
    expect(isCompasEnsembleError(err, "BATCH_API")).toBe(true);
    expect((err as Error).message).toContain("ClientException: Job definition missing-def does not exist.");
    expect((fake.requests.submitjob ?? 0) - before).toBe(1);
    expect(retries).toEqual([]);
  });

  it("the fake refuses an array of size 1, as Batch does", async () => {
    const def = await ensureJobDefinition(api, spec);
    const err = await api.submitJob({ jobName: "one", jobQueue: "q", jobDefinition: def.jobDefinition, arrayProperties: { size: 1 } }).catch((e: unknown) => e);
    expect((err as Error).message).toContain("between 2 and 10,000");
  });
});

describe("backoff", () => {
  it("draws each delay between 0 and a ceiling that doubles per retry up to the cap (full jitter)", () => {
    const opts = { baseDelayMs: 100, maxDelayMs: 1000 };
    const top = (retry: number): number => backoffDelayMs(retry, opts, () => 0.999999);
    expect([0, 1, 2, 3, 4, 5].map(top)).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelayMs(3, opts, () => 0)).toBe(0);
    const draws = Array.from({ length: 200 }, () => backoffDelayMs(2, opts));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(400);
    expect(new Set(draws).size).toBeGreaterThan(20);
  });

  it("recognises throttling by status 429 and by error name", () => {
    expect(isThrottlingError({ $metadata: { httpStatusCode: 429 } })).toBe(true);
    expect(isThrottlingError({ name: "TooManyRequestsException", $metadata: { httpStatusCode: 400 } })).toBe(true);
    expect(isThrottlingError({ name: "ClientException", $metadata: { httpStatusCode: 400 } })).toBe(false);
  });
});

describe("submission requests", () => {
  const options = resolveBatchOptions({ jobQueue: "q", jobDefinition: "d", timeoutSeconds: 3600, environment: { COMPAS_LOG: "1" } });
  const ctx: SubmissionContext = { options, jobQueue: "q", jobDefinition: "d", ensembleId: "e".repeat(64), planUri: "s3://b/p", submission: "s1", groups: 1 };

  it("splits more than 10,000 tasks into arrays of at most 10,000, each with its own index list", () => {
    const ids = Array.from({ length: 25_001 }, (_, i) => `t${i}`);
    const groups = groupTasks(ids, "s9");
    expect(groups.map((g) => [g.offset, g.size, g.indexList])).toEqual([
      [0, 10_000, "s9-0"],
      [10_000, 10_000, "s9-1"],
      [20_000, 5_001, "s9-2"],
    ]);
    expect(groups[2]!.taskIds[0]).toBe("t20000");
    expect(groupTasks(ids.slice(0, 1440), "s9")).toHaveLength(1);
  });

  it("makes one task a plain job with --task and many an array job with --index-list", () => {
    const [single] = groupTasks(["only"], "s1");
    const one = submitJobInput(ctx, single!, 0);
    expect(one.arrayProperties).toBeUndefined();
    expect(one.containerOverrides?.command).toEqual(["compas-ensemble", "worker", "--plan", "s3://b/p", "--task", "only", "--task-timeout", "3600"]);
    const [many] = groupTasks(["a", "b", "c"], "s1");
    const arr = submitJobInput(ctx, many!, 0);
    expect(arr.arrayProperties).toEqual({ size: 3 });
    expect(arr.containerOverrides?.command).toEqual(["compas-ensemble", "worker", "--plan", "s3://b/p", "--index-list", "s1", "--task-timeout", "3600"]);
    expect(arr.containerOverrides?.environment).toEqual([{ name: "COMPAS_LOG", value: "1" }]);
    expect(arr.timeout).toEqual({ attemptDurationSeconds: 4200 });
    expect(arr.tags).toMatchObject({ "compas-ensemble:ensemble-id": "e".repeat(64), "compas-ensemble:submission": "s1" });
    expect(arr.propagateTags).toBe(true);
    expect(arr.jobName).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/);
  });

  it("retries lost hosts and the worker's exit 75, and exits on anything else", () => {
    expect(retryStrategy(3)).toEqual({
      attempts: 3,
      evaluateOnExit: [
        { onStatusReason: "Host EC2*", action: "RETRY" },
        { onExitCode: "75", action: "RETRY" },
        { onReason: "*", action: "EXIT" },
      ],
    });
  });

  it("refuses secret-looking or reserved environment names and conflicting definitions", () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return isCompasEnsembleError(e) ? e.code : "other";
      }
      return undefined;
    };
    expect(code(() => resolveBatchOptions({ environment: { AWS_SECRET_ACCESS_KEY: "x" } }))).toBe("OPTIONS_INVALID");
    expect(code(() => resolveBatchOptions({ environment: { GITHUB_TOKEN: "x" } }))).toBe("OPTIONS_INVALID");
    expect(code(() => resolveBatchOptions({ environment: { AWS_BATCH_JOB_ID: "x" } }))).toBe("OPTIONS_INVALID");
    expect(code(() => resolveBatchOptions({ jobDefinitionSpec: { image: "i", environment: { DB_PASSWORD: "x" } } }))).toBe("OPTIONS_INVALID");
    expect(code(() => resolveBatchOptions({ jobDefinition: "d", jobDefinitionSpec: { image: "i" } }))).toBe("OPTIONS_INVALID");
    expect(code(() => resolveBatchOptions({ attempts: 11 }))).toBe("OPTIONS_INVALID");
    expect(code(() => resolveBatchOptions({ environment: { S3_ENDPOINT: "http://minio:9000" } }))).toBeUndefined();
  });

  it("refuses a local output directory, which containers cannot read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "batch-local-"));
    const plan = buildPlan({ points: sliceGrid(expandGrid(sparseGrid()), 0, 2), nSystems: 5, compas: await probeCompas(fakeCompasPath()) });
    const ex = new BatchExecutor({ jobQueue: "q", jobDefinition: "d", endpoint: "http://127.0.0.1:9", region: "us-east-1", credentials: DUMMY });
    const err = await ex.submit({ plan, store: new LocalStore(dir), firstAttempt: {} }, [plan.tasks[0]!.task_id]).catch((e: unknown) => e);
    expect(isCompasEnsembleError(err, "OPTIONS_INVALID")).toBe(true);
    expect((err as Error).message).toContain(dir);
  });

  it("re-attaches only to Batch handles with valid data", () => {
    const handle = { kind: "ssh", ensemble_id: "e", task_ids: [], submitted_at: "", data: {} };
    expect(() => reattachBatchExecutor(handle)).toThrow(/not a Batch one/);
    expect(() => reattachBatchExecutor({ ...handle, kind: "batch" })).toThrow(/Batch handle is invalid/);
  });
});

function fragment(over: Partial<Fragment>): Fragment {
  return {
    schema_version: 1,
    ensemble_id: "e",
    task_id: "t",
    run_id: "t",
    attempt: 1,
    status: "failed",
    host: "h",
    started_at: "2025-01-01T00:00:00Z",
    finished_at: "2025-01-01T00:00:01Z",
    duration_s: 1,
    seed: 0,
    n_systems: 1,
    argv: [],
    compas: { binary: "/c", version: "1", sha256: "0" },
    library_version: "0",
    output: null,
    error: { code: "COMPAS_FLAG_UNKNOWN", message: "COMPAS rejected its command line (exit 3): ERROR: x", retryable: false },
    ...over,
  };
}

describe("task states from Batch joined with fragments", () => {
  const view = (over: Partial<ChildView>): ChildView => ({
    taskId: "t",
    where: "j:0",
    fragments: [],
    child: {},
    jobStatus: "RUNNING",
    jobId: "j",
    jobTerminated: false,
    ...over,
  });

  it("maps Batch states: waiting ones to pending, RUNNING to running, the ends to their claims", () => {
    expect(["SUBMITTED", "PENDING", "RUNNABLE", "STARTING"].map(batchStatusToTaskState)).toEqual(["pending", "pending", "pending", "pending"]);
    expect(batchStatusToTaskState("RUNNING")).toBe("running");
    expect(batchStatusToTaskState("SUCCEEDED")).toBe("succeeded");
    expect(batchStatusToTaskState("FAILED")).toBe("failed");
  });

  it("trusts a success fragment over Batch, and fails a SUCCEEDED child without one", () => {
    const ok = fragment({ status: "success", error: null, attempt: 2 });
    expect(childTaskStatus(view({ fragments: [ok], child: { status: "FAILED" } }))).toMatchObject({ state: "succeeded", attempt: 2 });
    const ended = childTaskStatus(view({ jobStatus: "SUCCEEDED" }));
    expect(ended.state).toBe("failed");
    expect(ended.reason).toContain("no success fragment");
  });

  it("joins the worker's error with Batch's reason and exit code", () => {
    const s = childTaskStatus(view({ fragments: [fragment({})], child: { status: "FAILED", statusReason: "Essential container in task exited", exitCode: 1 } }));
    expect(s).toMatchObject({ state: "failed", attempt: 1 });
    expect(s.reason).toBe("COMPAS_FLAG_UNKNOWN: COMPAS rejected its command line (exit 3): ERROR: x; Batch: Essential container in task exited, exit code 1");
    expect(failureReason(undefined, { statusReason: "Host EC2 (instance i-1) terminated." })).toBe("Batch: Host EC2 (instance i-1) terminated.");
  });

  it("calls terminated children cancelled unless they had already failed for good", () => {
    expect(childTaskStatus(view({ child: { status: "FAILED", statusReason: "compas-ensemble cancel: now" } })).state).toBe("cancelled");
    expect(childTaskStatus(view({ child: { status: "FAILED", terminated: true } })).state).toBe("cancelled");
    expect(childTaskStatus(view({ fragments: [fragment({})], jobTerminated: true, child: { status: "FAILED" } })).state).toBe("failed");
    expect(childTaskStatus(view({ fragments: [fragment({ error: { code: "TASK_TIMEOUT", message: "m", retryable: true } })], jobTerminated: true, child: { status: "FAILED" } })).state).toBe("cancelled");
  });

  it("shows running children as running and a retryable failure as pending with its reason", () => {
    expect(childTaskStatus(view({ child: { status: "RUNNING" } })).state).toBe("running");
    const retry = childTaskStatus(view({ fragments: [fragment({ error: { code: "COMPAS_FAILED", message: "COMPAS ended with exit code 1.", retryable: true } })] }));
    expect(retry).toMatchObject({ state: "pending", reason: "retrying after: COMPAS_FAILED: COMPAS ended with exit code 1." });
  });
});

describe("submission and polling at scale (jobs held RUNNABLE, no workers)", () => {
  let fake: FakeBatch;
  let s3: S3rverHandle;
  let ex: BatchExecutor;
  beforeAll(async () => {
    s3 = await startS3rver();
    // Fake time stands still: jobs become readable, and children RUNNABLE, when a test advances it.
    fake = await startFakeBatch({ start: false, timeScale: 0 });
    ex = new BatchExecutor({ endpoint: fake.endpoint, region: "us-east-1", credentials: DUMMY, jobQueue: "q", jobDefinitionSpec: { image: "i" }, apiRetry: FAST_RETRY, storeOptions: s3.storeOptions() });
  });
  afterAll(async () => {
    ex?.close();
    await fake?.stop();
    await s3?.stop();
  });
  const probe = () => probeCompas(fakeCompasPath());

  it("submits the 1,440-point full grid with one SubmitJob and polls it with one DescribeJobs", async () => {
    const plan = buildPlan({ points: expandGrid(fullGrid()), nSystems: 5, compas: await probe() });
    const store = openStore(`s3://${await s3.createBucket()}/full`, s3.storeOptions());
    const ids = plan.tasks.map((t) => t.task_id);
    const before = { ...fake.requests };
    const handle = await ex.submit({ plan, store, firstAttempt: {} }, ids);
    // Batch does not return a job at once after SubmitJob: its tasks are pending, not lost.
    const invisibleBefore = fake.invisibleReads.describejobs ?? 0;
    const early = await ex.status(handle);
    expect((fake.invisibleReads.describejobs ?? 0) - invisibleBefore).toBe(1);
    expect(new Set(early.map((s) => s.state))).toEqual(new Set(["pending"]));
    fake.clock.advance(10_000);
    const statuses = await ex.status(handle);
    const delta = (op: string): number => (fake.requests[op] ?? 0) - (before[op] ?? 0);
    expect(delta("submitjob")).toBe(1);
    expect(fake.submitted().at(-1)!.arrayProperties).toEqual({ size: 1440 });
    expect(delta("describejobs")).toBe(2);
    expect(delta("listjobs")).toBe(0);
    expect(statuses).toHaveLength(1440);
    expect(new Set(statuses.map((s) => s.state))).toEqual(new Set(["pending"]));
    const jobs = handle.data.jobs as { job_id: string; index_list: string }[];
    expect(await ex.summary(handle)).toEqual([expect.objectContaining({ jobId: jobs[0]!.job_id, size: 1440, counts: expect.objectContaining({ RUNNABLE: 1440 }) })]);
    expect(JSON.parse((await store.get(indexListKey(jobs[0]!.index_list))).toString("utf8"))).toEqual(ids);
  });

  it("splits 10,080 tasks into arrays of 10,000 and 80, polls both with one DescribeJobs, and cancels all with one TerminateJob each", async () => {
    const plan = buildPlan({ points: expandGrid(fullGrid()), nSystems: 7, systemsPerTask: 1, compas: await probe() });
    expect(plan.tasks).toHaveLength(10_080);
    const store = openStore(`s3://${await s3.createBucket()}/chunks`, s3.storeOptions());
    const ids = plan.tasks.map((t) => t.task_id);
    const before = { ...fake.requests };
    const handle = await ex.submit({ plan, store, firstAttempt: {} }, ids);
    const jobs = handle.data.jobs as { job_id: string; index_list: string; offset: number; size: number }[];
    expect(jobs.map((j) => [j.offset, j.size])).toEqual([
      [0, 10_000],
      [10_000, 80],
    ]);
    expect(JSON.parse((await store.get(indexListKey(jobs[1]!.index_list))).toString("utf8"))).toEqual(ids.slice(10_000));
    await ex.cancel(handle);
    fake.clock.advance(10_000);
    const final = await ex.wait(handle);
    const delta = (op: string): number => (fake.requests[op] ?? 0) - (before[op] ?? 0);
    expect(delta("submitjob")).toBe(2);
    expect(delta("terminatejob")).toBe(2);
    expect(delta("describejobs")).toBe(1);
    expect(final).toHaveLength(10_080);
    expect(new Set(final.map((s) => s.state))).toEqual(new Set(["cancelled"]));
    expect(final[10_079]!.where).toBe(`${jobs[1]!.job_id}:79`);
  });

  it("keeps waiting for a job Batch does not return yet instead of calling it gone", async () => {
    const plan = buildPlan({ points: sliceGrid(expandGrid(sparseGrid()), 0, 3), nSystems: 5, compas: await probe() });
    const store = openStore(`s3://${await s3.createBucket()}/invisible`, s3.storeOptions());
    const polling = new BatchExecutor({ endpoint: fake.endpoint, region: "us-east-1", credentials: DUMMY, jobQueue: "q", jobDefinitionSpec: { image: "i" }, apiRetry: FAST_RETRY, storeOptions: s3.storeOptions(), pollIntervalMs: 5 });
    try {
      const handle = await polling.submit({ plan, store, firstAttempt: {} }, plan.tasks.map((t) => t.task_id));
      const invisibleBefore = fake.invisibleReads.describejobs ?? 0;
      let settled = false;
      const waiting = polling.wait(handle).finally(() => (settled = true));
      await waitFor(() => settled || (fake.invisibleReads.describejobs ?? 0) - invisibleBefore >= 3, "three polls that do not see the job yet");
      expect(settled).toBe(false);
      fake.clock.advance(10_000);
      await polling.cancel(handle);
      const final = await waiting;
      expect(final.map((s) => s.state)).toEqual(["cancelled", "cancelled", "cancelled"]);
    } finally {
      polling.close();
    }
  });

  it("refuses a second submission while the previous one is not returned by Batch yet", async () => {
    const plan = buildPlan({ points: sliceGrid(expandGrid(sparseGrid()), 3, 5), nSystems: 5, compas: await probe() });
    const store = openStore(`s3://${await s3.createBucket()}/twice`, s3.storeOptions());
    const ids = plan.tasks.map((t) => t.task_id);
    const handle = await ex.submit({ plan, store, firstAttempt: {} }, ids);
    await store.put(HANDLE_KEY, JSON.stringify(handle));
    const submits = fake.requests.submitjob ?? 0;
    const err = await ex.submit({ plan, store, firstAttempt: {} }, ids).catch((e: unknown) => e);
    expect(isCompasEnsembleError(err, "OPTIONS_INVALID")).toBe(true);
    expect((err as Error).message).toContain(`${(handle.data.jobs as { job_id: string }[])[0]!.job_id} (SUBMITTED)`);
    expect(fake.requests.submitjob ?? 0).toBe(submits);
    await ex.cancel(handle);
  });
});
