import { execFile, execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GridPointSchema } from "../../src/grid/schema.js";
import { ManifestSchema } from "../../src/metadata/schemas.js";
import { openStore } from "../../src/store/open.js";
import { cliCommand } from "../support/cli.js";
import { FIXTURES, gunzipFixture } from "../hdf5/compas-fixtures.js";
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
      expectUserError(await ce(["extract", one, "--out", join(dir, "x.h5")]), `HDF5 file ${output} is corrupt`);
      writeFileSync(output, "not hdf5\n");
      expectUserError(await ce(["extract", one, "--out", join(dir, "x.h5")]), `${output} is not an HDF5 file: it holds plain text`);
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
});
