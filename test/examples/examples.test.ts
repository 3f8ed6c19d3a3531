import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { expandGrid, loadGridFile, sparseGrid } from "../../src/grid/index.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { manifestOf } from "../support/ensemble-files.js";

// Every example that needs no cloud credentials runs here as a user would run it (tsx), on the
// COMPAS stand-in, with a handful of binaries, writing into a temp folder.
const repo = fileURLToPath(new URL("../..", import.meta.url));
const TIMEOUT = 240_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `example-${name}-`));
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function example(file: string, env: Record<string, string | undefined>, args: string[] = []): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env, COMPAS_BINARY: fakeCompasPath(), XDG_CACHE_HOME: tempDir("cache") };
  // Configured clouds in the developer's shell must not turn a test into a submission.
  for (const k of ["COMPAS_BATCH_QUEUE", "COMPAS_SSH_HOSTS", "COMPAS_EXAMPLE_S3", "COMPAS_ROOT_DIR"]) delete base[k];
  const merged = { ...base, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k];
  return run(process.execPath, ["--import", "tsx", join(repo, "examples", file), ...args], merged);
}

function ok(r: Run): void {
  if (r.code !== 0) throw new Error(`example exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

describe("examples", () => {
  it(
    "01 runs four sparse-grid points locally, and the second call skips all of them",
    async () => {
      const out = tempDir("01");
      const r = await example("01-local-sparse.ts", { COMPAS_EXAMPLE_OUT: out, COMPAS_EXAMPLE_N: "20" });
      ok(r);
      expect(r.stdout).toMatch(/first call: 4\/4 runs succeeded, 4 task\(s\) ran/);
      expect(r.stdout).toMatch(/second call: skipped 4 of 4 tasks, ran 0/);
      const manifest = manifestOf(out);
      expect(manifest.runs.map((x) => x.run_id)).toEqual(expandGrid(sparseGrid()).slice(0, 4).map((p) => p.run_id));
      expect(manifest.runs.every((x) => x.status === "success" && existsSync(x.output_file!))).toBe(true);
      expect(manifest.n_systems_per_run).toBe(20);
    },
    TIMEOUT,
  );

  it(
    "01 without a COMPAS binary says how to point to one and exits 2",
    async () => {
      const r = await example("01-local-sparse.ts", { COMPAS_BINARY: undefined, PATH: dirname(process.execPath), COMPAS_EXAMPLE_OUT: tempDir("01-none") });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/No COMPAS binary found/);
      expect(r.stderr).toMatch(/--compas-binary/);
      expect(r.stderr).toMatch(/test\/support\/fake-compas\/COMPAS/);
    },
    TIMEOUT,
  );

  it(
    "02 plans the sparse grid for Batch and EC2 on a calibration of the stand-in, and submits nothing unconfigured",
    async () => {
      const cache = tempDir("02-cache");
      const r = await example("02-plan-cloud.ts", { COMPAS_EXAMPLE_N: "1000", COMPAS_EXAMPLE_CALIBRATION_BINARIES: "8", XDG_CACHE_HOME: cache });
      ok(r);
      const [batch, ec2] = r.stdout.split("=== SSH hosts on EC2 ===");
      expect(batch).toMatch(/=== AWS Batch ===/);
      expect(batch).toMatch(/Plan: 40 run\(s\) x 1,000 binaries = 40,000 binaries in 40 task\(s\)/);
      expect(batch).toMatch(/Target: AWS Batch, up to 512 vCPUs/);
      expect(batch).toMatch(/\[calibrated\]/);
      expect(batch).toMatch(/Cost: \$\S+ on demand, \$\S+ spot/);
      // The second plan reuses the calibration instead of running COMPAS again.
      expect(ec2).toMatch(/Target: 4 x c7i\.16xlarge/);
      expect(ec2).toMatch(/\[cached-calibration\]/);
      expect(ec2).toMatch(/Not submitting: would send 40 tasks/);
      const entries = JSON.parse(readFileSync(join(cache, "compas-ensemble", "calibration.json"), "utf8")).entries;
      expect(Object.values(entries)).toHaveLength(1);
    },
    TIMEOUT,
  );

  it(
    "03 builds an SBI dataset that h5py loads through examples/03_load_sbi.py",
    async () => {
      const out = tempDir("03");
      const r = await example("03-sbi-dataset.ts", { COMPAS_EXAMPLE_OUT: out, COMPAS_EXAMPLE_N: "200" });
      ok(r);
      const m = /runs (\d+), DCOs (\d+), x length (\d+)/.exec(r.stdout);
      expect(m).not.toBeNull();
      const [nRuns, nDco, xLength] = [Number(m![1]), Number(m![2]), Number(m![3])];
      expect(nRuns).toBe(4);
      expect(nDco).toBeGreaterThan(0);
      const py = await run("/usr/bin/python3", [join(repo, "examples", "03_load_sbi.py"), join(out, "sbi.h5")], process.env);
      ok(py);
      expect(py.stdout).toContain("theta shape (4, 5) columns alpha_ce,lambda_ce,kick_sigma,metallicity,mass_transfer_fa");
      expect(py.stdout).toContain(`x shape (4, ${xLength})`);
      expect(py.stdout).toContain(`dco rows ${nDco}`);
      expect(py.stdout).toContain(`runs ${manifestOf(out).runs.map((x) => x.run_id).join(",")}`);
      expect(py.stdout).toContain(`theta per DCO shape (${nDco}, 5)`);
      // sbi is not installed on the test machines: the script must say it skipped training.
      expect(py.stdout).toMatch(/sbi is not installed .*pip install sbi|posterior samples for run/);
    },
    TIMEOUT,
  );

  it(
    "04 lists, estimates and runs the custom grid file",
    async () => {
      const out = tempDir("04");
      const r = await example("04-custom-grid.ts", { COMPAS_EXAMPLE_OUT: out, COMPAS_EXAMPLE_N: "20" });
      ok(r);
      const points = expandGrid(loadGridFile(join(repo, "examples", "grid.example.yaml")));
      expect(points).toHaveLength(6);
      expect(r.stdout).toContain(`6 points from ${join(repo, "examples", "grid.example.yaml")}:`);
      for (const p of points) expect(r.stdout).toContain(p.run_id);
      expect(r.stdout).toMatch(/Plan: 6 run\(s\) x 20 binaries/);
      const manifest = manifestOf(out);
      expect(manifest.runs.map((x) => x.run_id)).toEqual(points.map((p) => p.run_id));
      expect(manifest.runs.map((x) => x.params.kick_sigma)).toEqual(Array(6).fill(265));
      expect(new Set(manifest.runs.map((x) => x.params.metallicity))).toEqual(new Set([0.001, 0.0142]));
      expect(manifest.runs.every((x) => x.status === "success")).toBe(true);
    },
    TIMEOUT,
  );
});
