import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cachedIdentity } from "../../src/compas/identity-cache.js";
import { hashFile } from "../../src/compas/probe.js";
import { MEASURED_SECONDS_PER_BINARY } from "../../src/compas/profiles.js";
import { estimateCommand as planCommand } from "../../src/cli/estimate.js";
import { isCompasEnsembleError } from "../../src/errors.js";
import { expandGrid, fullGrid, selectGrid, sliceGrid, sparseGrid } from "../../src/grid/index.js";
import { makespan } from "../../src/estimate/_schedule.js";
import { formatPlan, gridCorners, planEnsemble, PRICE_TABLE, type PlanEstimate } from "../../src/entry/estimate.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { maxOverlap, standInProcesses } from "../support/processes.js";

const sparse = expandGrid(sparseGrid());
// No COMPAS anywhere: the planner must fall back to the measured constants.
const noCompas: NodeJS.ProcessEnv = { PATH: "/nonexistent" };

function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `planner-${name}-`));
}

describe("calibration against the COMPAS stand-in", () => {
  const cacheDir = tempDir("cache");
  const firstStarted = tempDir("started1");
  let first: PlanEstimate;

  it("runs the grid's four corners one at a time and uses the measured seconds per binary", async () => {
    first = await planEnsemble({
      points: sparse,
      nSystems: 1000,
      compasBinary: fakeCompasPath(),
      calibrate: { binaries: 20, cacheDir },
      target: { kind: "local", cores: 2 },
      env: { ...process.env, FAKE_COMPAS_DELAY_MS: "5", FAKE_COMPAS_STARTED_DIR: firstStarted },
    });
    const c = first.basis.calibration!;
    expect(first.basis.source).toBe("calibrated");
    // The stand-in sleeps 5 ms after each binary, so no honest measurement can be below that.
    expect(first.basis.secondsPerBinary).toBeGreaterThanOrEqual(0.005);
    for (const corner of c.corners) expect(corner.seconds_per_binary).toBeGreaterThanOrEqual(0.005);
    const alphas = sparse.map((p) => p.params.alpha_ce);
    const zs = sparse.map((p) => p.params.metallicity);
    const cornerIds = [Math.min(...alphas), Math.max(...alphas)].flatMap((a) =>
      [Math.min(...zs), Math.max(...zs)].map((z) => sparse.find((p) => p.params.alpha_ce === a && p.params.metallicity === z)!.run_id),
    );
    expect(c.corners.map((k) => k.run_id)).toEqual(cornerIds);
    expect(c.corners.map((k) => k.n_systems)).toEqual([5, 5, 5, 5]);
    const procs = standInProcesses(firstStarted);
    expect(procs).toHaveLength(4);
    expect(maxOverlap(procs)).toBe(1);
    // The estimate is built from the calibrated value, not the constant.
    expect(first.compasCpuHours).toBeCloseTo((40 * 1000 * c.seconds_per_binary) / 3600, 12);
    expect(first.taskHours).toBeCloseTo((40 * (c.task_overhead_s + 1000 * c.seconds_per_binary)) / 3600, 12);
    expect(first.basis.taskOverheadSeconds).toBe(c.task_overhead_s);
    const cache = JSON.parse(readFileSync(join(cacheDir, "calibration.json"), "utf8"));
    expect(Object.keys(cache.entries)).toEqual([`${await hashFile(fakeCompasPath())}:default`]);
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith("compas-calibration-"))).toEqual([]);
  });

  it("reads the cache on the second call and starts no COMPAS process", async () => {
    const started = tempDir("started2");
    const again = await planEnsemble({
      points: sparse,
      nSystems: 1000,
      compasBinary: fakeCompasPath(),
      calibrate: { binaries: 20, cacheDir },
      target: { kind: "local", cores: 2 },
      env: { ...process.env, FAKE_COMPAS_DELAY_MS: "5", FAKE_COMPAS_STARTED_DIR: started },
    });
    expect(again.basis.source).toBe("cached-calibration");
    expect(again.basis.secondsPerBinary).toBe(first.basis.secondsPerBinary);
    expect(again.compasCpuHours).toBe(first.compasCpuHours);
    expect(standInProcesses(started)).toEqual([]);
  });

  it("uses a cached calibration without --calibrate, and measures again for a different binary", async () => {
    const started = tempDir("started3");
    const env = { ...process.env, FAKE_COMPAS_STARTED_DIR: started };
    const cached = await planEnsemble({ points: sparse, nSystems: 1000, compasBinary: fakeCompasPath(), calibrate: { cachedOnly: true, cacheDir }, env });
    expect(cached.basis.source).toBe("cached-calibration");
    expect(standInProcesses(started)).toEqual([]);

    // Another build (other bytes, other sha256) is not the one that was timed.
    const other = join(tempDir("bin"), "COMPAS");
    writeFileSync(other, `#!/bin/sh\n# another build\nexec "${fakeCompasPath()}" "$@"\n`);
    chmodSync(other, 0o755);
    const uncached = await planEnsemble({ points: sparse, nSystems: 1000, compasBinary: other, calibrate: { cachedOnly: true, cacheDir }, env });
    expect(uncached.basis.source).toBe("measured");
    expect(uncached.notes.join("\n")).toContain(`${other} has no cached calibration`);
    const measured = await planEnsemble({ points: sliceGrid(sparse, 0, 2), nSystems: 1000, compasBinary: other, calibrate: { binaries: 4, cacheDir }, env });
    expect(measured.basis.source).toBe("calibrated");
    expect(standInProcesses(started)).toHaveLength(2);
  });

  it("finds the calibration through the cached sha256 of the binary, and hashes afresh with probeCache: false or plan --no-cache", async () => {
    const wrapper = join(tempDir("wrapper"), "COMPAS");
    writeFileSync(wrapper, `#!/bin/sh\nexec "${fakeCompasPath()}" "$@"\n`);
    chmodSync(wrapper, 0o755);
    // The identity cache (kept beside the calibrations) claims the wrapper is the build timed above.
    const claim = async () =>
      cachedIdentity(wrapper, { hash: () => hashFile(fakeCompasPath()), probe: async () => ({ version: "03.07.00", options: [] }) }, { cacheDir, withProbe: false, cache: false });
    const options = { points: sparse, nSystems: 1000, compasBinary: wrapper, calibrate: { cachedOnly: true, cacheDir } };
    await claim();
    expect((await planEnsemble(options)).basis.source).toBe("cached-calibration");
    expect((await planEnsemble({ ...options, probeCache: false })).basis.source).toBe("measured");
    // The fresh hash replaced the claim.
    expect((await planEnsemble(options)).basis.source).toBe("measured");

    const cli = async (...flags: string[]): Promise<string> => {
      let out = "";
      vi.spyOn(process.stdout, "write").mockImplementation((chunk) => ((out += String(chunk)), true));
      try {
        await planCommand()
          .exitOverride()
          .parseAsync(["--sparse", "--n-systems", "1000", "--compas-binary", wrapper, "--cache-dir", cacheDir, "--json", ...flags], { from: "user" });
      } finally {
        vi.restoreAllMocks();
      }
      return (JSON.parse(out) as PlanEstimate).basis.source;
    };
    await claim();
    expect(await cli()).toBe("cached-calibration");
    expect(await cli("--no-cache")).toBe("measured");
  });
});

