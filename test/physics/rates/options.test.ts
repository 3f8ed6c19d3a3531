import { describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../../src/errors.js";
import { DEFAULT_RATES_OPTIONS, resolveRatesOptions, zGridSize } from "../../../src/physics/rates/options.js";

describe("RatesOptions", () => {
  it("defaults to the values of docs/rates.md", () => {
    expect(DEFAULT_RATES_OPTIONS).toEqual({
      enabled: true,
      fBin: 0.7,
      sfr: { a: 0.01, b: 2.77, c: 2.9, d: 4.7 },
      mssfr: { mu0: 0.035, muz: -0.23, sigma0: 0.39 },
      cosmology: { H0: 67.66, omegaM: 0.30966 },
      zMax: 10,
      zStep: 0.01,
      zFirstSf: 10,
      outerZBins: "drop",
      combineSingleMetallicity: false,
      selection: { mergesHubbleTime: true, excludePessimisticCe: true },
    });
  });

  it("fills in the defaults around what is given, nested objects included", () => {
    const o = resolveRatesOptions({ fBin: 0.5, sfr: { a: 0.02 }, mssfr: { muz: -0.1 } });
    expect(o.fBin).toBe(0.5);
    expect(o.sfr).toEqual({ a: 0.02, b: 2.77, c: 2.9, d: 4.7 });
    expect(o.mssfr).toEqual({ mu0: 0.035, muz: -0.1, sigma0: 0.39 });
  });

  it("rejects bad values with one sentence naming the option (or the caller's flag for it)", () => {
    const cases: [object, RegExp][] = [
      [{ fBin: -0.5 }, /^rates\.fBin = -0\.5 is invalid: must be greater than 0\.$/],
      [{ fBin: 1.5 }, /^rates\.fBin = 1\.5 is invalid: must be at most 1\.$/],
      [{ sfr: { b: -1 } }, /^rates\.sfr\.b = -1 is invalid: must not be negative\.$/],
      [{ mssfr: { sigma0: 0 } }, /^rates\.mssfr\.sigma0 = 0 is invalid/],
      [{ cosmology: { omegaM: 1.2 } }, /^rates\.cosmology\.omegaM = 1\.2 is invalid/],
      [{ outerZBins: "both" }, /^rates\.outerZBins = "both" is invalid/],
      [{ zMax: Number.NaN }, /^rates\.zMax/],
      [{ unknown: 1 }, /^rates has unknown option\(s\) "unknown"\.$/],
      [{ sfr: { e: 1 } }, /^rates\.sfr has unknown option\(s\) "e"\.$/],
    ];
    for (const [input, message] of cases) {
      const err = (() => {
        try {
          resolveRatesOptions(input as never);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(isCompasEnsembleError(err, "OPTIONS_INVALID"), JSON.stringify(input)).toBe(true);
      expect((err as Error).message, JSON.stringify(input)).toMatch(message);
    }
    expect(() => resolveRatesOptions({ fBin: 0 }, { fBin: "--fbin" })).toThrow(/^--fbin = 0 is invalid/);
    expect(() => resolveRatesOptions({ sfr: { d: -2 } }, { sfr: "--sfr" })).toThrow(/^--sfr \(d\) = -2 is invalid/);
  });

  it("takes redshift steps of 1/k with k a multiple of 10 and at least 100, and a maximum that is a whole number of steps", () => {
    expect(zGridSize({ zStep: 0.01, zMax: 10 })).toEqual({ k: 100, m: 1000 });
    expect(zGridSize({ zStep: 0.005, zMax: 8 })).toEqual({ k: 200, m: 1600 });
    expect(zGridSize({ zStep: 0.004, zMax: 10 })).toEqual({ k: 250, m: 2500 });
    expect(zGridSize({ zStep: 0.001, zMax: 0.5 })).toEqual({ k: 1000, m: 500 });
    for (const zStep of [0.02, 0.003, 0.1, 0.0015]) {
      expect(() => resolveRatesOptions({ zStep }, { zStep: "--z-step" }), String(zStep)).toThrow(/^--z-step = .* is invalid: the redshift step must be at most 0\.01/);
    }
    expect(() => resolveRatesOptions({ zMax: 10.005 }, { zMax: "--z-max" })).toThrow(/^--z-max = 10\.005 is invalid: it must be a whole number of redshift steps/);
  });
});
