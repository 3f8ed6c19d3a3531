import { describe, expect, it } from "vitest";
import {
  erfc,
  LN_Z_RANGE,
  lnZLocation,
  metallicityBinFraction,
  metallicityBinFractions,
  metallicityBins,
  standardNormalMass,
} from "../../../src/physics/rates/mssfr.js";
import { RATES_EXPECTED } from "./expected.js";

const NEIJSSEL = { mu0: 0.035, muz: -0.23, sigma0: 0.39 };

describe("erfc and the normal distribution", () => {
  it("matches tabulated erfc values (scipy.special.erfc) on both sides of the series/continued-fraction switch", () => {
    const table: [number, number][] = [
      [0, 1],
      [0.5, 0.4795001221869535],
      [1, 0.15729920705028516],
      [2.4999, 0.0004071699003334512],
      [2.5, 0.00040695201744495886],
      [3, 2.2090496998585445e-5],
      [5, 1.5374597944280347e-12],
      [10, 2.0884875837625446e-45],
      [-1, 1.8427007929497148],
    ];
    for (const [x, want] of table) expect(Math.abs(erfc(x) / want - 1), `x=${x}`).toBeLessThan(1e-12);
    expect(erfc(Infinity)).toBe(0);
    expect(erfc(-Infinity)).toBe(2);
    expect(erfc(Number.NaN)).toBeNaN();
  });

  it("gives the mass of a normal interval without cancellation in the tails", () => {
    expect(standardNormalMass(-Infinity, Infinity)).toBe(1);
    expect(standardNormalMass(-1, 1)).toBeCloseTo(0.6826894921370859, 14);
    // scipy.stats.norm.sf(8) - norm.sf(9)
    expect(Math.abs(standardNormalMass(8, 9) / 6.219831985865787e-16 - 1)).toBeLessThan(1e-10);
    expect(standardNormalMass(-9, -8)).toBe(standardNormalMass(8, 9));
  });
});

describe("metallicity-specific star formation (Neijssel et al. 2019 log-normal)", () => {
  it("puts the mean metallicity at mu0 10^(muz z): location ln(mean) - sigma^2/2", () => {
    for (const z of [0, 1, 3]) {
      const mean = 0.035 * Math.pow(10, -0.23 * z);
      expect(lnZLocation(z, NEIJSSEL)).toBeCloseTo(Math.log(mean) - 0.39 ** 2 / 2, 14);
    }
  });

  it("matches the reference's quad integration of the bin fractions, including clipped and empty bins", () => {
    for (const { edges, mssfr, fractions } of RATES_EXPECTED.functions.bin_fraction) {
      const [mu0, muz, sigma0] = mssfr;
      RATES_EXPECTED.functions.z.forEach((z, i) => {
        const got = metallicityBinFraction(z, edges[0], edges[1], { mu0, muz, sigma0 });
        const want = fractions[i] as number;
        if (want === 0) expect(got, `${edges} z=${z}`).toBe(0);
        else expect(Math.abs(got / want - 1), `${edges} z=${z}`).toBeLessThan(1e-7);
      });
    }
  });

  it("makes one bin per distinct metallicity, edges half way in ln Z, outer edges at the extremes (drop) or the range ends (extend)", () => {
    const zs = [0.02, 1e-4, 0.001, 1e-4];
    const drop = metallicityBins(zs, "drop");
    expect(Array.from(drop.lnZ)).toEqual([Math.log(1e-4), Math.log(0.001), Math.log(0.02)].sort((a, b) => a - b));
    expect(Array.from(drop.edges)).toEqual([
      Math.log(1e-4),
      (Math.log(1e-4) + Math.log(0.001)) / 2,
      (Math.log(0.001) + Math.log(0.02)) / 2,
      Math.log(0.02),
    ]);
    const extend = metallicityBins(zs, "extend");
    expect(extend.edges[0]).toBe(LN_Z_RANGE[0]);
    expect(extend.edges[3]).toBe(LN_Z_RANGE[1]);
  });

  it("shares out all star formation when the outer bins extend (fractions sum to 1), and less when they drop", () => {
    const zs = [1e-4, 5e-4, 0.002, 0.0142];
    for (const z of [0, 1, 4, 9]) {
      const extend = metallicityBinFractions(z, metallicityBins(zs, "extend").edges, NEIJSSEL);
      expect(extend.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      const drop = metallicityBinFractions(z, metallicityBins(zs, "drop").edges, NEIJSSEL);
      expect(drop.reduce((a, b) => a + b, 0)).toBeLessThan(1);
    }
  });

  it("moves star formation to lower metallicity at higher redshift", () => {
    const { edges } = metallicityBins([1e-4, 0.0142], "extend");
    const low = (z: number) => metallicityBinFractions(z, edges, NEIJSSEL)[0] as number;
    expect(low(0)).toBeLessThan(low(2));
    expect(low(2)).toBeLessThan(low(6));
  });
});
