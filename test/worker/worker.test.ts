import { execFile, execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeCompas } from "../../src/compas/probe.js";
import { putJson } from "../../src/store/ensemble-files.js";
import { readFragments } from "../../src/store/fragments.js";
import { PLAN_KEY } from "../../src/store/keys.js";
import { buildPlan } from "../../src/plan/build.js";
import { isCompasEnsembleError } from "../../src/errors.js";
import { runWorker, WORKER_EXIT } from "../../src/worker/main.js";
import { indexListKey } from "../../src/store/keys.js";
import { runTask } from "../../src/worker/task.js";
import { expandGrid, sliceGrid, sparseGrid } from "../../src/grid/index.js";
import type { Plan } from "../../src/plan/schema.js";
import { LocalStore } from "../../src/store/local.js";
import { openStore } from "../../src/store/open.js";
import { cliCommand } from "../support/cli.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { standInProcesses } from "../support/processes.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";

const execFileAsync = promisify(execFile);
const cli = cliCommand();

async function planInto(store: { put: LocalStore["put"] } & Parameters<typeof putJson>[0], n = 10): Promise<Plan> {
  const probe = await probeCompas(fakeCompasPath());
  const plan = buildPlan({ points: sliceGrid(expandGrid(sparseGrid()), 0, 3), nSystems: n, compas: probe });
  await putJson(store, PLAN_KEY, plan);
  return plan;
}

