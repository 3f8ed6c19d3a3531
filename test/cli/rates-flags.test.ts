import { describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { parseRatesFlags } from "../../src/cli/rates-flags.js";
import { DEFAULT_RATES_OPTIONS } from "../../src/physics/rates/options.js";

function message(flags: Parameters<typeof parseRatesFlags>[0]): string {
  try {
    parseRatesFlags(flags);
  } catch (err) {
    expect(isCompasEnsembleError(err, "OPTIONS_INVALID")).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`no error for ${JSON.stringify(flags)}`);
}

describe("parseRatesFlags (extract's rates flags)", () => {
  it("gives the defaults of docs/rates.md without flags (commander's --no-rates default is rates: true)", () => {
    expect(parseRatesFlags({})).toEqual(DEFAULT_RATES_OPTIONS);
    expect(parseRatesFlags({ rates: true })).toEqual(DEFAULT_RATES_OPTIONS);
  });

  it("turns every flag into its option", () => {
    const o = parseRatesFlags({
      fbin: "0.5",
      sfr: "0.015, 2.7,2.9,5.6",
      mssfr: "0.025,-0.15,0.5",
      zMax: "8",
      zStep: "0.005",
      outerZBins: "Extend",
      rates: false,
    });
    expect(o).toMatchObject({
      enabled: false,
      fBin: 0.5,
      sfr: { a: 0.015, b: 2.7, c: 2.9, d: 5.6 },
      mssfr: { mu0: 0.025, muz: -0.15, sigma0: 0.5 },
      zMax: 8,
      zStep: 0.005,
      outerZBins: "extend",
    });
  });

  it("answers a non-numeric, negative or malformed value with one sentence naming the flag", () => {
    expect(message({ fbin: "abc" })).toBe('--fbin "abc" is not a number.');
    expect(message({ fbin: "" })).toBe('--fbin "" is not a number.');
    expect(message({ fbin: "-0.2" })).toBe("--fbin = -0.2 is invalid: must be greater than 0.");
    expect(message({ sfr: "0.01,2.77,2.9" })).toBe('--sfr "0.01,2.77,2.9" must be 4 comma-separated numbers (a,b,c,d).');
    expect(message({ sfr: "0.01,x,2.9,4.7" })).toBe('--sfr (b) "x" is not a number.');
    expect(message({ sfr: "-0.01,2.77,2.9,4.7" })).toBe("--sfr (a) = -0.01 is invalid: must be greater than 0.");
    expect(message({ mssfr: "0.035,-0.23,-0.39" })).toBe("--mssfr (sigma0) = -0.39 is invalid: must be greater than 0.");
    expect(message({ zMax: "-1" })).toBe("--z-max = -1 is invalid: must be greater than 0.");
    expect(message({ zStep: "0.02" })).toMatch(/^--z-step = 0\.02 is invalid: the redshift step must be at most 0\.01/);
    expect(message({ outerZBins: "both" })).toBe('--outer-z-bins "both" is not drop or extend.');
  });
});
