// What goes wrong on AWS Batch, each case with the real worker: the fake control plane
// (test/support/fake-batch.ts, rules from the AWS Batch API reference) runs every container as
// `node dist/cli.js worker ...` against s3rver, through a proxy that can cut an upload midway.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeCompas } from "../../src/compas/probe.js";
import { readFragments } from "../../src/store/fragments.js";
import { PLAN_KEY } from "../../src/store/keys.js";
import { buildPlan } from "../../src/plan/build.js";
import { runEnsemble, type EnsembleEvent } from "../../src/ensemble/run.js";
import { verifiedSuccesses } from "../../src/ensemble/verify.js";
import { BatchExecutor, type BatchExecutorOptions } from "../../src/executors/batch/index.js";
import { expandGrid, sliceGrid, sparseGrid } from "../../src/grid/index.js";
import { hashBuffer } from "../../src/store/_hash.js";
import { type Fragment } from "../../src/manifest/schema.js";
import { PlanSchema, type Plan } from "../../src/plan/schema.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/types.js";
import { ATTEMPT_TIMEOUT, EXITED_REASON, HOST_TERMINATED, startFakeBatch, TASK_FAILED_TO_START, type FakeBatch, type FakeJob } from "../support/fake-batch.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { allowingStatements, loadPolicy, s3ActionOfRequest } from "../support/iam.js";
import { isAlive, standInProcesses, waitFor } from "../support/processes.js";
import { assertLegacyOpenssl, S3RVER_CREDENTIALS, startFaultProxy, startS3rver, type FaultProxy, type FaultRule, type S3rverHandle } from "../support/s3rver.js";

const DUMMY = { accessKeyId: "AKIDFAKEBATCH", secretAccessKey: "fake-batch-secret" };
const points = expandGrid(sparseGrid());
// Real workers on two shared cores: generous limits, never used as synchronisation.
const E2E_TIMEOUT = 300_000;
const FAST_API = { maxRetries: 6, baseDelayMs: 5, maxDelayMs: 50 };

