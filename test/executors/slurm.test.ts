import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runEnsemble } from "../../src/ensemble/run.js";
import { indexListKey } from "../../src/store/keys.js";
import { parseScontrolJobs, parseSqueueJson } from "../../src/executors/slurm/_jobs.js";
import { SlurmExecutor, reattachSlurmExecutor, type SlurmExecutorOptions } from "../../src/executors/slurm/index.js";
import type { ExecutorHandle, TaskStatus } from "../../src/executors/types.js";
import { expandGrid, sliceGrid, sparseGrid } from "../../src/grid/index.js";
import { openStore } from "../../src/store/open.js";
import { FragmentSchema, type Fragment } from "../../src/manifest/schema.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { isAlive, maxOverlap, standInProcesses, waitFor } from "../support/processes.js";
import { S3RVER_CREDENTIALS, startS3rver } from "../support/s3rver.js";
import { cliCommand, REPO } from "../support/cli.js";
import { startSlurm, type SlurmCluster } from "../support/slurm.js";
import { manifestOf } from "../support/ensemble-files.js";

// The built CLI, as users run it: a worker starts in well under a second, where tsx would
// transform every module in every job (see test/support/cli.ts).
const WORKER = cliCommand();
const points = expandGrid(sparseGrid());
// MaxArraySize 3: a 4-task grid needs two arrays, so splitting is exercised on every run.
const MAX_ARRAY = 3;

let cluster: SlurmCluster;

beforeAll(async () => {
  cluster = await startSlurm({ maxArraySize: MAX_ARRAY });
});

const temps: string[] = [];

afterAll(async () => {
  await cluster?.stop();
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `slurm-${name}-`));
  temps.push(dir);
  return dir;
}

function executor(extra: Partial<SlurmExecutorOptions> = {}): SlurmExecutor {
  return new SlurmExecutor({
    workerCommand: WORKER,
    pollIntervalMs: 200,
    partition: "debug",
    timeLimit: "10",
    memory: "200M",
    ...extra,
    env: { ...cluster.env, ...extra.env },
  });
}

function fragmentsIn(dir: string): Fragment[] {
  const fdir = join(dir, "fragments");
  if (!existsSync(fdir)) return [];
  return readdirSync(fdir).map((f) => FragmentSchema.parse(JSON.parse(readFileSync(join(fdir, f), "utf8"))));
}

function arraysOf(handle: ExecutorHandle): { job_id: string; index_list: string; size: number }[] {
  return (handle.data as { arrays: { job_id: string; index_list: string; size: number }[] }).arrays;
}

/** squeue --json records of the given arrays, read by the test itself. */
function slurmRecords(jobIds: readonly string[]): { array_job_id: number; array_task_id: number | null; job_state: string; exit_code: number; array_max_tasks: number }[] {
  const ids = new Set(jobIds.map(Number));
  return cluster.jobs().filter((j) => ids.has(j.array_job_id as number)) as never;
}

async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function pidFiles(scratch: string): string[] {
  if (!existsSync(scratch)) return [];
  return readdirSync(scratch, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith("compas.pid"));
}

