import { readFileSync } from "node:fs";

type ByType = Record<"BBH" | "BHNS" | "BNS", number[]>;

/** One options block of rates_expected.json: per-run and per-group values under those options. */
export interface ExpectedBlock {
  options: {
    f_bin: number;
    sfr: number[];
    mssfr: number[];
    H0: number;
    Om: number;
    z_max: number;
    z_step: number;
    z_first_sf: number;
    outer: "drop" | "extend";
  };
  z: number[];
  runs: {
    run_id: string;
    m_rep: number;
    star_forming_mass: number;
    yield_per_msun: Record<string, number>;
    rates: ByType;
    rate_z0: number[];
  }[];
  groups: { theta: number[]; runs: string[]; single: boolean; rates?: ByType; ln_z_edges?: number[] }[];
}

/** The content of test/expected/rates_expected.json. */
export interface RatesExpected {
  hand_value: { bounds: number[]; f_bin: number; m_rep: number };
  functions: {
    z: number[];
    age_myr: Record<string, number[]>;
    cosmologies: Record<string, { H0: number; omegaM: number }>;
    sfr_msol_yr_mpc3: { default: number[]; variant: number[] };
    m_rep: { bounds: [number, number, number]; f_bin: number; m_rep: number }[];
    bin_fraction: { edges: [number, number]; mssfr: [number, number, number]; fractions: number[] }[];
  };
  scenario: {
    run_id: string;
    fixture: string;
    params: { alpha_ce: number; lambda_ce: number; kick_sigma: number; metallicity: number; mass_transfer_fa: number };
    n_systems: number;
    sampling: { imf: string; q: string; m1_min: number; m1_max: number; m2_min: number };
  }[];
  every: { default: number; variant: number };
  default: ExpectedBlock;
  variant: ExpectedBlock;
}

/**
 * Values computed by test/expected/rates_ref.py, an independent numpy/scipy implementation of
 * docs/rates.md (regenerate with `/usr/bin/python3 test/expected/rates_ref.py`).
 */
export const RATES_EXPECTED = JSON.parse(readFileSync(new URL("../../expected/rates_expected.json", import.meta.url), "utf8")) as RatesExpected;

/**
 * Largest |got / want - 1| over the pairs; pairs where both are 0 count as equal, and a zero
 * on one side only counts as a difference of Infinity.
 * @param got - values under test
 * @param want - expected values
 */
export function maxRelativeDifference(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`lengths differ: ${got.length} vs ${want.length}`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i] as number;
    const w = want[i] as number;
    if (g === 0 && w === 0) continue;
    worst = Math.max(worst, w === 0 ? Infinity : Math.abs(g / w - 1));
  }
  return worst;
}

/**
 * Every `every`-th value of a series (how rates_expected.json stores R(z)).
 * @param values - the full series
 * @param every - the stride
 */
export function strided(values: ArrayLike<number>, every: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i += every) out.push(values[i] as number);
  return out;
}
