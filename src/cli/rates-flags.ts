import { CompasEnsembleError } from "../errors.js";
import { resolveRatesOptions, type RatesOptionNames, type RatesOptions, type ResolvedRatesOptions } from "../physics/rates/options.js";

/** The rates flags of `compas-ensemble extract`, as text (commander gives strings). */
export interface RatesFlags {
  /** `--fbin <f>` */
  fbin?: string;
  /** `--sfr a,b,c,d` */
  sfr?: string;
  /** `--mssfr mu0,muz,sigma0` */
  mssfr?: string;
  /** `--z-max <z>` */
  zMax?: string;
  /** `--z-step <dz>` */
  zStep?: string;
  /** `--outer-z-bins drop|extend` */
  outerZBins?: string;
  /** false with `--no-rates` */
  rates?: boolean;
}

/** How validation messages name each option: by the flag that sets it. */
export const RATES_FLAG_NAMES: RatesOptionNames = {
  enabled: "--no-rates",
  fBin: "--fbin",
  sfr: "--sfr",
  mssfr: "--mssfr",
  zMax: "--z-max",
  zStep: "--z-step",
  outerZBins: "--outer-z-bins",
};

/**
 * Turns the extract command's rates flags into validated rates options (defaults of
 * docs/rates.md for flags not given). A value that is not a number, a list of the wrong
 * length, or a value out of range fails with OPTIONS_INVALID in one sentence naming the flag.
 * @param flags - the flags as given
 */
export function parseRatesFlags(flags: RatesFlags): ResolvedRatesOptions {
  const options: RatesOptions = {};
  if (flags.rates === false) options.enabled = false;
  if (flags.fbin !== undefined) options.fBin = number(flags.fbin, "--fbin");
  if (flags.sfr !== undefined) {
    const [a, b, c, d] = list(flags.sfr, "--sfr", ["a", "b", "c", "d"]);
    options.sfr = { a, b, c, d } as { a: number; b: number; c: number; d: number };
  }
  if (flags.mssfr !== undefined) {
    const [mu0, muz, sigma0] = list(flags.mssfr, "--mssfr", ["mu0", "muz", "sigma0"]);
    options.mssfr = { mu0, muz, sigma0 } as { mu0: number; muz: number; sigma0: number };
  }
  if (flags.zMax !== undefined) options.zMax = number(flags.zMax, "--z-max");
  if (flags.zStep !== undefined) options.zStep = number(flags.zStep, "--z-step");
  if (flags.outerZBins !== undefined) {
    const mode = flags.outerZBins.trim().toLowerCase();
    if (mode !== "drop" && mode !== "extend") {
      throw new CompasEnsembleError("OPTIONS_INVALID", `--outer-z-bins ${JSON.stringify(flags.outerZBins)} is not drop or extend.`, {
        hint: "drop: star formation outside a group's metallicity range yields nothing (COMPAS's assumption); extend: the outer bins take it.",
      });
    }
    options.outerZBins = mode;
  }
  return resolveRatesOptions(options, RATES_FLAG_NAMES);
}

function number(text: string, flag: string): number {
  const value = text.trim() === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `${flag} ${JSON.stringify(text)} is not a number.`, {
      hint: `Give ${flag} a plain number, e.g. ${flag} 0.7 (see docs/rates.md).`,
    });
  }
  return value;
}

function list(text: string, flag: string, names: readonly string[]): number[] {
  const parts = text.split(",");
  if (parts.length !== names.length) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `${flag} ${JSON.stringify(text)} must be ${names.length} comma-separated numbers (${names.join(",")}).`,
      { hint: `For example ${flag} ${flag === "--sfr" ? "0.01,2.77,2.90,4.70" : "0.035,-0.23,0.39"} (the defaults, docs/rates.md).` },
    );
  }
  return parts.map((p, i) => number(p, `${flag} (${names[i]})`));
}