describe("the worker", () => {
  let s3: S3rverHandle;
  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it("runs the task named by an array index through the stored index list, then skips it when asked again", async () => {
    const store = new LocalStore(mkdtempSync(join(tmpdir(), "worker-")));
    const plan = await planInto(store);
    // A resubmission of only task 2 maps array index 0 to it.
    await putJson(store, indexListKey("retry1"), [plan.tasks[2]!.task_id]);
    const first = await runWorker({ plan: store, index: 0, indexList: "retry1" });
    expect(first).toMatchObject({ taskId: plan.tasks[2]!.task_id, outcome: "success", exitCode: WORKER_EXIT.success });
    const again = await runWorker({ plan: store, taskId: plan.tasks[2]!.task_id });
    expect(again.outcome).toBe("already-done");
    const { fragments } = await readFragments(store);
    expect(fragments).toHaveLength(1);
    expect(fragments[0]!.context?.grid_index).toBe(2);
  });

  it("as a CLI in a clean process, takes its index from AWS_BATCH_JOB_ARRAY_INDEX and writes output and fragment to S3", async () => {
    const bucket = await s3.createBucket();
    const uri = `s3://${bucket}/ens1`;
    const store = openStore(uri, s3.storeOptions());
    const plan = await planInto(store);
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_BATCH_JOB_ARRAY_INDEX: "1",
    };
    const { stderr } = await execFileAsync(cli[0]!, [...cli.slice(1), "worker", "--plan", uri], { env });
    expect(stderr).toContain(`task ${plan.tasks[1]!.task_id} success`);
    expect(stderr).not.toContain("S3RVER");
    expect(await store.exists(plan.tasks[1]!.output_key)).toBe(true);
    const { fragments } = await readFragments(store);
    expect(fragments.map((f) => f.task_id)).toEqual([plan.tasks[1]!.task_id]);
  });

  it("refuses a hand-edited plan whose task id leaves the scratch folder, before anything touches the disk", async () => {
    const work = mkdtempSync(join(tmpdir(), "worker-unsafe-"));
    const dir = join(work, "ensemble");
    const plan = await planInto(new LocalStore(dir));
    const scratchRoot = join(work, "scratch");
    mkdirSync(scratchRoot);
    const started = join(work, "started");
    mkdirSync(started);
    const edited = JSON.parse(readFileSync(join(dir, "plan.json"), "utf8")) as Plan;
    edited.tasks[0]!.task_id = "../escaped";
    edited.runs[0]!.task_ids = ["../escaped"];
    writeFileSync(join(dir, "plan.json"), JSON.stringify(edited));
    const before = readdirSync(work).sort();

    process.env.FAKE_COMPAS_STARTED_DIR = started;
    try {
      const err = await runWorker({ plan: dir, index: 0, scratchRoot }).catch((e: unknown) => e);
      expect(isCompasEnsembleError(err, "METADATA_INVALID")).toBe(true);
      expect((err as Error).message).toContain(`${dir}/plan.json is not a compas-ensemble plan`);
      expect((err as Error).message).toContain(`"../escaped" is not a safe name for files because it contains a '/'`);
    } finally {
      delete process.env.FAKE_COMPAS_STARTED_DIR;
    }
    expect(readdirSync(work).sort()).toEqual(before);
    expect(readdirSync(scratchRoot)).toEqual([]);
    expect(standInProcesses(started)).toEqual([]);
  });

  it("refuses to run a task built in code whose id or output key would leave its folders", async () => {
    const work = mkdtempSync(join(tmpdir(), "worker-unsafe-task-"));
    const store = new LocalStore(join(work, "ensemble"));
    const plan = await planInto(store);
    const scratchRoot = join(work, "scratch");
    mkdirSync(scratchRoot);
    for (const task of [
      { ...plan.tasks[0]!, task_id: ".." },
      { ...plan.tasks[0]!, output_key: "runs/../../outside.h5" },
    ]) {
      const err = await runTask({ plan, task, store, attempt: 1, scratchRoot }).catch((e: unknown) => e);
      expect(isCompasEnsembleError(err, "METADATA_INVALID")).toBe(true);
      expect((err as Error).message).toMatch(/is unsafe to run \((task_id|output_key): .* because it contains a '\.\.' segment\)/);
    }
    expect(readdirSync(work).sort()).toEqual(["ensemble", "scratch"]);
    expect(readdirSync(scratchRoot)).toEqual([]);
  });

  it("exits with the retryable code when COMPAS crashes, and 2 with one sentence for a bad index", async () => {
    const dir = mkdtempSync(join(tmpdir(), "worker-cli-"));
    const plan = await planInto(new LocalStore(dir));
    const env = { ...process.env, FAKE_COMPAS_KILL_AFTER: "1" };
    const crash = await execFileAsync(cli[0]!, [...cli.slice(1), "worker", "--plan", dir, "--task", plan.tasks[0]!.task_id], { env }).catch((e: { code: number; stderr: string }) => e);
    expect((crash as { code: number }).code).toBe(WORKER_EXIT.retryable);
    const bad = await execFileAsync(cli[0]!, [...cli.slice(1), "worker", "--plan", dir, "--index", "7"]).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toMatch(/^error: Array index 7 is outside the 3 tasks of the index list\.\n/);
    expect((bad as { stderr: string }).stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it("refuses a later task once the binary was rebuilt, though the binary's probe is cached between tasks", async () => {
    const dir = mkdtempSync(join(tmpdir(), "worker-rebuilt-"));
    const binary = join(dir, "COMPAS");
    writeFileSync(binary, `#!/bin/sh\nexec "${fakeCompasPath()}" "$@"\n`);
    chmodSync(binary, 0o755);
    const store = new LocalStore(join(dir, "ensemble"));
    const plan = buildPlan({ points: sliceGrid(expandGrid(sparseGrid()), 0, 3), nSystems: 3, compas: await probeCompas(binary) });
    const task = (i: number) => runTask({ plan, task: plan.tasks[i]!, store, attempt: 1, scratchRoot: join(dir, "scratch") });
    expect((await task(0)).status).toBe("success");
    expect((await task(1)).status).toBe("success");
    // Rebuilt in place: same size, same inode, and the modification time put back.
    execFileSync("touch", ["-r", binary, join(dir, "times")]);
    writeFileSync(binary, readFileSync(binary, "utf8").replace("#!/bin/sh", "#!/bin/bash"));
    execFileSync("touch", ["-r", join(dir, "times"), binary]);
    const third = await task(2);
    expect(third.status).toBe("failed");
    expect(third.status !== "cancelled" && third.fragment.error).toMatchObject({ code: "PLAN_MISMATCH", retryable: false });
  });
});
