import { z } from "zod";
import { CompasEnsembleError } from "../../errors.js";

// Every default below is the one of docs/rates.md, which follows COMPAS's own
// post-processing (FastCosmicIntegration.py) and Neijssel et al. 2019 (MNRAS 490, 3740).

const finite = z.number().refine(Number.isFinite, "must be a finite number");
const positive = finite.refine((v) => v > 0, "must be greater than 0");
const nonNegative = finite.refine((v) => v >= 0, "must not be negative");

/** Star-formation-rate density of Madau & Dickinson 2014 (Eq. 15) with Neijssel+19's fit. */
const SfrSchema = z
  .object({
    /** Normalisation, Msol yr^-1 Mpc^-3. */
    a: positive.default(0.01),
    b: nonNegative.default(2.77),
    c: positive.default(2.9),
    d: nonNegative.default(4.7),
  })
  .strict();

/** Log-normal metallicity distribution of Neijssel+19 (Sec. 3.3), no skew, constant width. */
const MssfrSchema = z
  .object({
    /** Mean metallicity at z = 0. */
    mu0: positive.default(0.035),
    /** Redshift evolution of the mean: mean(z) = mu0 10^(muz z). Usually negative. */
    muz: finite.default(-0.23),
    /** Width of the distribution in ln Z. */
    sigma0: positive.default(0.39),
  })
  .strict();

/** Flat Lambda-CDM without radiation (docs/rates.md, "Cosmology"). */
const CosmologySchema = z
  .object({
    /** Hubble constant, km s^-1 Mpc^-1 (Planck 2018). */
    H0: positive.default(67.66),
    /** Matter density today; dark energy is 1 - omegaM. */
    omegaM: positive.refine((v) => v <= 1, "must be at most 1 (flat universe)").default(0.30966),
  })
  .strict();

/** Which DCOs count towards a rate (COMPAS's default mask). */
const SelectionSchema = z
  .object({
    /** Only DCOs with COMPAS's Merges_Hubble_Time = 1. */
    mergesHubbleTime: z.boolean().default(true),
    /** Leave out DCOs flagged `pessimistic_ce` (optimistic CE or immediate RLOF after CE). */
    excludePessimisticCe: z.boolean().default(true),
  })
  .strict();

/**
 * Options of the star-forming mass and merger-rate computations (docs/rates.md). Every field
 * is optional; the parsed value has the defaults of docs/rates.md filled in.
 */
export const RatesOptionsSchema = z
  .object({
    /** Compute merger rates R(z) (false: star-forming mass and yields per Msol only). */
    enabled: z.boolean().default(true),
    /** Binary fraction f_bin in (0, 1] (FastCosmicIntegration's default 0.7). */
    fBin: positive.refine((v) => v <= 1, "must be at most 1").default(0.7),
    sfr: SfrSchema.prefault({}),
    mssfr: MssfrSchema.prefault({}),
    cosmology: CosmologySchema.prefault({}),
    /** Largest redshift of the output grid. */
    zMax: positive.default(10),
    /** Step of the output grid: 1/k for a whole k that is a multiple of 10 and at least 100. */
    zStep: positive.default(0.01),
    /** Redshift of the first star formation: nothing forms earlier. */
    zFirstSf: positive.default(10),
    /**
     * Outer edges of the metallicity bins of a group: "drop" (the group's lowest and highest
     * ln Z, star formation outside yields nothing, COMPAS's assumption) or "extend" (the first
     * and last bins take all lower and higher metallicities).
     */
    outerZBins: z.enum(["drop", "extend"]).default("drop"),
    /** Give a group with one metallicity its single-metallicity rate instead of leaving it out. */
    combineSingleMetallicity: z.boolean().default(false),
    selection: SelectionSchema.prefault({}),
  })
  .strict();

/** What a caller may pass: any subset of the options, the rest take their defaults. */
export type RatesOptions = z.input<typeof RatesOptionsSchema>;

