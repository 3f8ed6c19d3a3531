import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FragmentSchema, ManifestSchema } from "../../src/manifest/schema.js";
import { openStore } from "../../src/store/open.js";
import { cliCommand } from "../support/cli.js";
import { startFakeBatch, type FakeBatch } from "../support/fake-batch.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { assertLegacyOpenssl, S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { ENV, expectedRun, GRID, points } from "../support/adaptive-rule.js";

const execFileAsync = promisify(execFile);

async function ce(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const [node, ...cliArgs] = cliCommand();
  try {
    const { stdout, stderr } = await execFileAsync(node!, [...cliArgs, ...args], { env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("an adaptive ensemble on a detached executor (fake AWS Batch control plane, real workers, s3rver)", () => {
  let s3: S3rverHandle;
  let fake: FakeBatch;
  let dir: string;
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: "us-east-1",
  };
  beforeAll(async () => {
    assertLegacyOpenssl();
    s3 = await startS3rver();
    fake = await startFakeBatch({ env: { ...env, ...ENV, AWS_ENDPOINT_URL_S3: s3.endpoint }, parallelism: 2 });
    dir = mkdtempSync(join(tmpdir(), "adaptive-batch-"));
  });
  afterAll(async () => {
    await fake?.stop();
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("run --detach submits the first wave, and wait from another process goes on wave by wave to the merged runs", async () => {
    const bucket = await s3.createBucket();
    const uri = `s3://${bucket}/adaptive`;
    const grid = join(dir, "grid.json");
    writeFileSync(grid, JSON.stringify(GRID));
    const cliEnv = { ...env, AWS_ENDPOINT_URL_S3: s3.endpoint };
    const submitted = await ce(
      ["run", "--executor", "batch", "--file", grid, "--target-dcos", "BBH:merging:3", "--chunk", "100", "--max-systems", "600",
        "--output-dir", uri, "--compas-binary", fakeCompasPath(), "--job-queue", "q", "--image", "local/ce:test",
        "--batch-endpoint", fake.endpoint, "--poll-interval", "1", "--detach"],
      cliEnv,
    );
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(fake.submitted()).toHaveLength(1);
    const store = openStore(uri, s3.storeOptions());
    expect((await store.list("adaptive/")).map((e) => e.key)).toEqual(["adaptive/wave-1.json"]);

    const waited = await ce(["wait", uri, "--batch-endpoint", fake.endpoint], cliEnv);
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stderr).toContain("3/3 runs succeeded");

    const manifest = ManifestSchema.parse(JSON.parse((await store.get("ensemble_metadata.json")).toString("utf8")));
    for (const [k, p] of points.entries()) {
      const want = expectedRun(k, p.params.metallicity, 100, 600, 3);
      const run = manifest.runs[k] as Record<string, unknown>;
      expect(run.status).toBe("success");
      expect(run.adaptive).toMatchObject({ dcos: want.dcos, reached: want.reached, cap_hit: !want.reached, n_chunks: want.chunks, n_systems: want.systems });
    }
    // Each wave was one submission (one array job), and no chunk ran twice.
    const waves = (await store.list("adaptive/")).map((e) => e.key).filter((k) => k.startsWith("adaptive/wave-"));
    expect(waves.length).toBeGreaterThan(1);
    expect(fake.submitted()).toHaveLength(waves.length);
    const fragments = await Promise.all(
      (await store.list("fragments/")).map(async (e) => FragmentSchema.parse(JSON.parse((await store.get(e.key)).toString("utf8")))),
    );
    const ids = fragments.map((f) => f.task_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(fragments.every((f) => f.status === "success")).toBe(true);
  }, 400_000);
});
