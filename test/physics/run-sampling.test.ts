import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { extractDcos } from "../../src/physics/dco.js";
import { runStarFormingMass } from "../../src/physics/run-sampling.js";
import { mergerRates } from "../../src/physics/rates/run-rates.js";
import { maxRelativeDifference, RATES_EXPECTED, strided } from "./rates/expected.js";
import { FIXTURES, gunzipFixture, makeTempDir, python } from "../support/compas-fixtures.js";

const tmp = makeTempDir("run-sampling-");
const paths: Record<string, string> = {};

/** A copy of the 5-binary fixture with its Run_Details changed by h5py. */
function edited(name: string, change: string): string {
  const path = join(tmp.dir, `${name}.h5`);
  copyFileSync(paths.detailed as string, path);
  python(`import h5py, numpy, sys\nf = h5py.File(sys.argv[1], "r+")\n${change}\nf.close()`, [path]);
  return path;
}

beforeAll(async () => {
  for (const name of ["massBounds", "z0142", "channels", "detailed"] as const) paths[name] = await gunzipFixture(FIXTURES[name], tmp.dir);
}, 300_000);
afterAll(() => tmp.cleanup());

function expectedRun(fixture: string) {
  const i = RATES_EXPECTED.scenario.findIndex((s) => s.fixture === fixture);
  return RATES_EXPECTED.default.runs[i] as (typeof RATES_EXPECTED.default.runs)[number];
}

describe("runStarFormingMass", () => {
  it("reads the mass bounds from the run's own Run_Details (8, 100, 0.5 Msol) and matches the reference to 1e-9", async () => {
    const r = await runStarFormingMass(paths.massBounds as string);
    expect(r.sampling).toEqual({ imf: "KROUPA", massRatioDistribution: "FLAT", m1Min: 8, m1Max: 100, m2Min: 0.5 });
    expect(r.nSystems).toBe(5000);
    expect(r.problem).toBeNull();
    const want = expectedRun(FIXTURES.massBounds);
    expect(Math.abs(r.starFormingMass / want.star_forming_mass - 1)).toBeLessThan(1e-9);
    expect(Math.abs(r.perBinary / want.m_rep - 1)).toBeLessThan(1e-9);
  });

  it("gives 101.713 Msol per binary for COMPAS's default bounds, times Objects-Created or the count given", async () => {
    const r = await runStarFormingMass(paths.z0142 as string);
    expect(r.perBinary).toBeCloseTo(101.713, 3);
    expect(r.starFormingMass).toBeCloseTo(r.perBinary * 10000, 6);
    const half = await runStarFormingMass(paths.z0142 as string, { nSystems: 5000, fBin: 1 });
    expect(half.starFormingMass).toBeCloseTo(half.perBinary * 5000, 6);
    expect(half.perBinary).toBeLessThan(r.perBinary);
  });

  it("fails with METADATA_INVALID naming the file and what is missing when Run_Details or a bound is absent", async () => {
    const noDetails = edited("no-run-details", 'del f["Run_Details"]');
    const err = await runStarFormingMass(noDetails).catch((e) => e);
    expect(isCompasEnsembleError(err, "METADATA_INVALID")).toBe(true);
    expect(err.message).toBe(`COMPAS file ${noDetails} has no Run_Details group, so its star-forming mass cannot be computed.`);
    const noMin = edited("no-mass-min", 'del f["Run_Details/initial-mass-min"]');
    const err2 = await runStarFormingMass(noMin).catch((e) => e);
    expect(isCompasEnsembleError(err2, "METADATA_INVALID")).toBe(true);
    expect(err2.message).toContain("has no initial-mass-min in its Run_Details");
  });

  it("returns NaN with the reason for a run sampled with another IMF", async () => {
    const salpeter = edited("salpeter", 'del f["Run_Details/initial-mass-function"]\nf["Run_Details"].create_dataset("initial-mass-function", data=numpy.array([b"\'SALPETER\'"], dtype="S11"))');
    const r = await runStarFormingMass(salpeter);
    expect(r.starFormingMass).toBeNaN();
    expect(r.problem).toMatch(/initial-mass-function is SALPETER/);
  });

  it("refuses a binary fraction outside (0, 1] naming it", async () => {
    const err = await runStarFormingMass(paths.z0142 as string, { fBin: 1.5 }).catch((e) => e);
    expect(isCompasEnsembleError(err, "OPTIONS_INVALID")).toBe(true);
    expect(err.message).toMatch(/^fBin = 1\.5 is invalid/);
  });
});

describe("rates of one run without building a dataset", () => {
  it("mergerRates on extractDcos of a real run and its runStarFormingMass agree with the reference within 1 %", async () => {
    const { table } = await extractDcos(paths.channels as string);
    const { starFormingMass } = await runStarFormingMass(paths.channels as string);
    const r = mergerRates(table, starFormingMass);
    const want = expectedRun(FIXTURES.channels);
    for (const type of ["BBH", "BHNS", "BNS"] as const) {
      expect(maxRelativeDifference(strided(r[type], RATES_EXPECTED.every.default), want.rates[type]), type).toBeLessThan(0.01);
    }
    expect(maxRelativeDifference(r.rateZ0, want.rate_z0)).toBeLessThan(0.01);
  });
});
