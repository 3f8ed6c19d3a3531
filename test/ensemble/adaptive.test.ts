import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runEnsemble, type EnsembleEvent, type RunEnsembleOptions } from "../../src/ensemble/run.js";
import { isCompasEnsembleError } from "../../src/errors.js";
import { LocalExecutor } from "../../src/executors/local/executor.js";
import { cliCommand } from "../support/cli.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { waitFor } from "../support/processes.js";

const execFileAsync = promisify(execFile);

import { ENV, expectedRun, GRID, points, STRIDE } from "../support/adaptive-rule.js";
import { fragmentsIn, manifestOf } from "../support/ensemble-files.js";

function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `adaptive-${name}-`));
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

/** Datasets of the BSE groups that differ between two files (h5py), by name; empty when all agree. */
function bseDifferences(a: string, b: string): string[] {
  const script = `
import json, sys, h5py, numpy as np
out = []
with h5py.File(sys.argv[1], "r") as fa, h5py.File(sys.argv[2], "r") as fb:
    groups = sorted(set(k for k in fa.keys() if k.startswith("BSE_")) | set(k for k in fb.keys() if k.startswith("BSE_")))
    for g in groups:
        if g not in fa or g not in fb:
            out.append(g); continue
        for name in sorted(set(fa[g].keys()) | set(fb[g].keys())):
            if name not in fa[g] or name not in fb[g]:
                out.append(g + "/" + name); continue
            x, y = fa[g][name][()], fb[g][name][()]
            # NaN is a value COMPAS writes (e.g. lambda of a CE without one): equal to itself here.
            same = np.array_equal(x, y, equal_nan=True) if x.dtype.kind == "f" else np.array_equal(x, y)
            if not same:
                out.append(g + "/" + name)
print(json.dumps(out))
`;
  const r = spawnSync("/usr/bin/python3", ["-c", script, a, b], { encoding: "utf8" });
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
    // The wave records list exactly the chunks that ran, each once, the first wave chunk 0 of every run.
    const waves = readdirSync(join(out, "adaptive")).filter((f) => f.startsWith("wave-")).sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0]));
    const listed = waves.flatMap((w) => (JSON.parse(readFileSync(join(out, "adaptive", w), "utf8")).chunks as { run_id: string; chunk_index: number }[]).map((c) => `${c.run_id}.c${c.chunk_index}`));
    expect(listed.slice(0, 3)).toEqual(points.map((p) => `${p.run_id}.c0`));
    expect([...listed].sort()).toEqual([...ids].sort());
    // Nothing beyond the cap, and every chunk of the answer ran.
    for (const [k, p] of points.entries()) {
      const want = expectedRun(k, p.params.metallicity, 100, 2000, 3);
      const own = frags.filter((f) => f.run_id === p.run_id).map((f) => Number(/\.c(\d+)$/.exec(f.task_id)![1]));
      for (let c = 0; c < want.chunks; c++) expect(own).toContain(c);
      expect(Math.max(...own)).toBeLessThan(20);
    }
  });

  it("refuses to run a fixed-N plan into the adaptive ensemble's folder, saying which kind each is", async () => {
    const err = await runEnsemble(options(out, { nSystems: 100, target: undefined })).catch((e: unknown) => e);
    expect(isCompasEnsembleError(err, "PLAN_MISMATCH")).toBe(true);
    expect((err as Error).message).toContain("the kind of plan differs: adaptive (runs grow until a DCO target) in the existing plan, a fixed number of systems per run in the proposed plan.");
  });

  it("status shows each run's progress towards the target", async () => {
    const r = await cli(["status", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("adaptive: 3 merging BBH per run, chunks of 100, at most 2000");
    for (const [k, p] of points.entries()) {
      const want = expectedRun(k, p.params.metallicity, 100, 2000, 3);
      const state = want.reached ? "target reached" : "stopped at the cap";
      expect(r.stdout).toContain(`  run ${p.run_id}  ${want.dcos}/3  ${want.chunks} chunk(s), ${want.systems} binaries  ${state}\n`);
    }
    const json = JSON.parse((await cli(["status", out, "--json"])).stdout);
    expect(json.adaptive.runs.map((a: { state: string }) => a.state)).toEqual(["reached", "reached", "cap"]);
  });

  it("extracts an SBI dataset whose per-run N is the binaries each run simulated", async () => {
    const file = join(out, "..", `${out.split("/").at(-1)}-sbi.h5`);
    const r = await cli(["extract", out, "--out", file]);
    expect(r.code, r.stderr).toBe(0);
    const script = `
import json, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    print(json.dumps({"n_systems": f["runs/n_systems"][()].tolist(), "run_id": list(f["runs/run_id"].asstr()[()])}))
`;
    const py = spawnSync("/usr/bin/python3", ["-c", script, file], { encoding: "utf8" });
    expect(py.status, py.stderr).toBe(0);
    const ds = JSON.parse(py.stdout) as { n_systems: number[]; run_id: string[] };
    rmSync(file, { force: true });
    expect(ds.run_id).toEqual(points.map((p) => p.run_id));
    const manifest = manifestOf(out);
    expect(ds.n_systems).toEqual(points.map((p, k) => expectedRun(k, p.params.metallicity, 100, 2000, 3).systems));
    // ... which is what the merged files hold.
    expect(ds.n_systems).toEqual(manifest.runs.map((run) => h5Facts(run.output_file!).seeds.length));
  }, 120_000);

  it("after SIGKILL in the middle of a wave, a rerun runs no chunk twice and merges the same files", async () => {
    const again = tempDir("sigkill");
    const grid = join(again, "..", `${again.split("/").at(-1)}-grid.json`);
    writeFileSync(grid, JSON.stringify(GRID));
    const [node, ...cliArgs] = cliCommand();
    // Wave 3 has three chunks for two slots (see nextWave): kill once one of them is done.
    const child = spawn(
      node!,
      [...cliArgs, "run", "--file", grid, "--target-dcos", "BBH:merging:3", "--chunk", "100", "--max-systems", "2000", "--concurrency", "2",
        "--retries", "0", "--output-dir", again, "--compas-binary", fakeCompasPath()],
      { env: { ...process.env, ...ENV, FAKE_COMPAS_DELAY_MS: "30" }, stdio: "ignore" },
    );
    const waveChunks = (n: number): string[] => {
      const key = join(again, "adaptive", `wave-${n}.json`);
      if (!existsSync(key)) return [];
      return (JSON.parse(readFileSync(key, "utf8")).chunks as { run_id: string; chunk_index: number }[]).map((c) => `${c.run_id}.c${c.chunk_index}`);
    };
    const finished = (ids: string[]) => fragmentsIn(again).filter((f) => ids.includes(f.task_id)).length;
    await waitFor(() => {
      const w = waveChunks(3);
      return w.length > 0 && finished(w) >= 1;
    }, "a finished chunk of wave 3", 200_000);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const wave3 = waveChunks(3);
    expect(wave3).toHaveLength(3);
    const before = fragmentsIn(again);
    expect(finished(wave3)).toBeLessThan(wave3.length);
    // The manifest written after an earlier wave already holds the run that stopped then.
    const partial = manifestOf(again);
    expect(partial.runs.map((r) => [r.run_id, r.status])).toContainEqual([points[0]!.run_id, "success"]);
    expect(partial.runs.some((r) => r.run_id === points[2]!.run_id)).toBe(false);

    const summary = await runEnsemble(options(again));
    expect(summary.runs).toEqual({ total: 3, succeeded: 3, failed: 0, pending: 0 });
    const after = fragmentsIn(again);
    const ids = after.map((f) => f.task_id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const f of before) expect(after.find((g) => g.task_id === f.task_id)?.output?.sha256).toBe(f.output!.sha256);
    // Same runs, same rows as the ensemble that was never interrupted.
    const m1 = manifestOf(out);
    const m2 = manifestOf(again);
    for (const [k, run] of m2.runs.entries()) {
      const ref = m1.runs[k]!;
      expect((run as Record<string, unknown>).adaptive).toEqual((ref as Record<string, unknown>).adaptive);
      expect(bseDifferences(ref.output_file!, run.output_file!)).toEqual([]);
    }
    rmSync(again, { recursive: true, force: true });
    rmSync(grid, { force: true });
  }, 400_000);

  it("runs the chunks of a run whose merged output was deleted again, and merges the same rows", async () => {
    const copy = tempDir("lost");
    spawnSync("cp", ["-a", `${out}/.`, copy]);
    const victim = points[1]!.run_id;
    const merged = join(copy, "runs", victim, "COMPAS_Output", "COMPAS_Output.h5");
    rmSync(merged);
    const before = fragmentsIn(copy);
    const summary = await runEnsemble(options(copy));
    expect(summary.runs).toEqual({ total: 3, succeeded: 3, failed: 0, pending: 0 });
    const added = fragmentsIn(copy).filter((f) => !before.some((g) => g.task_id === f.task_id && g.attempt === f.attempt));
    const want = expectedRun(1, points[1]!.params.metallicity, 100, 2000, 3);
    expect(added.map((f) => f.task_id).sort()).toEqual(Array.from({ length: want.chunks }, (_, c) => `${victim}.c${c}`).sort());
    expect(added.every((f) => f.status === "success" && f.attempt === 2 && (f.supersedes ?? []).includes(1))).toBe(true);
    expect(bseDifferences(join(out, "runs", victim, "COMPAS_Output", "COMPAS_Output.h5"), merged)).toEqual([]);
    rmSync(copy, { recursive: true, force: true });
  }, 200_000);

  it("runs nothing again when called again, and gives the same manifest runs", async () => {
    const before = manifestOf(out);
    const n = fragmentsIn(out).length;
    const summary = await runEnsemble(options(out));
    expect(summary.tasks.submitted).toBe(0);
    expect(fragmentsIn(out)).toHaveLength(n);
    expect(manifestOf(out).runs).toEqual(before.runs);
  }, 120_000);
});

