import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import expected from "../expected/grid_expected.json" with { type: "json" };
import { isCompasEnsembleError } from "../../src/errors.js";
import {
  expandGrid,
  fullGrid,
  gridSpecFromObject,
  linspace,
  loadGridFile,
  logspace,
  runId,
  sliceGrid,
  sparseGrid,
  type GridPoint,
} from "../../src/grid/index.js";
import { formatFixed } from "../../src/grid/_format.js";

// numpy's power is not correctly rounded on every build (SIMD kernels on x86 give
// 10 ** -1.0 = 0.09999999999999999; libm gives 0.1), so the predecessor's alpha values
// differ by an ulp between machines. Run ids are the join key and must match exactly;
// values must agree to within a few ulps.
function expectSameGrid(actual: GridPoint[], wanted: GridPoint[]): void {
  expect(actual.map((p) => p.run_id)).toEqual(wanted.map((p) => p.run_id));
  expect(actual.map((p) => p.index)).toEqual(wanted.map((p) => p.index));
  actual.forEach((p, i) => {
    const w = wanted[i]!.params;
    for (const key of Object.keys(w) as (keyof typeof w)[]) {
      expect(Math.abs(p.params[key] - w[key])).toBeLessThanOrEqual(4 * Number.EPSILON * Math.abs(w[key]));
    }
  });
}

describe("presets agree with the predecessor tool (numpy-computed expectations)", () => {
  it("the full grid has 1,440 points whose ids and values equal the predecessor's at every index", () => {
    const points = expandGrid(fullGrid());
    expect(points).toHaveLength(1440);
    expectSameGrid(points, expected.full);
  });

  it("the sparse grid has 40 points in itertools.product order", () => {
    const points = expandGrid(sparseGrid());
    expect(points).toHaveLength(40);
    expectSameGrid(points, expected.sparse);
    expect(points[0]!.run_id).toBe("alpha0.100_lambda0.10_kick217_Z0.00010_fa0.50");
    expect(points[1]!.params.metallicity).toBe(0.0142);
    expect(points[2]!.params.lambda_ce).toBe(0.5);
    expect(points[4]!.params.alpha_ce).toBe(sparseGrid().alpha_ce[1]);
    expect(points[3]!.params.alpha_ce).toBe(sparseGrid().alpha_ce[0]);
  });

  it("nAlphaPoints changes the alpha axis like numpy logspace", () => {
    expectSameGrid(expandGrid(sparseGrid({ nAlphaPoints: 6 })), expected.sparse_alpha6);
  });

  it("ends the full grid at the documented last run id", () => {
    expect(expandGrid(fullGrid()).at(-1)!.run_id).toBe("alpha5.000_lambda1.00_kick300_Z0.02000_fa0.75");
  });
});

describe("axis builders", () => {
  it("linspace includes both endpoints and sets the last to stop exactly", () => {
    const v = linspace(0, 1, 11);
    expect(v).toHaveLength(11);
    expect(v[0]).toBe(0);
    expect(v[10]).toBe(1);
    expect(v[3]).toBe(3 * 0.1);
  });

  it("logspace takes exponents like numpy", () => {
    expect(logspace(0, 2, 3)).toEqual([1, 10, 100]);
    expect(logspace(0, 3, 4, 2)).toEqual([1, 2, 4, 8]);
  });

  it("rejects a point count below one", () => {
    expect(() => linspace(0, 1, 0)).toThrow(/linspace needs a whole number/);
  });
});

describe("run ids format like Python", () => {
  it("rounds exact ties to even as Python's format does", () => {
    expect(formatFixed(0.125, 2)).toBe("0.12");
    expect(formatFixed(0.375, 2)).toBe("0.38");
    expect(formatFixed(2.675, 2)).toBe("2.67");
    expect(formatFixed(0.0001, 5)).toBe("0.00010");
    expect(formatFixed(4.99999999, 3)).toBe("5.000");
    expect(formatFixed(0, 3)).toBe("0.000");
  });

  it("writes kick as the integer given", () => {
    expect(
      runId({ alpha_ce: 1, lambda_ce: 0.1, kick_sigma: 150, metallicity: 0.02, mass_transfer_fa: 0.25 }),
    ).toBe("alpha1.000_lambda0.10_kick150_Z0.02000_fa0.25");
  });

  it("refuses values that collapse to one run id", () => {
    const spec = { ...sparseGrid(), alpha_ce: [0.1001, 0.1004] };
    expect(() => expandGrid(spec)).toThrow(/both get run id alpha0\.100/);
  });
});