/** Runs a snippet in a fresh Node process (another process than the one that submitted). */
function nodeScript(code: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

// Each worker start loads the CLI through tsx (~2 s of CPU); on a shared 2-core machine a
// test can take a minute.
describe("SlurmExecutor on a one-node Slurm", { timeout: 180_000 }, () => {
  it("runs a 4-point grid as two arrays (MaxArraySize 3) and writes the manifest from the fragments", async () => {
    const out = tempDir("e2e");
    const summary = await runEnsemble({
      points: sliceGrid(points, 0, 4),
      nSystems: 10,
      compasBinary: fakeCompasPath(),
      output: out,
      executor: executor(),
    });
    expect(summary.runs).toEqual({ total: 4, succeeded: 4, failed: 0, pending: 0 });
    const manifest = manifestOf(out);
    for (const run of manifest.runs) {
      expect(run.status).toBe("success");
      expect(readFileSync(run.output_file!).byteLength).toBeGreaterThan(1000);
    }

    const handle = summary.handle!;
    expect(JSON.parse(readFileSync(join(out, "executor", "handle.json"), "utf8"))).toEqual(handle);
    const arrays = arraysOf(handle);
    expect(arrays.map((a) => a.size)).toEqual([3, 1]);
    const listed = arrays.flatMap((a) => JSON.parse(readFileSync(join(out, indexListKey(a.index_list)), "utf8")) as string[]);
    expect(listed).toEqual(handle.task_ids);
    expect(new Set(listed).size).toBe(4);

    // What Slurm itself saw: two arrays of 3 and 1 elements, all COMPLETED (a job may
    // still be finishing: the fragment is written before the worker exits).
    const done = () => slurmRecords(arrays.map((a) => a.job_id)).filter((r) => r.job_state === "COMPLETED").length === 4;
    await waitFor(done, "Slurm to report the 4 elements COMPLETED");
    const records = slurmRecords(arrays.map((a) => a.job_id));
    expect(arrays.map((a) => records.filter((r) => String(r.array_job_id) === a.job_id).length)).toEqual([3, 1]);
    // The sbatch options reached the job.
    const shown = cluster.run("scontrol", ["show", "job", "--oneliner", `${arrays[0]!.job_id}_0`]);
    expect(shown).toMatch(/Partition=debug /);
    expect(shown).toMatch(/TimeLimit=00:10:00 /);
    expect(shown).toMatch(/MinMemoryNode=200M /);
    expect(shown).toMatch(/CPUs\/Task=1 /);
    // Each element's log is where the handle says, and shows the worker's outcome.
    for (const [k, a] of arrays.entries()) {
      for (let i = 0; i < a.size; i++) {
        const log = readFileSync(join(out, "logs", "slurm", `slurm-${a.job_id}_${i}.out`), "utf8");
        expect(log).toContain(`worker: task ${handle.task_ids[k * MAX_ARRAY + i]} success`);
      }
    }

    // The scontrol fallback reads the same elements as squeue --json.
    const ids = new Set(arrays.map((a) => a.job_id));
    const viaJson = parseSqueueJson(cluster.run("squeue", ["--json"]), ids).map((e) => `${e.arrayJobId}_${e.index}:${e.state}`).sort();
    const viaScontrol = parseScontrolJobs(cluster.run("scontrol", ["show", "job", "--oneliner"]), ids).map((e) => `${e.arrayJobId}_${e.index}:${e.state}`).sort();
    expect(viaScontrol).toEqual(viaJson);
    expect(viaJson).toHaveLength(4);

    // Once Slurm has forgotten the jobs (ids it never had), the fragments alone say succeeded.
    const forgotten = { ...handle, data: { ...handle.data, arrays: arrays.map((a, i) => ({ ...a, job_id: String(900000 + i) })) } };
    const statuses = await executor().status(forgotten);
    expect(statuses.map((s) => s.state)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
  });

  it("records failing tasks with their reason; exit 3 is not retried; a throttle of 1 holds across two arrays", async () => {
    const out = tempDir("fail");
    const summary = await runEnsemble({
      points: sliceGrid(points, 0, 4),
      nSystems: 10,
      compasBinary: fakeCompasPath(),
      output: out,
      executor: executor({ throttle: 1, env: { FAKE_COMPAS_FAIL: "exit3" } }),
    });
    expect(summary.runs).toEqual({ total: 4, succeeded: 0, failed: 4, pending: 0 });
    for (const f of summary.failures) expect(f.reason).toMatch(/COMPAS rejected its command line \(exit 3\)/);
    const manifest = manifestOf(out);
    expect(manifest.runs.map((r) => r.status)).toEqual(["failed", "failed", "failed", "failed"]);
    // Non-retryable: one attempt each despite the default of 2 in-job retries.
    const fragments = fragmentsIn(out);
    expect(fragments.map((f) => `${f.status}.a${f.attempt}`)).toEqual(["failed.a1", "failed.a1", "failed.a1", "failed.a1"]);
    // Throttle 1 over arrays of 3 and 1 (the second waits for the first): never two at once.
    const intervals = fragments.map((f) => ({ pid: 0, start: Date.parse(f.started_at), end: Date.parse(f.finished_at) }));
    expect(maxOverlap(intervals)).toBe(1);

    const handle = summary.handle!;
    const arrays = arraysOf(handle);
    expect(arrays.map((a) => a.size)).toEqual([3, 1]);
    const statuses = await reattachSlurmExecutor(handle, { env: cluster.env }).status(handle);
    for (const s of statuses) {
      expect(s.state).toBe("failed");
      expect(s.reason).toMatch(/exit 3/);
    }
    const ended = () => slurmRecords(arrays.map((a) => a.job_id)).filter((r) => r.job_state === "FAILED").length === 4;
    await waitFor(ended, "Slurm to report the 4 elements FAILED");
    const records = slurmRecords(arrays.map((a) => a.job_id));
    expect(records.map((r) => r.exit_code >> 8)).toEqual([1, 1, 1, 1]);
    expect(records.map((r) => r.array_max_tasks)).toEqual([1, 1, 1, 1]);
  });

  it("cancels from another process with scancel: jobs end CANCELLED, no COMPAS survives, statuses say cancelled", async () => {
    const out = tempDir("cancel");
    const started = tempDir("cancel-pids");
    const scratch = tempDir("cancel-scratch");
    const summary = await runEnsemble({
      points: sliceGrid(points, 0, 4),
      nSystems: 10,
      compasBinary: fakeCompasPath(),
      output: out,
      detach: true,
      executor: executor({ scratchDir: scratch, env: { FAKE_COMPAS_DELAY_MS: "1000", FAKE_COMPAS_STARTED_DIR: started } }),
    });
    const handle = summary.handle!;
    // Two COMPAS processes running (one per CPU of the node), two elements still pending.
    await waitFor(() => pidFiles(scratch).length >= 2, "two tasks to start COMPAS", 60_000);

    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.SLURM_CONF; // the handle must carry it
    // What `compas-ensemble cancel <output>` does: attachEnsemble with the Slurm re-attach.
    const code = `
      const { attachEnsemble } = await import(${JSON.stringify(join(REPO, "src/ensemble/attach.ts"))});
      const { reattachSlurmExecutor } = await import(${JSON.stringify(join(REPO, "src/executors/slurm/index.ts"))});
      const summary = await attachEnsemble({
        output: ${JSON.stringify(out)},
        action: "cancel",
        reattach: (handle, store) => reattachSlurmExecutor(handle, { store, pollIntervalMs: 200 }),
      });
      console.log(JSON.stringify(summary.statuses.map((s) => s.state)));
    `;
    const result = await nodeScript(code, env);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual(["cancelled", "cancelled", "cancelled", "cancelled"]);
    expect(manifestOf(out).runs.map((r) => r.status)).not.toContain("success");

    const records = slurmRecords(arraysOf(handle).map((a) => a.job_id));
    expect(records.length).toBeGreaterThan(0);
    expect(new Set(records.map((r) => r.job_state))).toEqual(new Set(["CANCELLED"]));
    const procs = standInProcesses(started);
    expect(procs.length).toBeGreaterThanOrEqual(2);
    expect(procs.filter((p) => isAlive(p.pid))).toEqual([]);

    const statuses = await executor().status(handle);
    expect(statuses.map((s) => s.state)).toEqual(["cancelled", "cancelled", "cancelled", "cancelled"]);
    expect(fragmentsIn(out).filter((f) => f.status === "success")).toEqual([]);
    // After Slurm forgets the jobs, the cancel marker in the store still says cancelled.
    const forgotten = { ...handle, data: { ...handle.data, arrays: arraysOf(handle).map((a, i) => ({ ...a, job_id: String(910000 + i) })) } };
    expect((await executor().status(forgotten)).map((s) => s.state)).toEqual(["cancelled", "cancelled", "cancelled", "cancelled"]);
  });

  it("resumes by submitting only the task without a success fragment, as an array of one", async () => {
    const out = tempDir("resume");
    const once = join(tempDir("resume-once"), "failed-once");
    const first = await runEnsemble({
      points: sliceGrid(points, 0, 2),
      nSystems: 10,
      compasBinary: fakeCompasPath(),
      output: out,
      executor: executor({ retries: 0, env: { FAKE_COMPAS_FAIL_ONCE_FILE: once } }),
    });
    expect(first.runs).toEqual({ total: 2, succeeded: 1, failed: 1, pending: 0 });
    const failedTask = fragmentsIn(out).find((f) => f.status === "failed")!.task_id;

    const second = await runEnsemble({
      points: sliceGrid(points, 0, 2),
      nSystems: 10,
      compasBinary: fakeCompasPath(),
      output: out,
      executor: executor({ retries: 0 }),
    });
    expect(second.tasks).toEqual({ total: 2, skipped: 1, submitted: 1 });
    expect(second.runs).toEqual({ total: 2, succeeded: 2, failed: 0, pending: 0 });
    const arrays = arraysOf(second.handle!);
    expect(arrays.map((a) => a.size)).toEqual([1]);
    expect(JSON.parse(readFileSync(join(out, indexListKey(arrays[0]!.index_list)), "utf8"))).toEqual([failedTask]);
    expect(arrays[0]!.index_list).not.toBe(arraysOf(first.handle!)[0]!.index_list);
    // Slurm saw an array of exactly one element.
    await waitFor(() => slurmRecords([arrays[0]!.job_id]).every((r) => r.job_state === "COMPLETED"), "Slurm to report the array COMPLETED");
    const records = slurmRecords([arrays[0]!.job_id]);
    expect(records.map((r) => [r.array_task_id, r.job_state])).toEqual([[0, "COMPLETED"]]);
    expect((second.handle!.data as { first_attempt: Record<string, number> }).first_attempt).toEqual({ [failedTask]: 2 });
    const mine = fragmentsIn(out).filter((f) => f.task_id === failedTask).map((f) => `${f.status}.a${f.attempt}`).sort();
    expect(mine).toEqual(["failed.a1", "success.a2"]);
  });

  it("shows a requeued task as pending and still records exactly one success per task", async () => {
    const out = tempDir("requeue");
    const scratch = tempDir("requeue-scratch");
    const summary = await runEnsemble({
      points: sliceGrid(points, 0, 1),
      nSystems: 10,
      compasBinary: fakeCompasPath(),
      output: out,
      detach: true,
      executor: executor({ scratchDir: scratch, env: { FAKE_COMPAS_DELAY_MS: "300" } }),
    });
    const handle = summary.handle!;
    const jobId = arraysOf(handle)[0]!.job_id;
    const first = handle.task_ids[0]!;
    await waitFor(() => pidFiles(scratch).some((f) => f.startsWith(`${first}.a`)), "task 0 to start COMPAS", 60_000);

    cluster.run("scontrol", ["requeue", `${jobId}_0`]);
    const ex = executor();
    const requeued = await until(
      () => ex.status(handle),
      (s: TaskStatus[]) => s[0]!.state === "pending",
      "task 0 to show as pending after the requeue",
    );
    expect(requeued[0]!.reason).toMatch(/Slurm: /);
    // Slurm holds a requeued job for two minutes; let it go at the next whole second, not at
    // once: a restart within the requeue's own second is refused by slurmd and ends the job
    // FAILED (see releaseRequeued in test/support/slurm.ts).
    await cluster.releaseRequeued(`${jobId}_0`);

    const events: string[] = [];
    const final = await ex.wait(handle, { onEvent: (e) => events.push(e.type) });
    const log = readFileSync(join(out, "logs", "slurm", `slurm-${jobId}_0.out`), "utf8");
    expect(final.map((s) => s.state), `${JSON.stringify(final)}\n${log}`).toEqual(["succeeded"]);
    const successes = fragmentsIn(out).filter((f) => f.status === "success").map((f) => f.task_id).sort();
    expect(successes).toEqual([...handle.task_ids].sort());
    expect(events).toContain("task-finished");
    const record = slurmRecords([jobId]).find((r) => r.array_task_id === 0) as unknown as { restart_cnt: number };
    expect(record.restart_cnt).toBe(1);
  });

  it("runs against an S3 store: workers get the endpoint and credentials from the job environment, the handle holds neither", async () => {
    const s3 = await startS3rver();
    try {
      const store = openStore(`s3://${await s3.createBucket()}/slurm`, s3.storeOptions());
      const logDir = tempDir("s3-logs");
      const secret = S3RVER_CREDENTIALS.secretAccessKey;
      const summary = await runEnsemble({
        points: sliceGrid(points, 0, 1),
        nSystems: 10,
        compasBinary: fakeCompasPath(),
        output: store,
        executor: executor({
          logDir,
          storeOptions: s3.storeOptions(),
          env: { S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: secret, AWS_REGION: "us-east-1" },
        }),
      });
      expect(summary.runs).toEqual({ total: 1, succeeded: 1, failed: 0, pending: 0 });
      const keys = (await store.list()).map((e) => e.key);
      for (const id of summary.handle!.task_ids) expect(keys).toContain(`fragments/${id}.a1.json`);
      expect(keys.filter((k) => k.endsWith("COMPAS_Output.h5"))).toHaveLength(1);
      const saved = (await store.get("executor/handle.json")).toString("utf8");
      expect(saved).not.toContain(secret);
      const script = (await store.get(`executor/slurm/${(summary.handle!.data as { submission: string }).submission}/array-0.sh`)).toString("utf8");
      expect(script).not.toContain(secret);
      expect(readdirSync(logDir)).toEqual([`slurm-${arraysOf(summary.handle!)[0]!.job_id}_0.out`]);
    } finally {
      await s3.stop();
    }
  });
});