describe("compas-ensemble run --target-dcos refuses bad input with one sentence and exit 2", () => {
  const dir = mkdtempSync(join(tmpdir(), "adaptive-cli-bad-"));
  const grid = join(dir, "grid.json");
  writeFileSync(grid, JSON.stringify(GRID));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = ["run", "--file", grid, "--compas-binary", fakeCompasPath(), "--output-dir", join(dir, "out")];
  const cases: [string, string[], string][] = [
    ["an unknown DCO type", ["--target-dcos", "WD:merging:5", "--chunk", "10", "--max-systems", "100"], `--target-dcos type "WD" is not a DCO type.`],
    ["a zero count", ["--target-dcos", "BBH:merging:0", "--chunk", "10", "--max-systems", "100"], "--target-dcos count 0 is not a whole number >= 1."],
    ["a negative count", ["--target-dcos", "BBH:all:-2", "--chunk", "10", "--max-systems", "100"], "--target-dcos count -2 is not a whole number >= 1."],
    ["a chunk larger than the cap", ["--target-dcos", "BBH:merging:5", "--chunk", "5000", "--max-systems", "1000"], "--chunk 5000 is larger than --max-systems 1000, so no run could ever grow."],
    [
      "a cap above the seed stride",
      ["--target-dcos", "BBH:merging:5", "--chunk", "10", "--max-systems", "2000", "--seed-stride", "1000"],
      "--max-systems 2000 is larger than the seed stride 1000 between runs, so a run's seeds could overlap the next run's.",
    ],
    ["a target without a chunk size", ["--target-dcos", "BBH:merging:5", "--max-systems", "100"], "--target-dcos needs --chunk too, e.g. --chunk 5000 --max-systems 2000000."],
    ["a target with a fixed N", ["--target-dcos", "BBH:merging:5", "--chunk", "10", "--max-systems", "100", "--n-systems", "50"], "--n-systems cannot be combined with --target-dcos: an adaptive run's size is set by --chunk and --max-systems."],
    ["a chunk size without a target", ["--chunk", "10"], "--chunk only applies to adaptive runs; add --target-dcos (e.g. BBH:merging:200) or drop --chunk."],
  ];
  for (const [what, args, sentence] of cases) {
    it(`refuses ${what}`, async () => {
      const r = await cli([...base, ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.split("\n")[0]).toBe(`error: ${sentence}`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(join(dir, "out", "plan.json"))).toBe(false);
    });
  }
});
