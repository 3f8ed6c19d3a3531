import { describe, expect, it } from "vitest";
import { ageMyr, redshiftAtAgeMyr } from "../../../src/physics/rates/cosmology.js";
import { accumulateMergerRate, formationRateTable, redshiftGrid } from "../../../src/physics/rates/merger-rate.js";
import { DEFAULT_RATES_OPTIONS } from "../../../src/physics/rates/options.js";
import { starFormationRate } from "../../../src/physics/rates/sfr.js";

const O = DEFAULT_RATES_OPTIONS;
const C = O.cosmology;
const sfr = (z: number) => starFormationRate(z, O.sfr);

describe("redshiftGrid", () => {
  it("runs from 0 to 10 in steps of 0.01 and holds 0.2, 0.5, 1, 2, 4 as the float64 of those decimals", () => {
    const g = redshiftGrid(O);
    expect(g.z).toHaveLength(1001);
    expect(g.z[0]).toBe(0);
    expect(g.z[20]).toBe(0.2);
    expect(g.z[50]).toBe(0.5);
    expect(g.z[100]).toBe(1);
    expect(g.z[200]).toBe(2);
    expect(g.z[400]).toBe(4);
    expect(g.z[1000]).toBe(10);
    expect(g.z[3]).toBe(0.03); // not 3 * 0.01 = 0.030000000000000002
    g.z.forEach((z, i) => expect(g.ageMyr[i]).toBe(ageMyr(z, C)));
  });

  it("holds the same decimals with a finer step", () => {
    const g = redshiftGrid({ ...O, zStep: 0.005, zMax: 8 });
    expect(g.z).toHaveLength(1601);
    expect([g.z[40], g.z[100], g.z[800], g.z[1600]]).toEqual([0.2, 0.5, 4, 8]);
  });
});

describe("accumulateMergerRate", () => {
  const grid = redshiftGrid(O);
  const table = formationRateTable(sfr, C, O.zFirstSf);
  const firstSf = ageMyr(O.zFirstSf, C);
  // The definition evaluated directly: SFR at the redshift where the Universe had age t(z) - delay.
  const direct = (d: number, z: number) => {
    const t = ageMyr(z, C) - d;
    return t < firstSf ? 0 : sfr(Math.max(0, redshiftAtAgeMyr(t, C)));
  };

  it("adds SFR(z_form) for each DCO at each redshift, to 1e-7 of the definition evaluated directly", () => {
    const delays = Float64Array.of(0, 3.5, 10, 500, 3000, 9000, 12000);
    const out = new Float64Array(grid.z.length);
    accumulateMergerRate(delays, [0, 1, 2, 3, 4, 5, 6], table, grid, 1, out);
    grid.z.forEach((z, j) => {
      const want = Array.from(delays).reduce((s, d) => s + direct(d, z), 0);
      if (want === 0) expect(out[j], `z=${z}`).toBe(0);
      else expect(Math.abs((out[j] as number) / want - 1), `z=${z}`).toBeLessThan(1e-7);
    });
  });

  it("gives nothing where the DCO would have formed before the first star formation", () => {
    const tooOld = ageMyr(0, C) - firstSf + 1;
    const out = new Float64Array(grid.z.length);
    accumulateMergerRate(Float64Array.of(tooOld), [0], table, grid, 1, out);
    expect(out.every((v) => v === 0)).toBe(true);
    // 12 Gyr: merges at z = 0 but not at z = 1, since it would have formed before z = 10.
    const out2 = new Float64Array(grid.z.length);
    accumulateMergerRate(Float64Array.of(12000), [0], table, grid, 1, out2);
    expect(out2[0]).toBeGreaterThan(0);
    expect(out2[100]).toBe(0);
  });

  it("scales each contribution, records each row's value at z = 0, and only adds the given rows", () => {
    const delays = Float64Array.of(100, 200, 300);
    const out = new Float64Array(grid.z.length);
    const z0 = new Float64Array(3).fill(-1);
    accumulateMergerRate(delays, [0, 2], table, grid, 1e-6, out, z0);
    expect(z0[0]).toBeCloseTo(direct(100, 0) * 1e-6, 15);
    expect(z0[1]).toBe(-1);
    expect(z0[2]).toBeCloseTo(direct(300, 0) * 1e-6, 15);
    expect(out[0]).toBeCloseTo((z0[0] as number) + (z0[2] as number), 15);
  });

  it("skips delays that are NaN, negative or infinite, and makes every sum NaN for a NaN scale", () => {
    const out = new Float64Array(grid.z.length);
    const z0 = new Float64Array(3).fill(-1);
    accumulateMergerRate(Float64Array.of(Number.NaN, -5, Infinity), [0, 1, 2], table, grid, 1, out, z0);
    expect(out.every((v) => v === 0)).toBe(true);
    expect(Array.from(z0)).toEqual([0, 0, 0]);
    const nan = new Float64Array(grid.z.length);
    accumulateMergerRate(Float64Array.of(), [], table, grid, Number.NaN, nan);
    expect(nan.every((v) => Number.isNaN(v))).toBe(true);
  });

  it("tabulates the rate from the first star formation to today, with the exact values at both ends", () => {
    expect(table.startMyr).toBe(firstSf);
    expect(table.values[0]).toBe(sfr(10));
    expect(table.values[table.values.length - 1]).toBe(sfr(0));
    expect(table.startMyr + (table.values.length - 1) * table.stepMyr).toBeCloseTo(ageMyr(0, C), 6);
  });
});
