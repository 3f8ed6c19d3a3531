import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFragments } from "../../src/store/fragments.js";
import { MANIFEST_KEY, PLAN_KEY } from "../../src/store/keys.js";
import { runEnsemble, type EnsembleEvent } from "../../src/ensemble/run.js";
import { HANDLE_KEY } from "../../src/store/keys.js";
import { isCompasEnsembleError } from "../../src/errors.js";
import { BatchExecutor, reattachBatchExecutor, type BatchExecutorOptions } from "../../src/executors/batch/index.js";
import { indexListKey } from "../../src/store/keys.js";
import { ExecutorHandleSchema, type ExecutorHandle } from "../../src/executors/types.js";
import { expandGrid, sliceGrid, sparseGrid } from "../../src/grid/index.js";
import { ManifestSchema, type Fragment } from "../../src/manifest/schema.js";
import { PlanSchema } from "../../src/plan/schema.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/types.js";
import { EXITED_REASON, HOST_TERMINATED, startFakeBatch, type FakeBatch } from "../support/fake-batch.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { isAlive, standInProcesses, waitFor } from "../support/processes.js";
import { assertLegacyOpenssl, S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from "../support/s3rver.js";

const DUMMY = { accessKeyId: "AKIDFAKEBATCH", secretAccessKey: "fake-batch-secret" };
const points = expandGrid(sparseGrid());
// Every child is a real `node --import tsx src/cli.ts worker` (about 3 s of CPU each); the
// two cores are shared with other suites, so the limits leave room for a busy machine.
const E2E_TIMEOUT = 240_000;

async function json<T>(store: Store, key: string): Promise<T> {
  return JSON.parse((await store.get(key)).toString("utf8")) as T;
}

function since<T>(list: readonly T[], from: number): T[] {
  return list.slice(from);
}

describe("the Batch executor end to end (fake Batch control plane, real workers, s3rver)", () => {
  let s3: S3rverHandle;
  let fake: FakeBatch;
  const executors: BatchExecutor[] = [];

  beforeAll(async () => {
    assertLegacyOpenssl();
    s3 = await startS3rver();
    // The children reach S3 the way a container would: through the environment Batch gives
    // them (here the test's s3rver), not through anything the executor passes.
    fake = await startFakeBatch({
      env: {
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_S3: s3.endpoint,
      },
      parallelism: 2,
      // Fake time runs 50 times faster; this leaves a loaded machine 6 real seconds between
      // SIGTERM and SIGKILL for a worker to stop COMPAS (ECS gives 30 s).
      killGraceMs: 300_000,
    });
  });
  afterAll(async () => {
    for (const e of executors) e.close();
    await fake?.stop();
    await s3?.stop();
  });

  const executor = (extra: BatchExecutorOptions = {}): BatchExecutor => {
    const e = new BatchExecutor({
      endpoint: fake.endpoint,
      region: "us-east-1",
      credentials: DUMMY,
      jobQueue: "compas-queue",
      jobDefinitionSpec: { name: "ce-e2e", image: "local/compas-ensemble:test", memoryMiB: 1024 },
      pollIntervalMs: 500,
      apiRetry: { maxRetries: 6, baseDelayMs: 5, maxDelayMs: 50 },
      storeOptions: s3.storeOptions(),
      ...extra,
    });
    executors.push(e);
    return e;
  };
  const reattach = (handle: ExecutorHandle): BatchExecutor => {
    const e = reattachBatchExecutor(handle, { credentials: DUMMY, storeOptions: s3.storeOptions(), pollIntervalMs: 500 });
    executors.push(e);
    return e;
  };

  describe("a 5-point slice with failures, a Spot reclaim and throttling, then a resume", () => {
    let store: Store;
    let firstJobId = "";
    let firstIndexList = "";
    const slice = sliceGrid(points, 0, 5);

    it("runs the slice as one array job into S3, records failures with their reasons, retries the reclaimed and the crashed child", async () => {
      const bucket = await s3.createBucket();
      store = openStore(`s3://${bucket}/sparse`, s3.storeOptions());
      fake.clearHooks();
      fake.setChildEnv(1, { FAKE_COMPAS_FAIL: "exit3" });
      fake.setChildEnv(4, { FAKE_COMPAS_FAIL: "exit3" });
      fake.setChildEnv(3, { FAKE_COMPAS_FAIL_ONCE_FILE: join(mkdtempSync(join(tmpdir(), "batch-once-")), "failed-once") });
      fake.reclaimOnce(2);
      fake.throttle(2, "submitjob");
      const submittedBefore = fake.submitted().length;
      const requestsBefore = { ...fake.requests };
      const bodiesBefore = fake.bodies.length;
      const events: EnsembleEvent[] = [];
      const ex = executor();
      const started = Date.now();

      const summary = await runEnsemble({ points: slice, nSystems: 5, compasBinary: fakeCompasPath(), output: store, executor: ex, onEvent: (e) => events.push(e) });
      const seconds = (Date.now() - started) / 1000;

      expect(summary.runs).toEqual({ total: 5, succeeded: 3, failed: 2, pending: 0 });
      const plan = PlanSchema.parse(await json(store, PLAN_KEY));
      const ids = plan.tasks.map((t) => t.task_id);

      // One SubmitJob for the whole slice, after two throttled tries.
      const submits = since(fake.submitted(), submittedBefore);
      expect(submits).toHaveLength(1);
      expect((fake.requests.submitjob ?? 0) - (requestsBefore.submitjob ?? 0)).toBe(3);
      expect(submits[0]!.arrayProperties).toEqual({ size: 5 });
      const command = (submits[0]!.containerOverrides as { command: string[] }).command;
      expect(command.slice(0, 4)).toEqual(["compas-ensemble", "worker", "--plan", store.uri]);
      firstIndexList = command[command.indexOf("--index-list") + 1]!;
      expect(await json(store, indexListKey(firstIndexList))).toEqual(ids);
      firstJobId = (summary.handle!.data.jobs as { job_id: string }[])[0]!.job_id;
      expect(fake.job(firstJobId)?.children).toHaveLength(5);

      // Polling asks for the parent only, and lists children only when failures appear.
      const ops = since(fake.bodies, bodiesBefore);
      const describes = ops.filter((b) => b.op === "describejobs");
      expect(describes.length).toBeGreaterThan(1);
      expect(describes.every((b) => (b.body.jobs as string[]).length === 1 && (b.body.jobs as string[])[0] === firstJobId)).toBe(true);
      const lists = ops.filter((b) => b.op === "listjobs");
      expect(lists.length).toBeGreaterThanOrEqual(1);
      expect(lists.length).toBeLessThanOrEqual(3);
      expect(lists.every((b) => b.body.jobStatus === "FAILED" && b.body.arrayJobId === firstJobId)).toBe(true);

      // The manifest in S3 is merged from the fragments: 3 successes, 2 failures with reasons.
      const manifest = ManifestSchema.parse(await json(store, MANIFEST_KEY));
      expect(manifest.runs.map((r) => r.status)).toEqual(["success", "failed", "success", "success", "failed"]);
      for (const i of [1, 4]) expect(manifest.runs[i]!.error).toMatch(/exit 3/);
      for (const i of [0, 2, 3]) expect(await store.exists(plan.tasks[i]!.output_key)).toBe(true);

      // The executor's own view joins the worker's error with Batch's reason.
      const statuses = await ex.status(summary.handle!);
      expect(statuses.map((s) => s.state)).toEqual(["succeeded", "failed", "succeeded", "succeeded", "failed"]);
      expect(statuses[1]!.reason).toMatch(new RegExp(`^COMPAS_FLAG_UNKNOWN: .*exit 3.*; Batch: ${EXITED_REASON}, exit code 1$`));
      expect(statuses[1]!.where).toBe(`${firstJobId}:1`);

      // Child 2 was reclaimed and retried; child 3 crashed (exit 75) and was retried; 1 and 4 exited at once.
      const child = (i: number) => fake.job(`${firstJobId}:${i}`)!;
      expect(child(2).attempts.map((a) => a.statusReason)).toEqual([expect.stringMatching(HOST_TERMINATED), EXITED_REASON]);
      expect(child(3).attempts.map((a) => a.exitCode)).toEqual([75, 0]);
      expect(child(1).attempts.map((a) => a.exitCode)).toEqual([1]);
      expect(child(4).attempts.map((a) => a.exitCode)).toEqual([1]);
      const { fragments } = await readFragments(store);
      const of = (i: number): Fragment[] => fragments.filter((f) => f.task_id === ids[i]).sort((a, b) => a.attempt - b.attempt);
      expect(of(2).map((f) => [f.attempt, f.status])).toEqual([[1, "success"]]);
      expect(of(3).map((f) => [f.attempt, f.status])).toEqual([
        [1, "failed"],
        [2, "success"],
      ]);

      // runEnsemble heard of every fragment once, and of the crash as one Batch will retry.
      const finished = events.filter((e): e is Extract<EnsembleEvent, { type: "task-finished" }> => e.type === "task-finished");
      expect(finished).toHaveLength(6);
      expect(finished.filter((e) => e.willRetry).map((e) => e.taskId)).toEqual([ids[3]]);
      console.log(`batch e2e: 5 tasks in ${seconds.toFixed(1)} s; requests ${JSON.stringify(fake.requests)}`);
    }, E2E_TIMEOUT);

    it("resumes by submitting only the two failed tasks, with a new index list", async () => {
      fake.clearHooks();
      const submittedBefore = fake.submitted().length;
      const plan = PlanSchema.parse(await json(store, PLAN_KEY));
      const summary = await runEnsemble({ points: slice, nSystems: 5, compasBinary: fakeCompasPath(), output: store, executor: executor() });

      expect(summary.tasks).toEqual({ total: 5, skipped: 3, submitted: 2 });
      expect(summary.runs).toEqual({ total: 5, succeeded: 5, failed: 0, pending: 0 });
      const submits = since(fake.submitted(), submittedBefore);
      expect(submits).toHaveLength(1);
      expect(submits[0]!.arrayProperties).toEqual({ size: 2 });
      const command = (submits[0]!.containerOverrides as { command: string[] }).command;
      const list = command[command.indexOf("--index-list") + 1]!;
      expect(list).not.toBe(firstIndexList);
      expect(await json(store, indexListKey(list))).toEqual([plan.tasks[1]!.task_id, plan.tasks[4]!.task_id]);
      expect(await json(store, indexListKey(firstIndexList))).toHaveLength(5);
      const manifest = ManifestSchema.parse(await json(store, MANIFEST_KEY));
      expect(manifest.runs.every((r) => r.status === "success")).toBe(true);
      const { fragments } = await readFragments(store);
      expect(fragments.filter((f) => f.task_id === plan.tasks[1]!.task_id).map((f) => [f.attempt, f.status])).toEqual(
        expect.arrayContaining([
          [1, "failed"],
          [2, "success"],
        ]),
      );
    }, E2E_TIMEOUT);
  });

  it("detaches after submitting a single task as a plain job, and another executor re-attached from handle.json follows it", async () => {
    fake.clearHooks();
    const store = openStore(`s3://${await s3.createBucket()}/single`, s3.storeOptions());
    const submittedBefore = fake.submitted().length;
    const summary = await runEnsemble({ points: sliceGrid(points, 6, 7), nSystems: 5, compasBinary: fakeCompasPath(), output: store, executor: executor(), detach: true });
    expect(summary.tasks.submitted).toBe(1);
    expect(await store.exists(MANIFEST_KEY)).toBe(false);

    const handle = ExecutorHandleSchema.parse(await json(store, HANDLE_KEY));
    expect(handle).toEqual(JSON.parse(JSON.stringify(summary.handle)));
    const taskId = handle.task_ids[0]!;
    const [submit] = since(fake.submitted(), submittedBefore);
    expect(submit!.arrayProperties).toBeUndefined();
    expect((submit!.containerOverrides as { command: string[] }).command).toEqual(["compas-ensemble", "worker", "--plan", store.uri, "--task", taskId]);
    expect(JSON.stringify(handle)).not.toContain(DUMMY.secretAccessKey);
    expect(JSON.stringify(handle)).not.toContain(S3RVER_CREDENTIALS.secretAccessKey);

    const other = reattach(handle);
    const jobId = (handle.data.jobs as { job_id: string }[])[0]!.job_id;
    expect(await other.wait(handle)).toEqual([{ taskId, state: "succeeded", attempt: 1, where: jobId }]);

    // Running the ensemble again finds the task done and writes the manifest without submitting.
    const again = await runEnsemble({ points: sliceGrid(points, 6, 7), nSystems: 5, compasBinary: fakeCompasPath(), output: store, executor: executor() });
    expect(again.tasks).toEqual({ total: 1, skipped: 1, submitted: 0 });
    expect(fake.submitted().length - submittedBefore).toBe(1);
    expect(ManifestSchema.parse(await json(store, MANIFEST_KEY)).runs[0]!.status).toBe("success");
  }, E2E_TIMEOUT);

  it("refuses to resubmit while jobs run, then cancels from a re-attached executor: one TerminateJob on the parent kills the running children and cancels the rest", async () => {
    fake.clearHooks();
    const startedDir = mkdtempSync(join(tmpdir(), "batch-hang-"));
    for (const i of [0, 1, 2]) fake.setChildEnv(i, { FAKE_COMPAS_HANG: "1", FAKE_COMPAS_STARTED_DIR: startedDir });
    const store = openStore(`s3://${await s3.createBucket()}/cancel`, s3.storeOptions());
    await runEnsemble({ points: sliceGrid(points, 7, 10), nSystems: 5, compasBinary: fakeCompasPath(), output: store, executor: executor(), detach: true });
    const handle = ExecutorHandleSchema.parse(await json(store, HANDLE_KEY));
    const jobId = (handle.data.jobs as { job_id: string }[])[0]!.job_id;
    const other = reattach(handle);

    const hanging = () => standInProcesses(startedDir).filter((p) => p.end === undefined && isAlive(p.pid));
    await waitFor(() => hanging().length === 2, "two COMPAS stand-ins hanging in array children", 180_000);
    const during = await other.status(handle);
    expect(during.map((s) => s.state)).toEqual(["running", "running", "pending"]);

    // Running the ensemble again now would submit the same tasks a second time.
    const submitsBefore = fake.requests.submitjob ?? 0;
    const again = await runEnsemble({ points: sliceGrid(points, 7, 10), nSystems: 5, compasBinary: fakeCompasPath(), output: store, executor: executor() }).catch((e: unknown) => e);
    expect(isCompasEnsembleError(again, "OPTIONS_INVALID")).toBe(true);
    // An array parent stays PENDING while its children run (AWS Batch user guide, Array jobs).
    expect((again as Error).message).toContain(`${jobId} (PENDING)`);
    expect((again as { hint?: string }).hint).toContain(`compas-ensemble cancel ${store.uri}`);
    expect(fake.requests.submitjob ?? 0).toBe(submitsBefore);

    const terminatesBefore = fake.requests.terminatejob ?? 0;
    const compasPids = hanging().map((p) => p.pid);
    const workerPids = [0, 1].flatMap((i) => fake.job(`${jobId}:${i}`)!.pids);
    await other.cancel(handle);
    const final = await other.wait(handle);

    expect((fake.requests.terminatejob ?? 0) - terminatesBefore).toBe(1);
    expect(final.map((s) => s.state)).toEqual(["cancelled", "cancelled", "cancelled"]);
    expect(final[0]!.reason).toMatch(/^cancelled: compas-ensemble cancel/);
    expect(fake.job(jobId)!.status).toBe("FAILED");
    expect(fake.job(`${jobId}:2`)!.pids).toEqual([]);
    for (const pid of [...compasPids, ...workerPids]) expect(isAlive(pid)).toBe(false);
    const { fragments } = await readFragments(store);
    expect(fragments).toEqual([]);
  }, E2E_TIMEOUT);
});