describe("Batch faults with the real worker", () => {
  let s3: S3rverHandle;
  let proxy: FaultProxy;
  let fake: FakeBatch;
  // The proxy reads this list on every request, so each test adds its own faults.
  const rules: FaultRule[] = [];
  const executors: BatchExecutor[] = [];

  beforeAll(async () => {
    assertLegacyOpenssl();
    s3 = await startS3rver();
    proxy = await startFaultProxy(s3.endpoint, rules);
    // Containers reach S3 through the proxy; the orchestrator reaches s3rver directly.
    fake = await startFakeBatch({
      env: {
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_S3: proxy.endpoint,
      },
      parallelism: 2,
      // Fake time runs 50 times faster; 6 real seconds between SIGTERM and SIGKILL let a
      // loaded machine's worker stop COMPAS (ECS gives 30 s).
      killGraceMs: 300_000,
    });
  });
  afterAll(async () => {
    for (const e of executors) e.close();
    await fake?.stop();
    await proxy?.stop();
    await s3?.stop();
  });

  const executor = (extra: BatchExecutorOptions = {}): BatchExecutor => {
    const e = new BatchExecutor({
      endpoint: fake.endpoint,
      region: "us-east-1",
      credentials: DUMMY,
      jobQueue: "faults",
      jobDefinitionSpec: { name: "ce-faults", image: "local/compas-ensemble:faults", memoryMiB: 1024 },
      pollIntervalMs: 250,
      apiRetry: FAST_API,
      storeOptions: s3.storeOptions(),
      ...extra,
    });
    executors.push(e);
    return e;
  };
  const newStore = async (name: string): Promise<Store> => openStore(`s3://${await s3.createBucket()}/${name}`, s3.storeOptions());
  // The plan runEnsemble will write, computed beforehand so the faults can name tasks.
  const planFor = async (slice: typeof points, nSystems: number): Promise<Plan> =>
    buildPlan({ points: slice, nSystems, compas: await probeCompas(fakeCompasPath()) });
  const childOf = (store: Store, index: number): FakeJob | undefined =>
    fake.allJobs().find((j) => j.index === index && j.command.includes(store.uri));
  const fragmentsOf = async (store: Store, taskId: string): Promise<Fragment[]> =>
    (await readFragments(store)).fragments.filter((f) => f.task_id === taskId).sort((a, b) => a.attempt - b.attempt);

  it("Spot reclaims mid-run, mid-upload of the output and mid-upload of the fragment: each attempt is retried, a half-written output is never counted, and each task's fragment is written exactly once", async () => {
    fake.clearHooks();
    const slice = sliceGrid(points, 0, 3);
    const plan = await planFor(slice, 5);
    const store = await newStore("reclaims");
    const [t0, t1, t2] = plan.tasks;
    const startedDir = mkdtempSync(join(tmpdir(), "batch-reclaim-"));
    // Child 0's first attempt hangs in COMPAS until its host is taken away.
    fake.setChildEnv(0, { FAKE_COMPAS_HANG: "1", FAKE_COMPAS_STARTED_DIR: startedDir }, 1);
    // The retries of children 1 and 2 wait until the half-done state has been inspected.
    const held = new Set([1, 2]);
    const release = (): void => {
      held.clear();
      fake.reschedule();
    };
    const reclaimDuring = (index: number) => (): void => fake.reclaim(childOf(store, index)!.jobId);
    const output = rules.push({ match: (m, u) => m === "PUT" && u.includes(`/${t1!.output_key}`), times: 1, fault: { interrupt: reclaimDuring(1) } }) - 1;
    const fragment = rules.push({ match: (m, u) => m === "PUT" && u.includes(`/fragments/${t2!.task_id}.a1.json`), times: 1, fault: { interrupt: reclaimDuring(2) } }) - 1;
    const events: EnsembleEvent[] = [];
    const ex = executor();
    const restore = holdRetries(fake, store, held);

    const run = runEnsemble({ points: slice, nSystems: 5, compasBinary: fakeCompasPath(), output: store, executor: ex, onEvent: (e) => events.push(e) });
    try {
      // Mid-run: COMPAS hangs in child 0; its host goes away.
      await waitFor(() => standInProcesses(startedDir).some((p) => p.end === undefined && isAlive(p.pid)), "COMPAS running in child 0", 120_000);
      const compas = standInProcesses(startedDir).map((p) => p.pid);
      fake.reclaim(childOf(store, 0)!.jobId);
      // Children 1 and 2 lose their hosts while uploading; their retries are held.
      const settled = (i: number): boolean => childOf(store, i)?.attempts.length === 1 && ["RUNNABLE", "FAILED"].includes(childOf(store, i)!.status);
      await waitFor(() => settled(1) && settled(2), "children 1 and 2 to lose their hosts", 180_000);
      // RUNNABLE again: Batch retries them (FAILED would mean no retry rule matched the reason).
      expect([childOf(store, 1)!.status, childOf(store, 2)!.status]).toEqual(["RUNNABLE", "RUNNABLE"]);
      expect(proxy.injected[output]).toBe(1);
      expect(proxy.injected[fragment]).toBe(1);
      // The host took COMPAS with it.
      for (const pid of compas) expect(isAlive(pid)).toBe(false);

      // What a resume or the manifest would see now: no success for either task, whatever
      // the cut uploads left behind (child 2's output is whole but has no fragment).
      const now = await readFragments(store);
      expect(now.fragments.filter((f) => f.task_id === t1!.task_id || f.task_id === t2!.task_id)).toEqual([]);
      expect(await store.exists(t2!.output_key)).toBe(true);
      const livePlan = PlanSchema.parse(JSON.parse((await store.get(PLAN_KEY)).toString("utf8")));
      const verified = await verifiedSuccesses(store, livePlan, now.fragments);
      expect(verified.successes.has(t1!.task_id)).toBe(false);
      expect(verified.successes.has(t2!.task_id)).toBe(false);
      release();
      const summary = await run;

      expect(livePlan.tasks.map((t) => t.task_id)).toEqual(plan.tasks.map((t) => t.task_id));
      expect(summary.runs).toEqual({ total: 3, succeeded: 3, failed: 0, pending: 0 });
      for (const [i, task] of [t0!, t1!, t2!].entries()) {
        const child = childOf(store, i)!;
        // The executor's `Host EC2*` rule matched AWS's wording, so Batch retried.
        expect(child.attempts.map((a) => a.statusReason)).toEqual([expect.stringMatching(HOST_TERMINATED), EXITED_REASON]);
        expect(child.attempts.map((a) => a.exitCode)).toEqual([undefined, 0]);
        const frags = await fragmentsOf(store, task.task_id);
        expect(frags.map((f) => [f.attempt, f.status])).toEqual([[1, "success"]]);
        // The stored output is the retry's, byte for byte what the fragment records.
        const body = await store.get(task.output_key);
        expect({ bytes: body.length, sha256: hashBuffer(body).sha256 }).toEqual({ bytes: frags[0]!.output!.bytes, sha256: frags[0]!.output!.sha256 });
      }
      const finished = events.filter((e): e is Extract<EnsembleEvent, { type: "task-finished" }> => e.type === "task-finished");
      expect(finished.map((e) => e.taskId).sort()).toEqual(plan.tasks.map((t) => t.task_id).sort());
    } finally {
      restore();
      release();
      await run.catch(() => undefined);
    }
  }, E2E_TIMEOUT);

  it("fails every task at once with CannotPullContainerError when the image cannot be pulled, without retrying or starting a worker", async () => {
    fake.clearHooks();
    const image = "registry.example.invalid/compas-ensemble:missing";
    fake.removeImage(image);
    const store = await newStore("pull");
    const submitsBefore = fake.submitted().length;
    const summary = await runEnsemble({
      points: sliceGrid(points, 3, 5),
      nSystems: 5,
      compasBinary: fakeCompasPath(),
      output: store,
      executor: executor({ jobDefinitionSpec: { name: "ce-missing-image", image } }),
    });
    expect(fake.submitted().length - submitsBefore).toBe(1);
    expect(summary.runs).toEqual({ total: 2, succeeded: 0, failed: 2, pending: 0 });
    for (const f of summary.failures) {
      expect(f.reason).toMatch(new RegExp(`^Batch: ${TASK_FAILED_TO_START}, CannotPullContainerError: .*; the container image could not be pulled`));
    }
    for (const i of [0, 1]) {
      const child = childOf(store, i)!;
      expect(child.attempts).toHaveLength(1);
      expect(child.pids).toEqual([]);
    }
    expect((await readFragments(store)).fragments).toEqual([]);
  }, E2E_TIMEOUT);

  it("ends an attempt that runs past attemptDurationSeconds with AWS's reason and does not retry it; the task fails with that reason and writes no fragment", async () => {
    fake.clearHooks();
    const startedDir = mkdtempSync(join(tmpdir(), "batch-timeout-"));
    fake.setChildEnv(0, { FAKE_COMPAS_HANG: "1", FAKE_COMPAS_STARTED_DIR: startedDir });
    const store = await newStore("timeout");
    // The definition's one-hour limit is the only one: the worker has no COMPAS timeout here.
    const ex = executor({ jobDefinitionSpec: { name: "ce-timeout", image: "local/compas-ensemble:faults", timeoutSeconds: 3600 } });
    const run = runEnsemble({ points: sliceGrid(points, 5, 7), nSystems: 5, compasBinary: fakeCompasPath(), output: store, executor: ex });
    await waitFor(() => standInProcesses(startedDir).some((p) => p.end === undefined && isAlive(p.pid)), "COMPAS hanging in the job", 120_000);
    const compas = standInProcesses(startedDir).map((p) => p.pid);
    // The limit applies to every child: let child 1 finish first, then pass the hour.
    await waitFor(() => childOf(store, 1)?.status === "SUCCEEDED", "child 1 to succeed", 120_000);
    fake.clock.advance(3600 * 1000);
    const summary = await run;

    const job = childOf(store, 0)!;
    expect(job.status).toBe("FAILED");
    expect(job.attempts.map((a) => a.statusReason)).toEqual([ATTEMPT_TIMEOUT]);
    expect(childOf(store, 1)!.status).toBe("SUCCEEDED");
    expect(summary.runs).toEqual({ total: 2, succeeded: 1, failed: 1, pending: 0 });
    expect(summary.failures[0]!.reason).toMatch(new RegExp(`^Batch: ${ATTEMPT_TIMEOUT}, exit code \\d+$`));
    // SIGTERM reached the worker, which stopped COMPAS and recorded nothing.
    for (const pid of compas) expect(isAlive(pid)).toBe(false);
    expect((await readFragments(store)).fragments.map((f) => f.task_id)).toEqual([summary.handle!.task_ids[1]]);
  }, E2E_TIMEOUT);

  it("submits once when SubmitJob's response is lost and Batch does not list the new job yet: the name is looked up until the job shows", async () => {
    fake.clearHooks();
    const store = await newStore("invisible");
    const before = { submitted: fake.submitted().length, submitjob: fake.requests.submitjob ?? 0, invisible: fake.invisibleReads.listjobs ?? 0 };
    fake.failAfterProcessing(1, "submitjob");
    // Readable only an hour (fake time) after submission, unless the test moves the clock.
    fake.setVisibilityDelay(3_600_000);
    try {
      const run = runEnsemble({ points: sliceGrid(points, 6, 8), nSystems: 5, compasBinary: fakeCompasPath(), output: store, executor: executor() });
      await waitFor(() => (fake.invisibleReads.listjobs ?? 0) - before.invisible >= 2, "two name lookups that miss the new job", 120_000);
      fake.clock.advance(3_600_000);
      const summary = await run;
      expect(summary.runs).toEqual({ total: 2, succeeded: 2, failed: 0, pending: 0 });
      expect(fake.submitted().length - before.submitted).toBe(1);
      expect((fake.requests.submitjob ?? 0) - before.submitjob).toBe(1);
    } finally {
      fake.setVisibilityDelay(2_000);
    }
  }, E2E_TIMEOUT);

  it("asks S3 only for what the example job role allows: every request the real workers made, mapped to its IAM action", async () => {
    fake.clearHooks();
    const from = proxy.requests.length;
    const store = await newStore("job-role");
    const summary = await runEnsemble({ points: sliceGrid(points, 8, 10), nSystems: 5, compasBinary: fakeCompasPath(), output: store, executor: executor() });
    expect(summary.runs.succeeded).toBe(2);
    const jobRole = loadPolicy(fileURLToPath(new URL("../../examples/batch/iam/job-role-policy.json", import.meta.url)));
    const requests = proxy.requests.slice(from).map((r) => r.split(" ") as [string, string]);
    expect(requests.length).toBeGreaterThan(0);
    const denied = requests.filter(([method, url]) => allowingStatements(jobRole, s3ActionOfRequest(method, url).action).length === 0);
    expect(denied).toEqual([]);
    expect(requests.some(([method]) => method === "DELETE")).toBe(false);
  }, E2E_TIMEOUT);
});

