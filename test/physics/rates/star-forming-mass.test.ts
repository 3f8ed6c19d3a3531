import { describe, expect, it } from "vitest";
import { starFormingMass, starFormingMassPerBinary, starFormingMassProblem } from "../../../src/physics/rates/star-forming-mass.js";
import { RATES_EXPECTED } from "./expected.js";

const DEFAULT_SAMPLING = { imf: "KROUPA", massRatioDistribution: "FLAT", m1Min: 5, m1Max: 150, m2Min: 0.1 };

describe("star-forming mass per binary (Kroupa IMF, flat q, binary fraction)", () => {
  it("is 101.713 Msol for COMPAS's default bounds (5, 150, 0.1) and f_bin 0.7", () => {
    expect(starFormingMassPerBinary({ m1Min: 5, m1Max: 150, m2Min: 0.1 }, 0.7)).toBeCloseTo(101.713, 3);
  });

  it("agrees to 1e-9 with the reference's numerical integration of the IMF for several bounds and binary fractions", () => {
    for (const { bounds, f_bin, m_rep } of RATES_EXPECTED.functions.m_rep) {
      const [m1Min, m1Max, m2Min] = bounds;
      expect(Math.abs(starFormingMassPerBinary({ m1Min, m1Max, m2Min }, f_bin) / m_rep - 1), JSON.stringify(bounds)).toBeLessThan(1e-9);
    }
  });

  it("grows as the sampled box shrinks: fewer of the IMF's binaries are simulated", () => {
    const wide = starFormingMassPerBinary({ m1Min: 5, m1Max: 150, m2Min: 0.1 }, 0.7);
    expect(starFormingMassPerBinary({ m1Min: 8, m1Max: 100, m2Min: 0.5 }, 0.7)).toBeGreaterThan(wide);
  });

  it("scales with the number of binaries for a run", () => {
    const one = starFormingMassPerBinary(DEFAULT_SAMPLING, 0.7);
    expect(starFormingMass(DEFAULT_SAMPLING, 5000, 0.7)).toEqual({ mass: one * 5000, problem: null });
  });

  it("is NaN with the reason for an IMF, mass-ratio distribution or bounds the formula does not cover", () => {
    const cases: [Partial<typeof DEFAULT_SAMPLING>, RegExp][] = [
      [{ imf: "SALPETER" }, /initial-mass-function is SALPETER/],
      [{ massRatioDistribution: "SANA2012" }, /mass-ratio-distribution is SANA2012/],
      [{ m1Min: 0.3 }, /initial-mass-min is 0.3 Msol.*at least 0.5/],
      [{ m1Max: 250 }, /initial-mass-max is 250/],
      [{ m1Max: 4 }, /initial-mass-max is 4/],
      [{ m2Min: 0 }, /minimum-secondary-mass is 0/],
    ];
    for (const [change, reason] of cases) {
      const sampling = { ...DEFAULT_SAMPLING, ...change };
      expect(starFormingMassProblem(sampling), JSON.stringify(change)).toMatch(reason);
      const { mass, problem } = starFormingMass(sampling, 1000, 0.7);
      expect(mass).toBeNaN();
      expect(problem).toMatch(reason);
    }
  });

  it("accepts COMPAS's spelling of the enums in any case and m1_min exactly at the 0.5 Msol break", () => {
    expect(starFormingMassProblem({ ...DEFAULT_SAMPLING, imf: "kroupa", massRatioDistribution: "Flat", m1Min: 0.5 })).toBeNull();
  });
});
