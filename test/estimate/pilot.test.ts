import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { estimateEnsemble, type EnsembleEstimate } from "../../src/entry/estimate.js";
import { expandGrid } from "../../src/grid/index.js";
import { cliCommand } from "../support/cli.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { ENV, mergingBbhs, period } from "../support/adaptive-rule.js";

const execFileAsync = promisify(execFile);

// Calibration folders of this file go to a TMPDIR of its own: test/estimate/estimate.test.ts
// checks that no calibration folder is left in the shared one while it may run alongside.
const ownTmp = mkdtempSync(join(tmpdir(), "pilot-tmp-"));
process.env.TMPDIR = ownTmp;
afterAll(() => rmSync(ownTmp, { recursive: true, force: true }));

// Two alpha_ce by three Z; Z = 5e-4 is nearer (in ln Z) to 1e-4 than to 1e-2, so no run ties
// between corners. The stand-in's rule (test/support/fake-compas/README.md) gives merging BBHs
// at a rate 1/P with P = round(K Z).
const GRID = { alpha_ce: [0.5, 2], lambda_ce: [0.1], kick_sigma: [217], metallicity: [0.0001, 0.0005, 0.01], mass_transfer_fa: [0.5] };
const points = expandGrid(GRID);
const TARGET = 22;
const CHUNK = 50;
const MAX = 3000;
const PILOT = 400;

// What the documented rule expects, computed here: the calibration runs the four (alpha, Z)
// corners with PILOT/4 binaries each, corner of grid index i from seed i * PILOT/4
// (docs/adaptive.md; a run's seeds start at seedBase + index * N); a run takes the yield of the
// nearest corner in (ln alpha, ln Z) and needs target / yield binaries in whole chunks, at most
// the cap; a corner without a merging BBH sends its runs to the cap.
function expected() {
  const perCorner = PILOT / 4;
  const corners = points.filter(
    (p) => [0.5, 2].includes(p.params.alpha_ce) && [0.0001, 0.01].includes(p.params.metallicity),
  );
  const count = new Map(corners.map((c) => [c.run_id, mergingBbhs(c.index * perCorner, perCorner, period(c.params.metallicity))]));
  return points.map((p) => {
    const corner = corners.find((c) => c.params.alpha_ce === p.params.alpha_ce && (p.params.metallicity < 0.005) === (c.params.metallicity < 0.005))!;
    const k = count.get(corner.run_id)!;
    const n = k === 0 ? MAX : Math.min(MAX, Math.ceil((TARGET * perCorner) / (k * CHUNK)) * CHUNK);
    return { run_id: p.run_id, corner: corner.run_id, k, n };
  });
}

function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `pilot-${name}-`));
}

