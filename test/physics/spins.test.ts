import { describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import {
  type SupernovaRow,
  bavera2021Spin,
  chiEff,
  chiP,
  compasOrderSpins,
  describeSpinModel,
  firstBornCosTilt,
  orbitalPeriodDays,
  parseSpinModel,
  qin2018Spin,
  seedUniforms,
} from "../../src/physics/spins.js";

// Semi-major axis (Rsol) that gives P = 0.5 d for 10 + 20 Msol with G = 6.6743e-11,
// Msol = 1.98892e30 kg, Rsol = 6.957e8 m: a = (G M P^2 / 4 pi^2)^(1/3) = 8.23813... Rsol.
const A_HALF_DAY = 8.238130741368026;

// Bavera et al. 2021 by hand at M_WR = 10 Msol, P = 0.5 d:
// alpha = -0.059305 / (0.035552 + e^-2.70245) = -0.578061, beta = -0.02696 / (0.011001 + e^-4.20739) = -1.041483,
// log10 P = -0.30103, chi = alpha * 0.0906191 + beta * (-0.30103) = 0.261134.
const CHI_BAVERA_HALF_DAY = 0.26113427621674495;

function sn(partial: Partial<SupernovaRow>): SupernovaRow {
  return {
    time: 5,
    state: 1,
    prevType: 8,
    semiMajorAxisRsol: 100,
    massAtCoreCollapse: 20,
    companionMass: 40,
    inclination: 0,
    ...partial,
  };
}

describe("orbital period and spin-up fits", () => {
  it("gives P = 0.5 d from Kepler's law for the hand-worked orbit", () => {
    expect(orbitalPeriodDays(A_HALF_DAY, 30)).toBeCloseTo(0.5, 12);
  });

  it("gives the hand-worked Bavera et al. 2021 spin at P = 0.5 d, M_WR = 10 Msol", () => {
    expect(bavera2021Spin(0.5, 10)).toBeCloseTo(CHI_BAVERA_HALF_DAY, 12);
  });

  it("clips the Bavera fit to 0 where it goes negative and gives 0 above one day", () => {
    // M_WR = 1, P = 0.1 d: alpha + (-beta) = -0.0742 + 0.0404 < 0 by hand.
    expect(bavera2021Spin(0.1, 1)).toBe(0);
    expect(bavera2021Spin(1.0001, 30)).toBe(0);
    expect(bavera2021Spin(Number.NaN, 30)).toBe(0);
  });

  it("follows the Qin et al. 2018 steps", () => {
    expect(qin2018Spin(0.1)).toBe(1);
    expect(qin2018Spin(0.5)).toBe(1); // log10 0.5 = -0.301 < -0.3
    expect(qin2018Spin(1)).toBeCloseTo(0.5, 15);
    expect(qin2018Spin(10 ** 0.15)).toBeCloseTo(0.25, 12);
    expect(qin2018Spin(2)).toBe(0);
  });
});

describe("tilts, chi_eff and chi_p", () => {
  it("combines two kicks by the spherical law of cosines", () => {
    expect(firstBornCosTilt(0, 0.4, 1.234)).toBeCloseTo(Math.cos(0.4), 15);
    expect(firstBornCosTilt(Math.PI / 2, Math.PI / 2, Math.PI / 2)).toBeCloseTo(0, 15);
    expect(firstBornCosTilt(0.3, 0.5, 0)).toBeCloseTo(Math.cos(0.8), 15);
    expect(firstBornCosTilt(0.3, 0.5, Math.PI)).toBeCloseTo(Math.cos(0.2), 15);
  });

  it("computes chi_eff and chi_p from their definitions", () => {
    // m1 = 30, chi1 = 0.5 at 60 deg; m2 = 10, chi2 = 0.8 at 90 deg.
    expect(chiEff(30, 0.5, Math.PI / 3, 10, 0.8, Math.PI / 2)).toBeCloseTo((30 * 0.25) / 40, 14);
    // q = 1/3: q(4q+3)/(4+3q) = (1/3)(13/3)/5 = 13/45; 13/45 * 0.8 = 0.2311 < 0.5 sin 60 = 0.4330.
    expect(chiP(1 / 3, 0.5, Math.PI / 3, 0.8, Math.PI / 2)).toBeCloseTo(0.5 * Math.sin(Math.PI / 3), 14);
    expect(chiP(1, 0.1, Math.PI / 2, 0.9, Math.PI / 2)).toBeCloseTo(0.9, 14);
  });

  it("treats a zero spin with unknown tilt as no contribution", () => {
    expect(chiEff(30, 0, Number.NaN, 10, 0, Number.NaN)).toBe(0);
    expect(chiP(0.5, 0, Number.NaN, 0, Number.NaN)).toBe(0);
  });
});

describe("SplitMix64 draws", () => {
  it("matches the reference generator's first output for seed 0", () => {
    // splitmix64.c (Vigna) with x = 0 returns 0xE220A8397B1DCDAF first; u = (z >> 11) / 2^53.
    expect(seedUniforms(0n, 1)[0]).toBe(Number(0xe220a8397b1dcdafn >> 11n) / 2 ** 53);
  });

  it("is reproducible per SEED and differs between SEEDs", () => {
    expect(seedUniforms(100317n, 3)).toEqual(seedUniforms(100317n, 3));
    expect(seedUniforms(100317n, 1)[0]).not.toBe(seedUniforms(100318n, 1)[0]);
    for (const u of seedUniforms(123456789n, 50)) expect(u >= 0 && u < 1).toBe(true);
  });
});

describe("spins of one DCO", () => {
  // Star 1 collapses first to a BH; star 2, a helium star (HeHG) at P = 0.5 d, collapses second.
  const bbhHalfDay = {
    seed: 42n,
    type1: 14,
    type2: 14,
    supernovae: [
      sn({ time: 6.2, state: 2, prevType: 8, semiMajorAxisRsol: A_HALF_DAY, massAtCoreCollapse: 10, companionMass: 20, inclination: 0.2 }),
      sn({ time: 4.1, state: 1, prevType: 8, inclination: 0.1 }),
    ],
  };

  it("spins up the second-born BH of a P = 0.5 d helium-star binary (Bavera, default)", () => {
    const s = compasOrderSpins(bbhHalfDay, parseSpinModel(undefined));
    expect(s.firstBorn).toBe(1);
    expect(s.chi1).toBe(0);
    expect(s.chi2).toBeCloseTo(CHI_BAVERA_HALF_DAY, 10);
    expect(s.periodDays).toBeCloseTo(0.5, 12);
    expect(s.tilt2).toBe(0.2);
    const azimuth = 2 * Math.PI * (seedUniforms(42n, 1)[0] as number);
    expect(Math.cos(s.tilt1)).toBeCloseTo(Math.cos(0.1) * Math.cos(0.2) - Math.sin(0.1) * Math.sin(0.2) * Math.cos(azimuth), 14);
  });

  it("gives the Qin et al. 2018 value for the same binary and keeps chi_natal for the first-born", () => {
    const s = compasOrderSpins(bbhHalfDay, parseSpinModel({ name: "qin2018", chiNatal: 0.1 }));
    expect(s.chi2).toBe(1);
    expect(s.chi1).toBe(0.1);
  });

  it("does not spin up a second-born BH whose progenitor was not a helium star", () => {
    const notHe = { ...bbhHalfDay, supernovae: bbhHalfDay.supernovae.map((r) => ({ ...r, prevType: 4 })) };
    const s = compasOrderSpins(notHe, parseSpinModel({ name: "bavera2021", chiNatal: 0.05 }));
    expect(s.chi1).toBe(0.05);
    expect(s.chi2).toBe(0.05);
  });

  it("gives neutron stars zero spin in every model", () => {
    const bhns = { ...bbhHalfDay, type2: 13 };
    for (const model of [{ name: "bavera2021" as const }, { name: "fixed" as const, chi: 0.7 }, { name: "uniform" as const, max: 1 }]) {
      expect(compasOrderSpins(bhns, parseSpinModel(model)).chi2).toBe(0);
    }
  });

  it("reads a state-3 row as star 2's explosion and orders equal times by file order", () => {
    const che = {
      seed: 7n,
      type1: 14,
      type2: 14,
      supernovae: [sn({ time: 7, state: 1, inclination: 0.3 }), sn({ time: 7, state: 3, inclination: 0.6 })],
    };
    const s = compasOrderSpins(che, parseSpinModel(undefined));
    expect(s.firstBorn).toBe(1);
    expect(s.tilt2).toBe(0.6);
  });

  it("draws uniform-model spins from the SEED, in [0, max], reproducibly", () => {
    const model = parseSpinModel({ name: "uniform", max: 0.6 });
    const a = compasOrderSpins(bbhHalfDay, model);
    const draws = seedUniforms(42n, 3);
    expect(a.chi1).toBe(0.6 * (draws[1] as number));
    expect(a.chi2).toBe(0.6 * (draws[2] as number));
    expect(compasOrderSpins(bbhHalfDay, model)).toEqual(a);
  });

  it("reports a SEED without one supernova row per star and leaves its tilts NaN", () => {
    const s = compasOrderSpins({ ...bbhHalfDay, supernovae: [sn({})] }, parseSpinModel(undefined));
    expect(s.problem).toMatch(/SEED 42 has 1 supernova rows/);
    expect(Number.isNaN(s.tilt1) && Number.isNaN(s.tilt2)).toBe(true);
  });
});

describe("spin model options", () => {
  it("applies defaults and records parameters and constants", () => {
    const d = describeSpinModel(parseSpinModel(undefined));
    expect(d.name).toBe("bavera2021");
    expect(d.params).toEqual({ chiNatal: 0 });
    expect(d.constants).toEqual({ Msol_kg: 1.98892e30, G_SI: 6.6743e-11, Rsol_m: 6.957e8, day_s: 86400 });
    expect(describeSpinModel(parseSpinModel({ name: "fixed", chi: 0.3 })).params).toEqual({ chi: 0.3 });
  });

  it("rejects unknown models and out-of-range spins with OPTIONS_INVALID", () => {
    for (const bad of [{ name: "kerr" }, { name: "fixed", chi: 1.5 }, { name: "uniform" }]) {
      let caught: unknown;
      try {
        parseSpinModel(bad as never);
      } catch (e) {
        caught = e;
      }
      expect(isCompasEnsembleError(caught, "OPTIONS_INVALID")).toBe(true);
    }
  });
});