describe("slicing", () => {
  const points = expandGrid(sparseGrid());

  it("takes the half-open range and keeps grid indices", () => {
    const s = sliceGrid(points, 4, 8);
    expect(s.map((p) => p.index)).toEqual([4, 5, 6, 7]);
  });

  it("clips the end to the grid length", () => {
    expect(sliceGrid(points, 38, 100).map((p) => p.index)).toEqual([38, 39]);
  });

  it("rejects an empty slice with the indices in the message", () => {
    expect(() => sliceGrid(points, 40, 50)).toThrow(/slice \[40, 50\) of a 40-point grid is empty/);
  });
});

describe("custom grid files", () => {
  const dir = mkdtempSync(join(tmpdir(), "grid-"));
  const good = {
    alpha_ce: { logspace: { min: 0.1, max: 5.0, num: 3 } },
    lambda_ce: [0.1],
    kick_sigma: 217,
    metallicity: { values: [0.0001, 0.0142] },
    mass_transfer_fa: { linspace: { start: 0.25, stop: 0.75, num: 3 } },
  };

  function errorOf(data: unknown, name = "g.yaml"): string {
    try {
      gridSpecFromObject(data, `grid file ${name}`);
    } catch (e) {
      expect(isCompasEnsembleError(e, "GRID_INVALID")).toBe(true);
      return (e as Error).message;
    }
    throw new Error("expected the grid to be rejected");
  }

  it("reads YAML and JSON files into the same grid", () => {
    const yamlPath = join(dir, "g.yaml");
    writeFileSync(
      yamlPath,
      "alpha_ce: {logspace: {min: 0.1, max: 5.0, num: 3}}\nlambda_ce: [0.1]\nkick_sigma: 217\n" +
        "metallicity: {values: [0.0001, 0.0142]}\nmass_transfer_fa: {linspace: {start: 0.25, stop: 0.75, num: 3}}\n",
    );
    const jsonPath = join(dir, "g.json");
    writeFileSync(jsonPath, JSON.stringify(good));
    const a = expandGrid(loadGridFile(yamlPath));
    expect(a).toEqual(expandGrid(loadGridFile(jsonPath)));
    expect(a).toHaveLength(3 * 2 * 3);
    expect(a.map((p) => p.params.alpha_ce)).toEqual([...new Set(a.map((p) => p.params.alpha_ce))].flatMap((v) => Array(6).fill(v)));
    expect(a[0]!.params.alpha_ce).toBeCloseTo(0.1, 15);
    expect(a.at(-1)!.params.alpha_ce).toBeCloseTo(5.0, 14);
  });

  it.each([
    ["metallicity", [0.0001, 0.05], /metallicity\[1\] = 0\.05 is out of range \(COMPAS exits on it\); use a value in \[0\.0001, 0\.03\]/],
    ["metallicity", [0.00001], /metallicity\[0\] = 0\.00001 is out of range|metallicity\[0\] = 1e-5 is out of range/],
    ["alpha_ce", [-0.5], /alpha_ce\[0\] = -0\.5 is out of range; use a value >= 0/],
    ["lambda_ce", [0], /lambda_ce\[0\] = 0 is out of range; use a value > 0/],
    ["kick_sigma", [-1], /kick_sigma\[0\] = -1 is out of range/],
    ["mass_transfer_fa", [1.5], /mass_transfer_fa\[0\] = 1\.5 is out of range .*use a value in \[0, 1\]/],
    ["lambda_ce", [], /axis lambda_ce is empty/],
    ["kick_sigma", [217, 217], /kick_sigma\[1\] = 217 duplicates kick_sigma\[0\]/],
  ])("rejects %s = %j naming the axis and value", (axis, value, pattern) => {
    expect(errorOf({ ...good, [axis]: value })).toMatch(pattern);
  });

  it("rejects an unknown key by name", () => {
    expect(errorOf({ ...good, kick_sigmas: [1] })).toMatch(/grid file g\.yaml: unknown key kick_sigmas/);
  });

  it("rejects a missing axis by name", () => {
    const { lambda_ce: _omit, ...rest } = good;
    expect(errorOf(rest)).toMatch(/axis lambda_ce is missing/);
  });

  it("rejects a value of the wrong kind with its path", () => {
    expect(errorOf({ ...good, alpha_ce: "lots" })).toMatch(/alpha_ce = "lots" is not a valid axis/);
  });

  it("names the file when it is not valid YAML", () => {
    const p = join(dir, "bad.yaml");
    writeFileSync(p, "alpha_ce: [1, 2\n");
    expect(() => loadGridFile(p)).toThrow(new RegExp(`grid file ${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not valid YAML`));
  });
});
