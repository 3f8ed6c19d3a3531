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
  MAX_GRID_POINTS,
  runId,
  selectGrid,
  sliceGrid,
  sparseGrid,
  validateGridSpec,
  type GridPoint,
  type GridSpec,
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

  it("names the first two points in grid order that share a run id", () => {
    // Sparse strides: alpha 4 points, lambda 2, Z 1. The alpha clash is at points 0 and 4,
    // the Z clash at points 0 and 1, which comes first in grid order.
    const alpha = { ...sparseGrid(), alpha_ce: [0.1001, 0.1004] };
    expect(() => expandGrid(alpha)).toThrow(
      "Grid points 0 and 4 both get run id alpha0.100_lambda0.10_kick217_Z0.00010_fa0.50 because",
    );
    const both = { ...alpha, metallicity: [0.014201, 0.014204] };
    expect(() => expandGrid(both)).toThrow("Grid points 0 and 1 both get run id alpha0.100_lambda0.10_kick217_Z0.01420_fa0.50 because");
    // A clash is refused even when the slice asked for does not contain it.
    expect(() => sliceGrid(alpha, 1, 2)).toThrow("Grid points 0 and 4 both get run id");
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

describe("slicing by index without expanding the grid", () => {
  const uneven = expected.uneven.spec as GridSpec;
  const hugeSpec = gridSpecFromObject(expected.huge.spec, "grid file big.yaml");

  it("index k of a grid with five different axis lengths is the k-th element of itertools.product", () => {
    expect(expected.uneven.points).toHaveLength(3 * 2 * 4 * 1 * 5);
    for (const want of expected.uneven.points) {
      expect(sliceGrid(uneven, want.index, want.index + 1)).toEqual([want]);
    }
    expect(sliceGrid(uneven, 37, 83)).toEqual(expected.uneven.points.slice(37, 83));
    expect(expandGrid(uneven)).toEqual(expected.uneven.points);
  });

  it("slices a grid of 10^13 points at any index, as numpy's unravel_index finds the point", () => {
    expect(selectGrid(hugeSpec, 0, 1).gridPoints).toBe(BigInt(expected.huge.total));
    for (const want of expected.huge.points) {
      const [got] = sliceGrid(hugeSpec, want.index, want.index + 1);
      expect(got!.index).toBe(want.index);
      expect(got!.run_id).toBe(want.run_id);
      for (const key of Object.keys(want.params) as (keyof typeof want.params)[]) {
        expect(Math.abs(got!.params[key] - want.params[key])).toBeLessThanOrEqual(4 * Number.EPSILON * Math.abs(want.params[key]));
      }
    }
  });

  it("clips the end of a slice of a huge grid to its length", () => {
    const total = expected.huge.total;
    const tail = sliceGrid(hugeSpec, total - 2, total + 5);
    expect(tail.map((p) => p.run_id)).toEqual(expected.huge.points.slice(-2).map((p) => p.run_id));
    expect(() => sliceGrid(hugeSpec, total, total + 1)).toThrow(
      `The slice [${total}, ${total + 1}) of a ${total}-point grid is empty; choose --start-index below ${total} and --end-index above it.`,
    );
  });

  it("refuses a grid of more than 10^6 points with its count and shape, before expanding it", () => {
    expect(MAX_GRID_POINTS).toBe(1_000_000);
    let caught: unknown;
    try {
      expandGrid(hugeSpec, "grid file big.yaml");
    } catch (e) {
      caught = e;
    }
    expect(isCompasEnsembleError(caught, "GRID_INVALID")).toBe(true);
    expect((caught as Error).message).toBe(
      "Grid file big.yaml has 10,000,000,000,000 points (1000 alpha_ce x 10000 lambda_ce x 1000 kick_sigma x 1000 metallicity " +
        "x 1 mass_transfer_fa values), more than the limit of 1,000,000 points per run or plan; " +
        "run it in slices of at most 1,000,000 points with --start-index and --end-index.",
    );
  });

  it("limits the slice, not the grid: a slice of 10^6 points is accepted and one more is refused", () => {
    const ok = selectGrid(hugeSpec, 5, 5 + MAX_GRID_POINTS, "grid file big.yaml");
    expect(ok.end - ok.start).toBe(MAX_GRID_POINTS);
    expect(() => selectGrid(hugeSpec, 5, 6 + MAX_GRID_POINTS, "grid file big.yaml")).toThrow(
      "The slice [5, 1000006) of grid file big.yaml has 1,000,001 points, more than the limit of 1,000,000 points per run or plan;",
    );
  });

  it("refuses an axis of more than 10^6 values in a grid file before computing them", () => {
    expect(() =>
      gridSpecFromObject({ ...expected.huge.spec, lambda_ce: { linspace: { start: 1, stop: 2, num: 1e13 } } }, "grid file big.yaml"),
    ).toThrow("grid file big.yaml: axis lambda_ce has 10,000,000,000,000 values, more than the limit of 1,000,000 points per run or plan; give it fewer values.");
    expect(() => sparseGrid({ nAlphaPoints: MAX_GRID_POINTS + 1 })).toThrow(/linspace of 1000001 values is more than the limit/);
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

  it.each([
    ["a YAML .nan in a list", "metallicity: [0.0001, .nan]", "metallicity[1] is NaN"],
    ["a YAML .inf as a linspace end", "alpha_ce: {linspace: {start: 0.1, stop: .inf, num: 3}}", "alpha_ce.linspace.stop is Infinity"],
    ["a YAML -.inf as a single value", "kick_sigma: -.inf", "kick_sigma is -Infinity"],
    ["a YAML .NaN in values", "mass_transfer_fa: {values: [.NaN]}", "mass_transfer_fa.values[0] is NaN"],
  ])("names %s as such, with where it is", (_what, line, where) => {
    const p = join(dir, "nonfinite.yaml");
    const axes: Record<string, string> = {
      alpha_ce: "alpha_ce: [1.0]",
      lambda_ce: "lambda_ce: [0.1]",
      kick_sigma: "kick_sigma: 217",
      metallicity: "metallicity: [0.0142]",
      mass_transfer_fa: "mass_transfer_fa: 0.5",
    };
    axes[line.split(":")[0]!] = line;
    writeFileSync(p, Object.values(axes).join("\n") + "\n");
    let caught: unknown;
    try {
      loadGridFile(p);
    } catch (e) {
      caught = e;
    }
    expect(isCompasEnsembleError(caught, "GRID_INVALID")).toBe(true);
    expect((caught as Error).message).toBe(`grid file ${p}: ${where}; axis values must be finite numbers, so write the value you mean.`);
    expect((caught as { hint?: string }).hint).toMatch(/\.nan and \.inf, and numbers beyond 1\.8e308 such as 1e999/);
  });

  it("names a JSON number too large for a double (1e999) as Infinity", () => {
    const p = join(dir, "huge-number.json");
    writeFileSync(p, JSON.stringify(good).replace('"kick_sigma":217', '"kick_sigma":[217,1e999]'));
    expect(() => loadGridFile(p)).toThrow(`grid file ${p}: kick_sigma[1] is Infinity;`);
  });

  it("names NaN and Infinity in a grid built in code", () => {
    expect(() => validateGridSpec({ ...sparseGrid(), lambda_ce: [0.1, Number.NaN] })).toThrow("grid: lambda_ce[1] is NaN;");
    expect(() => validateGridSpec({ ...sparseGrid(), kick_sigma: [Number.POSITIVE_INFINITY] })).toThrow("grid: kick_sigma[0] is Infinity;");
  });

  it("names the file when it is not valid YAML", () => {
    const p = join(dir, "bad.yaml");
    writeFileSync(p, "alpha_ce: [1, 2\n");
    expect(() => loadGridFile(p)).toThrow(new RegExp(`grid file ${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not valid YAML`));
  });
});
