import { describe, expect, it } from "vitest";
import { MPC3_PER_GPC3, starFormationRate } from "../../../src/physics/rates/sfr.js";
import { RATES_EXPECTED } from "./expected.js";

const F = RATES_EXPECTED.functions;

describe("starFormationRate (Madau & Dickinson 2014 form, Neijssel+19 parameters)", () => {
  it("is a / (1 + c^-d) today: 0.01 / (1 + 2.9^-4.7) Msol/yr/Mpc^3 with the defaults", () => {
    expect(starFormationRate(0, { a: 0.01, b: 2.77, c: 2.9, d: 4.7 })).toBeCloseTo(0.01 / (1 + Math.pow(2.9, -4.7)), 15);
  });

  it("matches the reference at z = 0 .. 10 for the default and another parameter set", () => {
    const sets = { default: { a: 0.01, b: 2.77, c: 2.9, d: 4.7 }, variant: { a: 0.015, b: 2.7, c: 2.9, d: 5.6 } };
    for (const [name, p] of Object.entries(sets)) {
      F.z.forEach((z, i) => {
        const want = F.sfr_msol_yr_mpc3[name as "default"][i] as number;
        expect(Math.abs(starFormationRate(z, p) / want - 1), `${name} z=${z}`).toBeLessThan(1e-12);
      });
    }
  });

  it("peaks near z = 2 with the defaults", () => {
    const p = { a: 0.01, b: 2.77, c: 2.9, d: 4.7 };
    let best = 0;
    for (let z = 0; z <= 10; z += 0.01) if (starFormationRate(z, p) > starFormationRate(best, p)) best = z;
    expect(best).toBeGreaterThan(1.5);
    expect(best).toBeLessThan(2.5);
  });

  it("converts per Mpc^3 to per Gpc^3 with 1e9", () => {
    expect(MPC3_PER_GPC3).toBe(1e9);
  });
});