describe("estimates from the measured constants and the price table", () => {
  it("falls back to MEASURED_SECONDS_PER_BINARY with a note when no COMPAS binary exists", async () => {
    const plan = await planEnsemble({ points: sparse, nSystems: 10_000, calibrate: true, target: { kind: "local", cores: 8 }, env: noCompas });
    expect(plan.basis.source).toBe("measured");
    expect(plan.basis.secondsPerBinary).toBe(MEASURED_SECONDS_PER_BINARY.default);
    expect(plan.notes.join("\n")).toMatch(/No COMPAS binary was found, so no calibration ran/);
    expect(plan.notes.join("\n")).toMatch(/--compas-binary or COMPAS_BINARY/);
  });

  it("computes hours, wall time and cost for 2 x c7i.48xlarge by hand", async () => {
    const plan = await planEnsemble({ grid: sparseGrid(), nSystems: 10_000, target: { kind: "ec2", instanceType: "c7i.48xlarge", count: 2 }, env: noCompas });
    expect(plan).toMatchObject({ runs: 40, tasks: 40, binaries: 400_000 });
    expect(plan.target.slots).toBe(384);
    expect(plan.compasCpuHours).toBeCloseTo((400_000 * 0.0063) / 3600, 12);
    // 40 tasks of 63 s on 384 vCPUs: one round.
    expect(plan.wallSeconds).toBeCloseTo(63, 9);
    expect(plan.costUsd!.onDemand).toBeCloseTo((2 * 8.568 * 63) / 3600, 9);
    expect(plan.costUsd!.spot).toBeCloseTo((2 * 3.4272 * 63) / 3600, 9);
    expect(plan.outputBytes).toBe(40 * (8_506_176 + 9000 * 1100));
    expect(plan.warnings.join("\n")).toMatch(/Only 40 task\(s\) for 384 slots: 344 would stay idle.*systemsPerTask 1112/);
  });

  it("estimates a slice of 10^6 points of a 10^10-point grid by counting it, with the wall time worked out by hand", async () => {
    const axis = (num: number) => Array.from({ length: num }, (_, i) => 1 + i);
    const huge = { alpha_ce: axis(1000), lambda_ce: axis(10000), kick_sigma: axis(1000), metallicity: [0.0142], mass_transfer_fa: [0.5] };
    const selection = selectGrid(huge, 7, 7 + 1_000_000);
    const plan = await planEnsemble({ selection, nSystems: 1000, systemsPerTask: 300, target: { kind: "slurm", cores: 4 }, env: noCompas });
    expect(plan).toMatchObject({ runs: 1_000_000, tasks: 4_000_000, binaries: 1e9 });
    // Per run three chunks of 300 binaries (1.89 s) and one of 100 (0.63 s): the 3 x 10^6
    // long tasks fill four cores evenly in 750,000 rounds, the 10^6 short ones in 250,000.
    expect(plan.wallSeconds).toBeCloseTo(750_000 * 1.89 + 250_000 * 0.63, 3);
    expect(plan.taskHours).toBeCloseTo((1e9 * 0.0063) / 3600, 6);
  });

  it("schedules equal tasks longest first when the slots start out uneven (LPT by hand)", () => {
    // Two slots; three 10 s tasks: 10 | 10, then 20 | 10. Five 3 s tasks go to the earlier
    // slot each time: 20 | 13, 20 | 16, 20 | 19, 20 | 22, 23 | 22.
    expect(makespan([{ seconds: 3, count: 5 }, { seconds: 10, count: 3 }], 2)).toBe(23);
    expect(makespan([{ seconds: 5, count: 0 }], 8)).toBe(0);
    // Fewer tasks than slots: one round.
    expect(makespan([{ seconds: 4, count: 3 }], 16)).toBe(4);
  });

  it("prices AWS Batch per vCPU-hour of the reference instance type", async () => {
    const plan = await planEnsemble({ grid: fullGrid(), nSystems: 100_000, systemsPerTask: 25_000, target: { kind: "batch", vcpus: 1000 }, env: noCompas });
    expect(plan.tasks).toBe(1440 * 4);
    expect(plan.taskHours).toBeCloseTo((5760 * 25_000 * 0.0063) / 3600, 9);
    expect(plan.costUsd!.onDemand).toBeCloseTo(252 * (0.08925 / 2), 9);
    expect(plan.costUsd!.spot).toBeCloseTo(252 * (0.0357 / 2), 9);
    // 5760 equal tasks on 1000 vCPUs: six rounds of 157.5 s.
    expect(plan.wallSeconds).toBeCloseTo(6 * 157.5, 9);
    expect(plan.price).toMatchObject({ instanceType: "c7i.large", per: "vCPU", date: PRICE_TABLE.date });
  });

  it("schedules uneven chunks on Slurm cores longest first", async () => {
    const plan = await planEnsemble({ points: sliceGrid(sparse, 0, 3), nSystems: 1000, systemsPerTask: 300, target: { kind: "slurm", cores: 4 }, env: noCompas });
    expect(plan.tasks).toBe(12);
    // Nine 300-binary chunks on four cores: three rounds; the 100-binary chunks fill the gaps.
    expect(plan.wallSeconds).toBeCloseTo(3 * 300 * 0.0063, 9);
    expect(plan.costUsd).toBeUndefined();
    expect(plan.taskHours).toBeCloseTo((3 * 1000 * 0.0063) / 3600, 12);
  });

  it("warns about the predecessor profile and shows the default profile's time and size beside it", async () => {
    const plan = await planEnsemble({ points: sparse, nSystems: 1000, profile: "predecessor", target: { kind: "local", cores: 40 }, env: noCompas });
    expect(plan.warnings[0]).toMatch(/profile 'predecessor' turns on --detailed-output/);
    expect(plan.warnings[0]).toMatch(/against .* CPU-hours and .* with 'default'/);
    expect(plan.comparison!.profile).toBe("default");
    expect(plan.compasCpuHours).toBeCloseTo((40_000 * 0.227) / 3600, 12);
    expect(plan.comparison!.compasCpuHours).toBeCloseTo((40_000 * 0.0063) / 3600, 12);
    expect(plan.outputBytes).toBe(40 * (8_506_176 + 1000 * 4_870_000));
    expect(plan.comparison!.outputBytes).toBe(40 * 8_506_176);
    const text = formatPlan(plan);
    expect(text).toMatch(/With profile 'default' instead:/);
    expect(text).toMatch(/^warning: profile 'predecessor'/m);
    const plain = await planEnsemble({ points: sparse, nSystems: 1000, target: { kind: "local", cores: 40 }, env: noCompas });
    expect(plain.warnings).toEqual([]);
    expect(plain.comparison).toBeUndefined();
  });

  it("rejects an instance type missing from the price table, and a wrong --compas-binary", async () => {
    const bad = planEnsemble({ points: sparse, nSystems: 10, target: { kind: "ec2", instanceType: "c9z.huge" }, env: noCompas });
    await expect(bad).rejects.toSatisfy((e) => isCompasEnsembleError(e, "OPTIONS_INVALID") && /c9z\.huge.*c7i\.large/.test((e as Error).message));
    const missing = planEnsemble({ points: sparse, nSystems: 10, compasBinary: "/nonexistent/COMPAS", env: noCompas });
    await expect(missing).rejects.toSatisfy((e) => isCompasEnsembleError(e, "COMPAS_NOT_FOUND"));
  });

  it("takes the corners of a grid with one metallicity as two points", () => {
    const points = expandGrid({ ...sparseGrid(), metallicity: [0.001] });
    const alphas = points.map((p) => p.params.alpha_ce);
    expect(gridCorners(points).map((p) => p.params.alpha_ce)).toEqual([Math.min(...alphas), Math.max(...alphas)]);
    // Two lambda values per alpha: the first point with the largest alpha is second to last.
    expect(gridCorners(points).map((p) => p.index)).toEqual([0, points.length - 2]);
  });
});

