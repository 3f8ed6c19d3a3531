import { execFile, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GridPointSchema } from "../../src/grid/schema.js";
import { ManifestSchema } from "../../src/metadata/schemas.js";
import { openStore } from "../../src/store/open.js";
import { cliCommand } from "../support/cli.js";
import { startFakeBatch, type FakeBatch } from "../support/fake-batch.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { assertLegacyOpenssl, S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from "../support/s3rver.js";

const run = promisify(execFile);
const [node, ...cli] = cliCommand();

async function ce(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(node!, [...cli, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("the compas-ensemble CLI", () => {
  it("grid --full --json prints the 1,440 points with the predecessor's ids", async () => {
    const { code, stdout } = await ce(["grid", "--full", "--json"]);
    expect(code).toBe(0);
    const points = GridPointSchema.array().parse(JSON.parse(stdout));
    expect(points).toHaveLength(1440);
    expect(points[1439]!.run_id).toBe("alpha5.000_lambda1.00_kick300_Z0.02000_fa0.75");
    const sparse = await ce(["grid", "--sparse", "--json"]);
    expect(JSON.parse(sparse.stdout)).toHaveLength(40);
  });

  it("answers a user error with one sentence, a hint and exit 2, and a stack trace only with --debug", async () => {
    const plain = await ce(["run", "--test-run", "--n-systems", "10", "--compas-binary", "/nonexistent/COMPAS"]);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/^error: COMPAS binary \/nonexistent\/COMPAS \(from --compas-binary\) does not exist\.\nhint: /);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = await ce(["--debug", "run", "--test-run", "--n-systems", "10", "--compas-binary", "/nonexistent/COMPAS"]);
    expect(debug.code).toBe(2);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it("run resumes, status counts, and the manifest lists every run", async () => {
    const out = mkdtempSync(join(tmpdir(), "cli-run-"));
    const args = ["run", "--test-run", "--n-systems", "15", "--output-dir", out, "--compas-binary", fakeCompasPath(), "--concurrency", "2"];
    const first = await ce(args);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain("3/3 runs succeeded");
    const second = await ce(args);
    expect(second.stderr).toContain("3 already done, 0 to run");
    const status = await ce(["status", out, "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ total: 3, succeeded: 3, failed: 0, pending: 0 });
    const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(out, "ensemble_metadata.json"), "utf8")));
    expect(manifest.runs.map((r) => r.status)).toEqual(["success", "success", "success"]);
  });

  it("keeps running when the reader of its output goes away (run | head): the manifest is written and the exit code is the ensemble's", async () => {
    const out = mkdtempSync(join(tmpdir(), "cli-epipe-"));
    const child = spawn(
      node!,
      [...cli, "run", "--test-run", "--n-systems", "15", "--output-dir", out, "--compas-binary", fakeCompasPath(), "--concurrency", "2"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    // Like `2>&1 | head -1`: read the first line, then close both pipes while the run goes on.
    await new Promise<void>((resolve) => child.stderr.once("data", () => resolve()));
    child.stdout.destroy();
    child.stderr.destroy();
    expect(await exited).toEqual({ code: 0, signal: null });
    const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(out, "ensemble_metadata.json"), "utf8")));
    expect(manifest.runs.map((r) => r.status)).toEqual(["success", "success", "success"]);
    expect(existsSync(join(out, ".compas-ensemble.lock"))).toBe(false);
    expect(readdirSync(join(out, ".scratch"))).toEqual([]);
  }, 180_000);

  it("fails with one sentence when its standard output cannot be written (a full disk), instead of a crash", async () => {
    const full = openSync("/dev/full", "w");
    try {
      const child = spawn(node!, [...cli, "grid", "--full", "--json"], { stdio: ["ignore", full, "pipe"] });
      let stderr = "";
      child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
      expect(code).toBe(1);
      expect(stderr).toBe("error: could not write to standard output (ENOSPC: no space left on device, write), so what it holds is incomplete.\n");
    } finally {
      closeSync(full);
    }
  });

  it("run and status show a failed COMPAS run with its last ERROR line and where its log is", async () => {
    const out = mkdtempSync(join(tmpdir(), "cli-error-line-"));
    const env = { ...process.env, FAKE_COMPAS_FAIL: "stopped" };
    const run = await ce(["run", "--sparse", "--end-index", "1", "--n-systems", "10", "--output-dir", out, "--compas-binary", fakeCompasPath()], env);
    expect(run.code).toBe(1);
    const runId = JSON.parse(readFileSync(join(out, "plan.json"), "utf8")).tasks[0].task_id as string;
    const log = join(out, "logs", `${runId}.a1.log`);
    const reason = `COMPAS ended with exit code 2 (last error: "ERROR: in BaseBinaryStar::Evolve(): failure forced by FAKE_COMPAS_FAIL=stopped"); its log is ${log}.`;
    expect(run.stderr).toContain(`  ${runId}: COMPAS_FAILED: ${reason}\n`);
    expect(existsSync(log)).toBe(true);
    const status = await ce(["status", out]);
    expect(status.stdout).toContain(`  failed ${runId} after 1 attempt(s): COMPAS_FAILED: ${reason}\n`);
  }, 180_000);

  describe("with a detached executor (fake AWS Batch control plane, s3rver)", () => {
    let s3: S3rverHandle;
    let fake: FakeBatch;
    const env = {
      ...process.env,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: "us-east-1",
    };
    beforeAll(async () => {
      assertLegacyOpenssl();
      s3 = await startS3rver();
      fake = await startFakeBatch({ env: { ...env, AWS_ENDPOINT_URL_S3: s3.endpoint }, parallelism: 2 });
    });
    afterAll(async () => {
      await fake?.stop();
      await s3?.stop();
    });

    it("run --detach returns after submitting, and wait from another process follows it to the manifest", async () => {
      const bucket = await s3.createBucket();
      const uri = `s3://${bucket}/cli`;
      const cliEnv = { ...env, AWS_ENDPOINT_URL_S3: s3.endpoint };
      const submitted = await ce(
        ["run", "--executor", "batch", "--test-run", "--n-systems", "10", "--output-dir", uri, "--compas-binary", fakeCompasPath(),
          "--job-queue", "q", "--image", "local/ce:test", "--batch-endpoint", fake.endpoint, "--poll-interval", "1", "--detach"],
        cliEnv,
      );
      expect(submitted.code, submitted.stderr).toBe(0);
      expect(submitted.stderr).toContain(`follow with: compas-ensemble wait ${uri}`);
      const waited = await ce(["wait", uri, "--batch-endpoint", fake.endpoint], cliEnv);
      expect(waited.code, waited.stderr).toBe(0);
      expect(waited.stderr).toContain("3/3 runs succeeded");
      const store = openStore(uri, s3.storeOptions());
      const manifest = ManifestSchema.parse(JSON.parse((await store.get("ensemble_metadata.json")).toString("utf8")));
      expect(manifest.runs.filter((r) => r.status === "success")).toHaveLength(3);
      expect(fake.submitted()).toHaveLength(1);
    }, 240_000);
  });
});
