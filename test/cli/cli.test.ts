import { execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import expectedGrids from "../expected/grid_expected.json" with { type: "json" };
import { GridPointSchema } from "../../src/grid/schema.js";
import { ManifestSchema } from "../../src/manifest/schema.js";
import { openStore } from "../../src/store/open.js";
import { flipDcoMassBit, gunzipFixture, FIXTURES, python } from "../support/compas-fixtures.js";
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

/**
 * Runs the CLI as a user without write access to root-owned folders: root writes anywhere, so
 * permission errors can only be seen by someone else (`nobody`, through util-linux's setpriv).
 */
async function ceUnprivileged(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (process.getuid?.() !== 0) return ce(args);
  const asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
  try {
    execFileSync("setpriv", [...asNobody, node!, "-e", `require("fs").accessSync(${JSON.stringify(cli[0])})`]);
  } catch {
    throw new Error(`user nobody cannot read ${cli[0]}; make the checkout readable to others (chmod -R o+rX) for this test.`);
  }
  try {
    const { stdout, stderr } = await run("setpriv", [...asNobody, node!, ...cli, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/**
 * A user error as the CLI must print it: one `error:` line that contains every mention,
 * followed by one `hint:` line that ends the output, exit 2, and no stack trace, HDF5
 * diagnostics or "report it if it looks like a bug" (progress lines may come before).
 */
function expectUserError(r: { code: number; stderr: string }, ...mentions: (string | RegExp)[]): { error: string; hint: string } {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines.filter((l) => l.startsWith("error: ")), r.stderr).toHaveLength(1);
  const [error = "", hint = ""] = lines.slice(-2);
  expect(error, r.stderr).toMatch(/^error: /);
  expect(hint, r.stderr).toMatch(/^hint: /);
  expect(r.stderr).not.toMatch(/^\s+at |HDF5-DIAG|report it if it looks like a bug/m);
  for (const m of mentions) {
    if (typeof m === "string") expect(error).toContain(m);
    else expect(error).toMatch(m);
  }
  return { error, hint };
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
  describe("names the path and what is wrong with it instead of a raw system error", () => {
    let dir: string;
    let ensemble: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "cli-paths-"));
      chmodSync(dir, 0o755);
      ensemble = join(dir, "ensemble");
      const made = await ce(["run", "--test-run", "--n-systems", "10", "--output-dir", ensemble, "--compas-binary", fakeCompasPath()]);
      expect(made.code, made.stderr).toBe(0);
      execFileSync("chmod", ["-R", "o+rX", dir]);
    }, 300_000);

    it("refuses an output directory that is a file, or lies beneath one, and leaves the file alone", async () => {
      const file = join(dir, "a-file");
      writeFileSync(file, "mine");
      for (const out of [file, join(file, "sub")]) {
        const r = await ce(["run", "--test-run", "--n-systems", "10", "--output-dir", out, "--compas-binary", fakeCompasPath()]);
        expectUserError(r, `ensemble directory ${out}`, `${file} is a file, not a directory`);
      }
      expect(readFileSync(file, "utf8")).toBe("mine");
    }, 300_000);

    it("refuses a read-only output directory for run, extract and merge-metadata, naming the directory", async () => {
      const readOnly = join(dir, "read-only");
      mkdirSync(readOnly);
      chmodSync(readOnly, 0o555);
      const problem = `${readOnly} is not writable by this user (permission denied)`;
      for (const out of [readOnly, join(readOnly, "new")]) {
        const r = await ceUnprivileged(["run", "--test-run", "--n-systems", "10", "--output-dir", out, "--compas-binary", fakeCompasPath()]);
        expectUserError(r, `ensemble directory ${out}`, problem);
      }
      for (const out of [join(readOnly, "d.h5"), join(readOnly, "d.parquet")]) {
        expectUserError(await ceUnprivileged(["extract", ensemble, "--out", out]), `extract output ${out}`, problem);
      }
      const merged = join(readOnly, "m.json");
      expectUserError(
        await ceUnprivileged(["merge-metadata", "--input-dir", ensemble, "--pattern", "ensemble_metadata.json", "--output", merged]),
        merged,
        problem,
      );
      expect(readdirSync(readOnly)).toEqual([]);
    }, 300_000);

    it("inspect refuses a text file, plan.json and a directory as not HDF5, pointing at a COMPAS_Output.h5", async () => {
      const text = join(dir, "notes.h5");
      writeFileSync(text, "some notes\n");
      expectUserError(await ce(["inspect", text]), `${text} is not an HDF5 file: it holds plain text`);
      const plan = join(ensemble, "plan.json");
      expectUserError(await ce(["inspect", plan]), `${plan} is not an HDF5 file: it holds JSON text`);
      const { hint } = expectUserError(await ce(["inspect", ensemble]), `${ensemble} is a directory, not an HDF5 file`);
      expect(hint).toMatch(new RegExp(`${ensemble}/runs/[^/]+/COMPAS_Output/COMPAS_Output\\.h5`));
    }, 300_000);

    it("inspect and extract report a damaged HDF5 file as corrupt in one sentence, without HDF5's diagnostic dump", async () => {
      // A real COMPAS output whose root group lost its local heap signature.
      const bad = await gunzipFixture(FIXTURES.detailed, join(dir, "bad"));
      const bytes = readFileSync(bad);
      bytes.write("XXXX", bytes.indexOf("HEAP"), "latin1");
      writeFileSync(bad, bytes);
      expectUserError(await ce(["inspect", bad]), `HDF5 file ${bad} is corrupt`);

      const one = join(dir, "one-run");
      const made = await ce(["run", "--sparse", "--end-index", "1", "--n-systems", "10", "--output-dir", one, "--compas-binary", fakeCompasPath()]);
      expect(made.code, made.stderr).toBe(0);
      const output = join(one, "runs", readdirSync(join(one, "runs"))[0]!, "COMPAS_Output", "COMPAS_Output.h5");
      copyFileSync(bad, output);
      // Without --no-verify the size check against the task record refuses the file first.
      expectUserError(await ce(["extract", one, "--no-verify", "--out", join(dir, "x.h5")]), `HDF5 file ${output} is corrupt`);
      writeFileSync(output, "not hdf5\n");
      expectUserError(await ce(["extract", one, "--no-verify", "--out", join(dir, "x.h5")]), `${output} is not an HDF5 file: it holds plain text`);
    }, 300_000);

    it("refuses a different plan in the same directory with a hint at --restart and the archive", async () => {
      const r = await ce(["run", "--test-run", "--n-systems", "11", "--output-dir", ensemble, "--compas-binary", fakeCompasPath()]);
      const { hint } = expectUserError(r, `${ensemble} holds a different ensemble`, "10 in the existing plan, 11 in the proposed plan");
      expect(hint).toContain("--restart");
      expect(hint).toContain("archive/");
    });
  });

  it.each([
    [["run", "--bogus"], "compas-ensemble run: unknown option '--bogus'.", /^hint: Run `compas-ensemble run --help`/],
    [["run", "--n-system", "5"], "compas-ensemble run: unknown option '--n-system'.", /^hint: Did you mean --n-systems\? /],
    [["run", "--n-systems"], "compas-ensemble run: option '--n-systems <n>' argument missing.", /--help/],
    [["run", "--profile", "fast"], "compas-ensemble run: option '--profile <name>' argument 'fast' is invalid.", /--help/],
    [["inspect"], "compas-ensemble inspect: missing required argument 'file'.", /--help/],
    [["frobnicate"], "compas-ensemble: unknown command 'frobnicate'.", /compas-ensemble --help/],
  ])("answers the usage error %j like any user error: one error line, a hint, exit 2", async (args, error, hint) => {
    const r = await ce(args);
    const printed = expectUserError(r);
    expect(printed.error.startsWith(`error: ${error}`), printed.error).toBe(true);
    expect(printed.hint).toMatch(hint);
  });

  it("accepts --n-systems in exponent notation when it is a whole number, and says why other values are refused", async () => {
    const ok = await ce(["command", "--index", "0", "--n-systems", "1e9"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("--number-of-systems 1000000000 ");
    expectUserError(await ce(["command", "--index", "0", "--n-systems", "2.5"]), '--n-systems "2.5" is not a whole number');
    expectUserError(await ce(["command", "--index", "0", "--n-systems", "1e-3"]), '--n-systems "1e-3" is not a whole number (it is 0.001)');
    expectUserError(await ce(["command", "--index", "0", "--n-systems", "ten"]), '--n-systems "ten" is not a number');
    expectUserError(await ce(["command", "--index", "0", "--n-systems", "3e9"]), "at most 2147483647");
  }, 300_000);

  it("names the CLI flag to use when refusing a COMPAS flag the library owns or one that makes an axis inert", async () => {
    const base = ["command", "--index", "0", "--n-systems", "10", "--"];
    const seed = expectUserError(await ce([...base, "--random-seed", "5"]), "Extra COMPAS flag --random-seed cannot be given");
    expect(seed.hint).toContain("use --seed-base");
    const n = expectUserError(await ce([...base, "-n", "5"]), "Extra COMPAS flag -n (--number-of-systems) cannot be given");
    expect(n.hint).toContain("use --n-systems");
    const inert = expectUserError(await ce([...base, "--kick-magnitude-distribution", "MULLERMANDEL"]), "Grid axis kick_sigma would have no effect");
    expect(inert.hint).toContain("--allow-inert-axes");
  }, 300_000);

  it("refuses the same COMPAS option twice before anything runs", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "cli-twice-")), "out");
    const r = await ce(["run", "--test-run", "--n-systems", "10", "--output-dir", out, "--compas-binary", fakeCompasPath(), "--", "--quiet", "TRUE", "--quiet", "FALSE"]);
    expectUserError(r, "Extra COMPAS flag --quiet is given twice (values TRUE, FALSE)");
    expect(existsSync(out)).toBe(false);
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

  describe("keeps data safe at the edges (stand-in COMPAS, 3 runs of 50 binaries)", () => {
    let root: string;
    let base: string;
    let runIds: string[];
    const compas = ["--compas-binary", fakeCompasPath()];
    const output = (dir: string, runId: string) => join(dir, "runs", runId, "COMPAS_Output", "COMPAS_Output.h5");
    // `cp -a`, as a user copies an ensemble.
    const copy = async (from: string, name: string): Promise<string> => {
      const to = join(root, name);
      await run("cp", ["-a", from, to]);
      return to;
    };
    const h5 = (code: string, args: string[]): unknown => JSON.parse(python(code, args));
    const DCO_SEEDS = `
import json, sys, h5py
seeds = []
for p in sys.argv[1:]:
    with h5py.File(p, "r") as f:
        if "BSE_Double_Compact_Objects" in f:
            seeds += [int(s) for s in f["BSE_Double_Compact_Objects"]["SEED"][()]]
print(json.dumps(sorted(seeds)))
`;
    const DATASET = `
import json, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    print(json.dumps({"n_systems": f["runs/n_systems"][()].tolist(), "run_id": list(f["runs/run_id"].asstr()[()]),
                      "seed": sorted(int(s) for s in f["dco/seed"][()]),
                      "m1_by_seed": {str(int(s)): float(m) for s, m in zip(f["dco/seed"][()], f["dco/m1"][()])}}))
`;

    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), "cli-safety-"));
      base = join(root, "base");
      const made = await ce(["run", "--sparse", "--test-run", "--n-systems", "50", "--output-dir", base, ...compas]);
      expect(made.code, made.stderr).toBe(0);
      runIds = readdirSync(join(base, "runs")).sort();
      expect(runIds).toHaveLength(3);
    }, 240_000);
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it("extract of a copied ensemble reads the copy's outputs after the original is rerun with another N", async () => {
      // Made in place (not copied from base), so that its manifest names its own files.
      const a = join(root, "original");
      const made = await ce(["run", "--sparse", "--test-run", "--n-systems", "50", "--output-dir", a, ...compas]);
      expect(made.code, made.stderr).toBe(0);
      const b = await copy(a, "copy");
      expect(readFileSync(join(b, "ensemble_metadata.json"), "utf8")).toContain(output(a, runIds[0]!));
      const rerun = await ce(["run", "--sparse", "--test-run", "--n-systems", "80", "--restart", "--output-dir", a, ...compas]);
      expect(rerun.code, rerun.stderr).toBe(0);
      const got = await ce(["extract", b, "--out", join(root, "copy.h5")]);
      expect(got.code, got.stderr).toBe(0);
      expect(got.stderr).not.toContain("warning:");
      const dataset = h5(DATASET, [join(root, "copy.h5")]) as { n_systems: number[]; seed: number[] };
      expect(dataset.n_systems).toEqual([50, 50, 50]);
      expect(dataset.seed).toEqual(h5(DCO_SEEDS, runIds.map((id) => output(b, id))));
      expect(dataset.seed).not.toEqual(h5(DCO_SEEDS, runIds.map((id) => output(a, id))));
    }, 240_000);

    it("a bit flipped in a DCO mass: extract refuses the run by id, status --verify reports it, --no-verify reads it as it is", async () => {
      const c = await copy(base, "flipped");
      const victim = runIds.find((id) => (h5(DCO_SEEDS, [output(c, id)]) as number[]).length > 0)!;
      const flipped = flipDcoMassBit(output(c, victim));
      const refused = await ce(["extract", c, "--out", join(root, "flipped.h5")]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(new RegExp(`^error: Run ${victim} of ${c} does not match its record: its output .* has sha256 .*\\.\nhint: .*--no-verify`));
      expect(existsSync(join(root, "flipped.h5"))).toBe(false);

      const cheap = await ce(["status", c, "--json"]);
      expect(cheap.code).toBe(0);
      expect(JSON.parse(cheap.stdout)).toMatchObject({ outputs_checked: "size", invalidOutputs: [], succeeded: 3 });
      const verified = await ce(["status", c, "--verify"]);
      expect(verified.code).toBe(1);
      expect(verified.stdout).toContain(`invalid ${victim}: its output runs/${victim}/COMPAS_Output/COMPAS_Output.h5 has sha256`);
      expect(verified.stdout).toContain("succeeded 2  failed 0  invalid 1");

      const asIs = await ce(["extract", c, "--out", join(root, "flipped.h5"), "--no-verify"]);
      expect(asIs.code, asIs.stderr).toBe(0);
      const m1 = (h5(DATASET, [join(root, "flipped.h5")]) as { m1_by_seed: Record<string, number> }).m1_by_seed[flipped.seed];
      expect(m1).toBe(Math.max(flipped.after, flipped.mass2));

      // A truncated output is found by the default (size) check too.
      const other = runIds.find((id) => id !== victim)!;
      truncateSync(output(c, other), statSync(output(c, other)).size - 1);
      const truncated = await ce(["status", c]);
      expect(truncated.code).toBe(1);
      expect(truncated.stdout).toContain(`invalid ${other}: its output runs/${other}/COMPAS_Output/COMPAS_Output.h5 has`);
    }, 240_000);

    it("extract stops when a run's file holds another N than the manifest, unless --n-systems-from-output", async () => {
      const d = await copy(base, "n-mismatch");
      const manifest = JSON.parse(readFileSync(join(d, "ensemble_metadata.json"), "utf8"));
      manifest.runs[0].n_systems = 40;
      writeFileSync(join(d, "ensemble_metadata.json"), JSON.stringify(manifest, null, 2));
      const refused = await ce(["extract", d, "--out", join(root, "n.h5")]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        new RegExp(`^error: Run ${manifest.runs[0].run_id}: the manifest says 40 binaries but its COMPAS output .* holds 50 \\(Run_Details Objects-Created\\)`),
      );
      expect(refused.stderr).toContain("--n-systems-from-output");
      const fromFile = await ce(["extract", d, "--out", join(root, "n.h5"), "--n-systems-from-output"]);
      expect(fromFile.code, fromFile.stderr).toBe(0);
      expect(fromFile.stderr).toMatch(/warning: .*40 binaries.*50/);
      expect((h5(DATASET, [join(root, "n.h5")]) as { n_systems: number[] }).n_systems).toEqual([50, 50, 50]);
    }, 240_000);

    it("refuses outputs over the ensemble's own files, through .. or a symlink too, and npy into a folder that is not an npy dataset", async () => {
      const e = await copy(base, "owned");
      const planText = readFileSync(join(e, "plan.json"), "utf8");
      await run("ln", ["-s", join(e, "plan.json"), join(root, "plan-link.h5")]);
      for (const args of [
        ["--out", join(e, "plan.json")],
        ["--out", `${e}/../owned/plan.json`],
        ["--out", join(root, "plan-link.h5")],
        ["--out", join(e, "runs", "sbi.h5")],
        ["--format", "npy", "--out", e],
      ]) {
        const got = await ce(["extract", e, ...args]);
        expect(got.code, args.join(" ")).toBe(2);
        expect(got.stderr).toMatch(/^error: --out .* (would overwrite|lies inside|would replace a folder that holds) .*\.\nhint: /);
      }
      expect(readFileSync(join(e, "plan.json"), "utf8")).toBe(planText);
      mkdirSync(join(root, "notes"));
      writeFileSync(join(root, "notes", "todo.txt"), "mine");
      const notes = await ce(["extract", e, "--format", "npy", "--out", join(root, "notes")]);
      expect(notes.code).toBe(2);
      expect(readdirSync(join(root, "notes"))).toEqual(["todo.txt"]);
      for (let i = 0; i < 2; i++) {
        const npy = await ce(["extract", e, "--format", "npy", "--out", join(root, "npy")]);
        expect(npy.code, npy.stderr).toBe(0);
      }

      const slices = join(root, "slices");
      mkdirSync(slices);
      await run("cp", ["-a", e, join(slices, "slice_0")]);
      const slice = join(slices, "slice_0", "ensemble_metadata.json");
      const before = readFileSync(slice, "utf8");
      const merged = await ce(["merge-metadata", "--input-dir", slices, "--output", slice]);
      expect(merged.code).toBe(2);
      expect(merged.stderr).toMatch(/^error: --output .* would overwrite the input .*slice_0\/ensemble_metadata\.json\.\n/);
      expect(readFileSync(slice, "utf8")).toBe(before);
    }, 240_000);

    it("merge-metadata and extract accept the predecessor's failed runs without output_file, a retry's success winning", async () => {
      const dir = join(root, "predecessor");
      const params = (k: number) => ({ alpha_ce: 5, lambda_ce: 0.5, kick_sigma: 217, metallicity: 0.0142, mass_transfer_fa: 0.25 + k / 10 });
      const id = (k: number) => `alpha5.000_lambda0.50_kick217_Z0.01420_fa${(0.25 + k / 10).toFixed(2)}`;
      const success = (k: number) => ({ run_id: id(k), params: { ...params(k), run_id: id(k) }, output_file: `/mnt/compas_runs/${id(k)}/COMPAS_Output.h5`, status: "success", timestamp: `2025-11-28T1${k}:00:00` });
      const failed = (k: number, t: string) => ({ run_id: id(k), params: { ...params(k), run_id: id(k) }, status: "failed", error: "COMPAS exited with code 2", timestamp: t });
      const slice = (runs: unknown[]) => JSON.stringify({ creation_time: "2025-11-27T08:00:00", compas_binary: "/opt/COMPAS", n_systems_per_run: 10000, runs }, null, 2);
      for (const [name, runs] of [
        ["slice_0", [success(0), failed(1, "2025-11-27T10:00:00"), failed(2, "2025-11-27T11:00:00")]],
        ["slice_1", [success(1), failed(2, "2025-11-28T12:00:00")]],
      ] as const) {
        mkdirSync(join(dir, name), { recursive: true });
        writeFileSync(join(dir, name, "ensemble_metadata.json"), slice([...runs]));
      }
      // The outputs copied next to the merged manifest in the predecessor's layout (real COMPAS, N=10000).
      for (const k of [0, 1]) {
        const file = await gunzipFixture(FIXTURES.z0142, join(root, "gunzip", String(k)));
        mkdirSync(join(dir, id(k)));
        await run("mv", [file, join(dir, id(k), "COMPAS_Output.h5")]);
      }
      const merged = await ce(["merge-metadata", "--input-dir", dir]);
      expect(merged.code, merged.stderr).toBe(0);
      expect(merged.stdout).toContain("3 runs (2 success, 1 failed");
      const got = await ce(["extract", dir, "--out", join(root, "predecessor.h5")]);
      expect(got.code, got.stderr).toBe(0);
      expect(got.stdout).toContain("2 runs, 66 DCOs");
      expect(got.stdout).toContain(`1 failed run(s) left out: ${id(2)}`);
      expect(got.stderr).toMatch(/warning: .*were not checked/);
    }, 240_000);
  });
});