describe("compas-ensemble plan", () => {
  afterEach(() => vi.restoreAllMocks());

  async function run(args: string[]): Promise<string> {
    let out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    const saved = { PATH: process.env.PATH, COMPAS_BINARY: process.env.COMPAS_BINARY, COMPAS_ROOT_DIR: process.env.COMPAS_ROOT_DIR };
    // No COMPAS to find: the command must plan from the measured constants.
    process.env.PATH = "/nonexistent";
    delete process.env.COMPAS_BINARY;
    delete process.env.COMPAS_ROOT_DIR;
    try {
      await planCommand().exitOverride().parseAsync(args, { from: "user" });
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
      vi.restoreAllMocks();
    }
    return out;
  }

  it("prints the estimate as JSON for a Batch target", async () => {
    const json = JSON.parse(await run(["--sparse", "--test-run", "--n-systems", "2000", "--target", "batch", "--vcpus", "64", "--json"]));
    expect(json).toMatchObject({ runs: 3, tasks: 3, binaries: 6000, target: { kind: "batch", vcpus: 64, slots: 64 } });
    expect(json.basis.source).toBe("measured");
    expect(json.costUsd.onDemand).toBeCloseTo((6000 * 0.0063 * 0.08925) / 2 / 3600, 12);
  });

  it("refuses a flag that does not belong to the target", async () => {
    await expect(run(["--sparse", "--n-systems", "10", "--target", "local", "--vcpus", "8"])).rejects.toSatisfy(
      (e) => isCompasEnsembleError(e, "OPTIONS_INVALID") && /--vcpus does not apply to --target local/.test((e as Error).message),
    );
    await expect(run(["--sparse", "--n-systems", "10", "--target", "ec2"])).rejects.toSatisfy(
      (e) => isCompasEnsembleError(e, "OPTIONS_INVALID") && /--target ec2 needs --instance-type/.test((e as Error).message),
    );
  });
});