describe("a throttled DescribeJobs storm during a 10,000-child array", () => {
  let s3: S3rverHandle;
  let fake: FakeBatch;
  let ex: BatchExecutor;
  beforeAll(async () => {
    assertLegacyOpenssl();
    s3 = await startS3rver();
    // Two children get hosts; the other 9,998 stay RUNNABLE, as in a queue without capacity.
    fake = await startFakeBatch({
      env: {
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_S3: s3.endpoint,
      },
      start: (job) => job.index !== undefined && job.index < 2,
      killGraceMs: 300_000,
    });
    ex = new BatchExecutor({
      endpoint: fake.endpoint,
      region: "us-east-1",
      credentials: DUMMY,
      jobQueue: "storm",
      jobDefinitionSpec: { name: "ce-storm", image: "local/compas-ensemble:storm" },
      pollIntervalMs: 100,
      apiRetry: { maxRetries: 3, baseDelayMs: 2, maxDelayMs: 20 },
      storeOptions: s3.storeOptions(),
    });
  });
  afterAll(async () => {
    ex?.close();
    await fake?.stop();
    await s3?.stop();
  });

  it("keeps polling through throttling longer than its retries, one DescribeJobs of the parent per poll, hears of each finished child once, and cancels the rest", async () => {
    const store = openStore(`s3://${await s3.createBucket()}/storm`, s3.storeOptions());
    // Five of every six DescribeJobs are throttled: more than the 3 retries of one poll.
    fake.storm("describejobs", 5);
    const controller = new AbortController();
    const events: EnsembleEvent[] = [];
    const finished = (): string[] => events.flatMap((e) => (e.type === "task-finished" ? [e.taskId] : []));
    const run = runEnsemble({
      points,
      nSystems: 250,
      systemsPerTask: 1,
      compasBinary: fakeCompasPath(),
      output: store,
      executor: ex,
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e);
        if (finished().length === 2) controller.abort();
      },
    });
    const summary = await run;
    fake.calm();

    const parent = fake.allJobs().find((j) => j.size !== undefined)!;
    expect(parent.size).toBe(10_000);
    expect(summary.tasks.submitted).toBe(10_000);
    expect(summary.cancelled).toBe(true);
    expect(new Set(finished())).toHaveProperty("size", 2);
    expect(finished()).toHaveLength(2);
    expect(parent.status).toBe("FAILED");
    // Children 0 and 1 ran once each (the cancel may catch one between its fragment and its
    // exit); the 9,998 others never started and were cancelled.
    expect(parent.children!.slice(0, 2).map((c) => c.attempts.length)).toEqual([1, 1]);
    expect(parent.children!.slice(2).every((c) => c.isCancelled && c.attempts.length === 0)).toBe(true);
    // Polls asked for the parent alone, whatever the number of children, and survived the storm.
    const describes = fake.bodies.filter((b) => b.op === "describejobs");
    expect(describes.every((b) => JSON.stringify(b.body.jobs) === JSON.stringify([parent.jobId]))).toBe(true);
    expect(fake.throttled.describejobs ?? 0).toBeGreaterThan(4);
    const warnings = events.filter((e) => e.type === "log" && e.level === "warn" && /DescribeJobs/.test(e.message));
    expect(warnings.length).toBeGreaterThan(0);
    const { fragments } = await readFragments(store);
    expect(fragments.map((f) => f.status)).toEqual(["success", "success"]);
  }, E2E_TIMEOUT);
});

/**
 * Holds the retries (second and later attempts) of the given children of `store`'s job in
 * RUNNABLE while `held` names them, by wrapping the fake's start rule.
 * @returns undoes the wrapping
 */
function holdRetries(fake: FakeBatch, store: Store, held: Set<number>): () => void {
  fake.setStartFilter((job) => !(job.index !== undefined && held.has(job.index) && job.attempts.length >= 1 && job.command.includes(store.uri)));
  return () => fake.setStartFilter(undefined);
}
