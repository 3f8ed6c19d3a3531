import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import expectedGrids from "../expected/grid_expected.json" with { type: "json" };
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

  describe("with a grid file of 10^13 points", () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-big-grid-"));
    const big = join(dir, "big.yaml");
    // JSON is YAML; the points expected are numpy's (test/expected/make_grid_expected.py).
    writeFileSync(big, JSON.stringify(expectedGrids.huge.spec));
    const total = expectedGrids.huge.total;
    const refusal =
      `error: Grid file ${big} has 10,000,000,000,000 points (1000 alpha_ce x 10000 lambda_ce x 1000 kick_sigma x 1000 metallicity ` +
      "x 1 mass_transfer_fa values), more than the limit of 1,000,000 points per run or plan; " +
      "run it in slices of at most 1,000,000 points with --start-index and --end-index.\n";

    it("refuses the whole grid with its count in one sentence and exit 2, for grid, plan and run", async () => {
      const grid = await ce(["grid", "--file", big]);
      expect(grid).toMatchObject({ code: 2, stdout: "", stderr: refusal });
      const plan = await ce(["plan", "--file", big, "--n-systems", "1000"]);
      expect(plan).toMatchObject({ code: 2, stderr: refusal });
      const out = join(dir, "never-created");
      const run = await ce(["run", "--file", big, "--n-systems", "10", "--output-dir", out, "--compas-binary", fakeCompasPath()]);
      expect(run).toMatchObject({ code: 2, stderr: refusal });
      expect(existsSync(out)).toBe(false);
    });

    it("prints, estimates and commands a slice of it, building only the slice", async () => {
      const tail = await ce(["grid", "--file", big, "--start-index", String(total - 2), "--end-index", String(total + 5), "--json"]);
      expect(tail.code).toBe(0);
      const points = GridPointSchema.array().parse(JSON.parse(tail.stdout));
      expect(points.map((p) => [p.index, p.run_id])).toEqual(expectedGrids.huge.points.slice(-2).map((p) => [p.index, p.run_id]));

      const k = 1_234_567_890_123;
      const want = expectedGrids.huge.points.find((p) => p.index === k)!;
      const plan = await ce(["plan", "--file", big, "--start-index", String(k), "--end-index", String(k + 2), "--n-systems", "10", "--json"]);
      expect(plan.code).toBe(0);
      expect(JSON.parse(plan.stdout)).toMatchObject({ runs: 2, tasks: 2, binaries: 20 });

      const command = await ce(["command", "--file", big, "--index", String(k), "--n-systems", "10", "--output-dir", "out"]);
      expect(command.code).toBe(0);
      expect(command.stdout).toContain(` --random-seed ${k * 10} `);
      expect(command.stdout).toContain(` --output-path out/runs/${want.run_id} `);
    });

    it("refuses seeds beyond 2^53 - 1 at the far end of the grid, naming the index and the flags", async () => {
      const last = await ce(["command", "--file", big, "--index", String(total - 1), "--n-systems", "1000"]);
      expect(last).toMatchObject({ code: 2, stdout: "" });
      // Run k uses seeds k * 1000 to (k + 1) * 1000 - 1; 10^13 * 1000 - 1 = 9999999999999999.
      expect(last.stderr).toBe(
        `error: Grid index ${total - 1} with --n-systems 1000 and --seed-base 0 needs seeds up to 9999999999999999, ` +
          "beyond 2^53 - 1 (9007199254740991), the largest a plan records exactly; use a smaller --seed-base, --n-systems or grid index.\n",
      );
      const run = await ce(["run", "--file", big, "--start-index", String(total - 1), "--n-systems", "1000", "--output-dir", join(dir, "seeds"), "--compas-binary", fakeCompasPath()]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`error: Grid index ${total - 1} with --n-systems 1000 and --seed-base 0 needs seeds up to 9999999999999999`);
    });
  });

  it("names NaN in a grid file as such, with the hint, and exits 2", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "cli-nan-grid-")), "nan.yaml");
    writeFileSync(file, "alpha_ce: [1.0]\nlambda_ce: [0.1]\nkick_sigma: 217\nmetallicity: [0.0001, .nan]\nmass_transfer_fa: 0.5\n");
    const r = await ce(["grid", "--file", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: grid file ${file}: metallicity[1] is NaN; axis values must be finite numbers, so write the value you mean.\n` +
        "hint: YAML's .nan and .inf, and numbers beyond 1.8e308 such as 1e999, are not finite numbers.\n",
    );
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