/** The options with every default filled in, as the computations use them. */
export type ResolvedRatesOptions = z.output<typeof RatesOptionsSchema>;

/** The defaults of docs/rates.md, resolved. */
export const DEFAULT_RATES_OPTIONS: Readonly<ResolvedRatesOptions> = Object.freeze(RatesOptionsSchema.parse({}));

/**
 * Names under which a caller knows the options (e.g. CLI flags), by option path. A path not
 * listed is shown as `rates.<path>`.
 */
export type RatesOptionNames = Readonly<Record<string, string>>;

/**
 * Validates rates options and fills in the defaults. A bad value fails with one sentence
 * naming the option (as `names` calls it, e.g. `--fbin`), what is wrong and the default.
 * @param input - options, possibly partial
 * @param names - how to name each option path in the message (e.g. `{ fBin: "--fbin" }`)
 */
export function resolveRatesOptions(input: RatesOptions = {}, names: RatesOptionNames = {}): ResolvedRatesOptions {
  const parsed = RatesOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue === undefined ? "" : issue.path.map(String).join(".");
    if (issue?.code === "unrecognized_keys") {
      throw new CompasEnsembleError(
        "OPTIONS_INVALID",
        `${path === "" ? "rates" : nameOf(path, names)} has unknown option(s) ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}.`,
        { cause: parsed.error, hint: "See docs/rates.md for the rates options and their names." },
      );
    }
    const name = nameOf(path, names);
    const value = issue === undefined ? undefined : valueAt(input, issue.path);
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `${name} ${value === undefined ? "" : `= ${JSON.stringify(value)} `}is invalid: ${issue?.message ?? "bad value"}.`,
      { cause: parsed.error, hint: `See docs/rates.md for the meaning and default of ${name}.` },
    );
  }
  const options = parsed.data;
  zGridSize(options, names);
  return options;
}

function nameOf(path: string, names: RatesOptionNames): string {
  if (names[path] !== undefined) return names[path];
  const parent = path.includes(".") ? path.slice(0, path.indexOf(".")) : undefined;
  if (parent !== undefined && names[parent] !== undefined) return `${names[parent]} (${path.slice(parent.length + 1)})`;
  return `rates.${path}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let at: unknown = input;
  for (const key of path) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/** Tolerance when checking that a decimal step is 1/k or a maximum is a multiple of the step. */
const GRID_TOLERANCE = 1e-9;

/**
 * Steps per unit redshift (k = 1/zStep) and number of steps to zMax (m = zMax k) of the output
 * grid, checked: the grid z_i = i / k must hold 0, 0.2, 0.5, 1, 2, 4 exactly, which needs k to
 * be a whole multiple of 10; k >= 100 keeps the step at most 0.01 (docs/rates.md, "Redshift
 * grid"); zMax must be a whole number of steps.
 * @param options - resolved options
 * @param names - how to name zStep and zMax in a message
 */
export function zGridSize(options: Pick<ResolvedRatesOptions, "zStep" | "zMax">, names: RatesOptionNames = {}): { k: number; m: number } {
  const k = Math.round(1 / options.zStep);
  if (!(k >= 100 && k % 10 === 0 && Math.abs(k * options.zStep - 1) <= GRID_TOLERANCE)) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `${nameOf("zStep", names)} = ${options.zStep} is invalid: the redshift step must be at most 0.01 and 1/k for a whole k that is a multiple of 10.`,
      { hint: "Use 0.01 (the default), 0.005, 0.004, 0.002 or 0.001, so that the grid holds z = 0.2, 0.5, 1, 2, 4 exactly." },
    );
  }
  const m = Math.round(options.zMax * k);
  if (!(m >= 1 && Math.abs(m - options.zMax * k) <= GRID_TOLERANCE * Math.max(1, m))) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `${nameOf("zMax", names)} = ${options.zMax} is invalid: it must be a whole number of redshift steps (${options.zStep}).`,
      { hint: "Use e.g. 10 (the default) or any multiple of the step." },
    );
  }
  return { k, m };
}
