import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runEnsemble, type EnsembleEvent, type RunEnsembleOptions } from "../../src/ensemble/run.js";
import { isCompasEnsembleError } from "../../src/errors.js";
import { LocalExecutor } from "../../src/executors/local/executor.js";
import { expandGrid } from "../../src/grid/index.js";
import { FragmentSchema, ManifestSchema, type Fragment } from "../../src/manifest/schema.js";
import { cliCommand } from "../support/cli.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { waitFor } from "../support/processes.js";

const execFileAsync = promisify(execFile);

// The stand-in's documented rule (test/support/fake-compas/README.md, FAKE_COMPAS_DCO_PERIOD_PER_Z):
// with P = max(1, round(K x Z)), the system with SEED s is a merging BBH when s mod P = 0.
const K = 100_000;
const STRIDE = 1_000_000_000;
const GRID = { alpha_ce: [1], lambda_ce: [0.1], kick_sigma: [217], metallicity: [0.0001, 0.001, 0.01], mass_transfer_fa: [0.5] };
const points = expandGrid(GRID);
const ENV = { FAKE_COMPAS_DCO_PERIOD_PER_Z: String(K) };

function period(z: number): number {
  return Math.max(1, Math.round(K * z));
}
function mergingBbhs(first: number, n: number, p: number): number {
  return Math.floor((first + n - 1) / p) - Math.floor((first - 1) / p);
}

/** Expected chunks of run k, straight from the rule: the shortest prefix holding the target, or the cap. */
function expectedRun(k: number, z: number, chunk: number, max: number, target: number) {
  const first = k * STRIDE;
  const limit = Math.ceil(max / chunk);
  let dcos = 0;
  for (let c = 0; c < limit; c++) {
    const n = Math.min(chunk, max - c * chunk);
    dcos += mergingBbhs(first + c * chunk, n, period(z));
    if (dcos >= target) return { chunks: c + 1, dcos, systems: Math.min(max, (c + 1) * chunk), reached: true };
  }
  return { chunks: limit, dcos, systems: max, reached: false };
}

function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `adaptive-${name}-`));
}

function fragmentsIn(dir: string): Fragment[] {
  const fdir = join(dir, "fragments");
  if (!existsSync(fdir)) return [];
  return readdirSync(fdir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => FragmentSchema.parse(JSON.parse(readFileSync(join(fdir, f), "utf8"))));
}

function manifestOf(dir: string) {
  return ManifestSchema.parse(JSON.parse(readFileSync(join(dir, "ensemble_metadata.json"), "utf8")));
}

function options(out: string, extra: Partial<RunEnsembleOptions> = {}): RunEnsembleOptions {
  return {
    points,
    nSystems: { chunk: 100, max: 2000 },
    target: { dco: "BBH", merging: true, count: 3 },
    compasBinary: fakeCompasPath(),
    output: out,
    executor: new LocalExecutor({ concurrency: 2, retries: 0, env: { ...process.env, ...ENV } }),
    ...extra,
  };
}

/** Reads a merged output with Debian's h5py: SEEDs of the systems and merging BBHs. */
function h5Facts(path: string): { seeds: number[]; mergingBbh: number; bbh: number; bns: number } {
  const script = `
import json, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    seeds = [int(s) for s in f["BSE_System_Parameters"]["SEED"][()]]
    d = f["BSE_Double_Compact_Objects"] if "BSE_Double_Compact_Objects" in f else None
    t1 = d["Stellar_Type(1)"][()] if d is not None else []
    t2 = d["Stellar_Type(2)"][()] if d is not None else []
    m = d["Merges_Hubble_Time"][()] if d is not None else []
    bbh = [i for i in range(len(t1)) if t1[i] == 14 and t2[i] == 14]
    print(json.dumps({"seeds": seeds, "mergingBbh": sum(1 for i in bbh if m[i] == 1), "bbh": len(bbh),
                      "bns": sum(1 for i in range(len(t1)) if t1[i] == 13 and t2[i] == 13)}))
`;
  const r = spawnSync("/usr/bin/python3", ["-c", script, path], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`/usr/bin/python3 exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const [node, ...cliArgs] = cliCommand();
  try {
    const { stdout, stderr } = await execFileAsync(node!, [...cliArgs, ...args], { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("adaptive ensembles on the local executor", () => {
  let out: string;
  const events: EnsembleEvent[] = [];
  beforeAll(async () => {
    out = tempDir("local");
    await runEnsemble(options(out, { onEvent: (e) => events.push(e) }));
  }, 300_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("grows each run until its chunks hold the target, with the chunk counts the stand-in's yield rule predicts", () => {
    const manifest = manifestOf(out);
    expect(manifest.runs.map((r) => r.run_id)).toEqual(points.map((p) => p.run_id));
    for (const [k, p] of points.entries()) {
      const want = expectedRun(k, p.params.metallicity, 100, 2000, 3);
      const run = manifest.runs[k] as Record<string, unknown> & { status: string; output_file?: string };
      expect(run.status).toBe("success");
      expect(run.n_systems).toBe(want.systems);
      expect(run.n_chunks).toBe(want.chunks);
      expect(run.adaptive).toMatchObject({ dcos: want.dcos, reached: want.reached, cap_hit: !want.reached, n_chunks: want.chunks, n_systems: want.systems });
      // The merged file holds exactly the run's seeds, in order, and the DCOs the rule puts there.
      const facts = h5Facts(run.output_file!);
      expect(facts.seeds).toEqual(Array.from({ length: want.systems }, (_, i) => k * STRIDE + i));
      expect(facts.mergingBbh).toBe(want.dcos);
    }
    // The three points need 1 chunk, 3 chunks, and the cap (yields 1/10, 1/100, 1/1000).
    expect(points.map((p, k) => expectedRun(k, p.params.metallicity, 100, 2000, 3).chunks)).toEqual([1, 3, 20]);
  });

  it("stops a run that cannot reach the target at the cap with a warning, not an error", () => {
    const warnings = events.filter((e): e is Extract<EnsembleEvent, { type: "warning" }> => e.type === "warning").map((e) => e.message);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(points[2]!.run_id);
    expect(warnings[0]).toContain("--max-systems 2000");
  });

  it("runs every chunk exactly once, with seeds seedBase + k * stride + c * chunk", () => {
    const frags = fragmentsIn(out);
    const ids = frags.map((f) => f.task_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(frags.every((f) => f.status === "success")).toBe(true);
    for (const f of frags) {
      const k = points.findIndex((p) => p.run_id === f.run_id);
      const c = Number(/\.c(\d+)$/.exec(f.task_id)![1]);
      expect(f.seed).toBe(k * STRIDE + c * 100);
      expect(f.n_systems).toBe(100);
    }
    // Nothing beyond the cap, and every chunk of the answer ran.
    for (const [k, p] of points.entries()) {
      const want = expectedRun(k, p.params.metallicity, 100, 2000, 3);
      const own = frags.filter((f) => f.run_id === p.run_id).map((f) => Number(/\.c(\d+)$/.exec(f.task_id)![1]));
      for (let c = 0; c < want.chunks; c++) expect(own).toContain(c);
      expect(Math.max(...own)).toBeLessThan(20);
    }
  });

  it("runs nothing again when called again, and gives the same manifest runs", async () => {
    const before = manifestOf(out);
    const n = fragmentsIn(out).length;
    const summary = await runEnsemble(options(out));
    expect(summary.tasks.submitted).toBe(0);
    expect(fragmentsIn(out)).toHaveLength(n);
    expect(manifestOf(out).runs).toEqual(before.runs);
  }, 120_000);
});
