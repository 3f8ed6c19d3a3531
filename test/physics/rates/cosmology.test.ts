import { describe, expect, it } from "vitest";
import { ageMyr, hubbleTimeMyr, redshiftAtAgeMyr } from "../../../src/physics/rates/cosmology.js";
import { RATES_EXPECTED } from "./expected.js";

const F = RATES_EXPECTED.functions;

describe("cosmology (flat Lambda-CDM without radiation)", () => {
  it("gives the Hubble time 1/H0 = 977.792 Gyr / H0 (Mpc in km over a Julian Myr)", () => {
    expect(hubbleTimeMyr(100)).toBeCloseTo(9777.922216807891, 9);
    expect(hubbleTimeMyr(67.66) / hubbleTimeMyr(100)).toBeCloseTo(100 / 67.66, 14);
  });

  it("matches the ages the reference integrates numerically, for Planck 2018, another Lambda-CDM and Einstein-de Sitter", () => {
    for (const [name, cosmology] of Object.entries(F.cosmologies)) {
      F.z.forEach((z, i) => {
        const want = (F.age_myr[name] as number[])[i] as number;
        expect(Math.abs(ageMyr(z, cosmology) / want - 1), `${name} z=${z}`).toBeLessThan(1e-10);
      });
    }
  });

  it("is 13.81 Gyr today for Planck 2018 without radiation (astropy's Planck18 with radiation: 13.79 Gyr)", () => {
    expect(ageMyr(0, { H0: 67.66, omegaM: 0.30966 })).toBeCloseTo(13809.5, 0);
  });

  it("inverts the age exactly enough to recover the redshift", () => {
    for (const cosmology of Object.values(F.cosmologies)) {
      for (const z of [0.001, 0.2, 1, 3.7, 10, 20]) {
        expect(redshiftAtAgeMyr(ageMyr(z, cosmology), cosmology)).toBeCloseTo(z, 10);
      }
    }
  });

  it("has ages that fall as the redshift grows", () => {
    const c = { H0: 67.66, omegaM: 0.30966 };
    for (let z = 0; z < 10; z += 0.5) expect(ageMyr(z + 0.5, c)).toBeLessThan(ageMyr(z, c));
  });
});