describe("estimate of adaptive runs from the calibration's DCO counts", () => {
  const cacheDir = tempDir("cache");
  let estimate: EnsembleEstimate;
  beforeAll(async () => {
    estimate = await estimateEnsemble({
      points,
      adaptive: { target: { dco: "BBH", merging: true, count: TARGET }, chunk: CHUNK, max: MAX },
      compasBinary: fakeCompasPath(),
      calibrate: { binaries: PILOT, cacheDir },
      target: { kind: "local", cores: 2 },
      env: { ...process.env, ...ENV },
    });
  }, 120_000);
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  it("predicts each run's N from its nearest corner's yield, in whole chunks, at most the cap", () => {
    const want = expected();
    // The fixture must exercise both branches: a corner with target DCOs and one without.
    expect(want.some((w) => w.k > 0 && w.n < MAX)).toBe(true);
    expect(want.some((w) => w.k === 0)).toBe(true);
    expect(estimate.adaptive!.runs.map((r) => [r.run_id, r.corner, r.nSystems])).toEqual(want.map((w) => [w.run_id, w.corner, w.n]));
  });

  it("prices the sum of the predicted N, with the cap total beside it", () => {
    const want = expected();
    const total = want.reduce((a, w) => a + w.n, 0);
    expect(estimate.binaries).toBe(total);
    expect(estimate.adaptive!.predictedBinaries).toBe(total);
    expect(estimate.adaptive!.capBinaries).toBe(points.length * MAX);
    expect(estimate.tasks).toBe(want.reduce((a, w) => a + Math.ceil(w.n / CHUNK), 0));
    expect(estimate.compasCpuHours).toBeCloseTo((total * estimate.basis.secondsPerBinary) / 3600, 12);
    expect(estimate.adaptive!.runsAtCap).toBe(want.filter((w) => w.n === MAX).length);
  });

  it("says that a corner without target DCOs sends its runs to the cap", () => {
    const want = expected();
    for (const corner of new Set(want.filter((x) => x.k === 0).map((x) => x.corner))) {
      const nearest = want.filter((x) => x.corner === corner).length;
      expect(estimate.notes).toContain(
        `Corner ${corner} had no merging BBH in its ${PILOT / 4} pilot binaries: its ${nearest} nearest run(s) are priced at the cap; ` +
          "a larger calibration (--calibration-binaries) would tell more.",
      );
    }
  });

  it("prices every run at the cap, with a note, when no calibration holds DCO counts", async () => {
    const empty = tempDir("empty");
    try {
      const e = await estimateEnsemble({
        points,
        adaptive: { target: { dco: "BBH", merging: true, count: TARGET }, chunk: CHUNK, max: MAX },
        compasBinary: fakeCompasPath(),
        calibrate: { cachedOnly: true, cacheDir: empty },
      });
      expect(e.adaptive!.runs.every((r) => r.nSystems === MAX && r.atCap)).toBe(true);
      expect(e.binaries).toBe(points.length * MAX);
      expect(e.notes.some((n) => n.startsWith(`No pilot DCO counts at this grid's corners, so every run is priced at the cap of ${MAX} binaries`))).toBe(true);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const [node, ...cliArgs] = cliCommand();
  try {
    const { stdout, stderr } = await execFileAsync(node!, [...cliArgs, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("compas-ensemble estimate --target-dcos", () => {
  const dir = tempDir("cli");
  const grid = join(dir, "grid.json");
  writeFileSync(grid, JSON.stringify(GRID));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = ["estimate", "--file", grid, "--compas-binary", fakeCompasPath(), "--cache-dir", join(dir, "cache"), "--cores", "2"];
  const adaptive = ["--target-dcos", `BBH:merging:${TARGET}`, "--chunk", String(CHUNK), "--max-systems", String(MAX)];

  it("prints the predicted total against the cap total, and each run's N with --json", async () => {
    const want = expected();
    const total = want.reduce((a, w) => a + w.n, 0);
    const text = await cli([...base, ...adaptive, "--calibrate", "--calibration-binaries", String(PILOT)], ENV);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(
      `Predicted: ${total.toLocaleString("en-US")} binaries in ${want.reduce((a, w) => a + Math.ceil(w.n / CHUNK), 0)} task(s), ` +
        `against ${(points.length * MAX).toLocaleString("en-US")} if every run hit the cap (${want.filter((w) => w.n === MAX).length} of ${points.length} run(s) predicted at the cap)`,
    );
    // The calibration is cached, so --json reads the same pilot.
    const json = await cli([...base, ...adaptive, "--json"], ENV);
    expect(json.code, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout) as EnsembleEstimate;
    expect(out.adaptive!.runs.map((r) => [r.run_id, r.nSystems])).toEqual(want.map((w) => [w.run_id, w.n]));
  }, 120_000);

  // The same sentences as `run` (test/ensemble/adaptive.test.ts): the flags share one parser.
  const cases: [string, string[], string][] = [
    ["an unknown DCO type", ["--target-dcos", "WD:merging:5", "--chunk", "10", "--max-systems", "100"], `--target-dcos type "WD" is not a DCO type.`],
    ["a zero count", ["--target-dcos", "BBH:merging:0", "--chunk", "10", "--max-systems", "100"], "--target-dcos count 0 is not a whole number >= 1."],
    ["a chunk larger than the cap", ["--target-dcos", "BBH:merging:5", "--chunk", "5000", "--max-systems", "1000"], "--chunk 5000 is larger than --max-systems 1000, so no run could ever grow."],
    [
      "a cap above the seed stride",
      ["--target-dcos", "BBH:merging:5", "--chunk", "10", "--max-systems", "2000", "--seed-stride", "1000"],
      "--max-systems 2000 is larger than the seed stride 1000 between runs, so a run's seeds could overlap the next run's.",
    ],
    ["a target without a chunk size", ["--target-dcos", "BBH:merging:5", "--max-systems", "100"], "--target-dcos needs --chunk too, e.g. --chunk 5000 --max-systems 2000000."],
    ["a target with a fixed N", ["--target-dcos", "BBH:merging:5", "--chunk", "10", "--max-systems", "100", "--n-systems", "50"], "--n-systems cannot be combined with --target-dcos: an adaptive run's size is set by --chunk and --max-systems."],
    ["a chunk size without a target", ["--chunk", "10", "--n-systems", "50"], "--chunk only applies to adaptive runs; add --target-dcos (e.g. BBH:merging:200) or drop --chunk."],
    ["neither N nor a target", [], "--n-systems is missing: give the binaries per grid point, or --target-dcos with --chunk and --max-systems for adaptive runs."],
  ];
  for (const [what, args, sentence] of cases) {
    it(`refuses ${what} with the sentence of run and exit 2`, async () => {
      const r = await cli([...base, ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.split("\n")[0]).toBe(`error: ${sentence}`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }
});
