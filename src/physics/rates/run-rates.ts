/**
 * Merger rates R(z) of one run's DCOs, all star formation at the run's metallicity
 * (docs/rates.md, "Merger rate of a run"; FastCosmicIntegration.py's branch for a file with
 * one metallicity).
 */
import { metallicityBinFraction } from "./mssfr.js";
import { accumulateMergerRate, formationRateTable, redshiftGrid, type FormationRateTable, type RedshiftGrid } from "./merger-rate.js";
import { resolveRatesOptions, type RatesOptions, type ResolvedRatesOptions } from "./options.js";
import { MPC3_PER_GPC3, starFormationRate } from "./sfr.js";

/** DCO types that get a rate, in the order they are written. */
export const RATE_DCO_TYPES = ["BBH", "BHNS", "BNS"] as const;

/** One DCO type with a rate. */
export type RateDcoType = (typeof RATE_DCO_TYPES)[number];

/** The DCO columns a rate needs (a DcoTable has them all). */
export interface RateDcos {
  length: number;
  /** "BBH", "BHNS" or "BNS" (BHNS covers both orders). */
  type: readonly string[];
  /** t_form + t_coal, Myr. */
  t_delay: ArrayLike<number>;
  /** COMPAS's Merges_Hubble_Time flag, 0/1. */
  merges_hubble_time: ArrayLike<number>;
  /** 1 when the binary had an optimistic CE or immediate RLOF after CE. */
  pessimistic_ce: ArrayLike<number>;
}

/** One rate per grid redshift for each DCO type, Gpc^-3 yr^-1. */
export type RatesByType = Record<RateDcoType, Float64Array>;

/** Result of {@link mergerRates}. */
export interface MergerRates extends RatesByType {
  /** The redshift grid the rates are given on. */
  z: Float64Array;
  /** Per DCO: its contribution R_i(0) to the rate of its type today; 0 outside the selection. */
  rateZ0: Float64Array;
}

/**
 * Everything the rate computations share for one set of options: the resolved options, the
 * output grid and formation-rate tables (the plain SFR, and SFR times each metallicity bin's
 * fraction, built on first use and kept).
 */
export interface RatesContext {
  options: ResolvedRatesOptions;
  grid: RedshiftGrid;
  /** SFR(z) in Msol yr^-1 Gpc^-3 over cosmic time. */
  sfrTable: FormationRateTable;
  /**
   * SFR(z) p(z) in Msol yr^-1 Gpc^-3, p the fraction of star formation with ln Z in [lo, hi].
   * @param lo - lower ln Z edge
   * @param hi - upper ln Z edge
   */
  binTable(lo: number, hi: number): FormationRateTable;
}

/**
 * Builds the shared grid and tables for a set of rates options (validated, defaults filled in).
 * @param options - rates options
 */
export function ratesContext(options: RatesOptions = {}): RatesContext {
  const resolved = resolveRatesOptions(options);
  const { cosmology, sfr, mssfr, zFirstSf } = resolved;
  const sfrGpc = (z: number) => starFormationRate(z, sfr) * MPC3_PER_GPC3;
  const cache = new Map<string, FormationRateTable>();
  return {
    options: resolved,
    grid: redshiftGrid(resolved),
    sfrTable: formationRateTable(sfrGpc, cosmology, zFirstSf),
    binTable(lo, hi) {
      const key = `${lo}|${hi}`;
      let table = cache.get(key);
      if (table === undefined) {
        table = formationRateTable((z) => sfrGpc(z) * metallicityBinFraction(z, lo, hi, mssfr), cosmology, zFirstSf);
        cache.set(key, table);
      }
      return table;
    },
  };
}

/**
 * The rows of `dcos` each rate counts, by type: the type itself, and (by default) COMPAS's
 * Merges_Hubble_Time = 1 and no pessimistic-CE flag.
 * @param dcos - the DCOs
 * @param selection - which cuts apply
 */
export function selectRateRows(dcos: RateDcos, selection: ResolvedRatesOptions["selection"]): Record<RateDcoType, Int32Array> {
  const rows: Record<RateDcoType, number[]> = { BBH: [], BHNS: [], BNS: [] };
  for (let i = 0; i < dcos.length; i++) {
    const list = rows[dcos.type[i] as RateDcoType];
    if (list === undefined) continue;
    if (selection.mergesHubbleTime && dcos.merges_hubble_time[i] !== 1) continue;
    if (selection.excludePessimisticCe && dcos.pessimistic_ce[i] !== 0) continue;
    list.push(i);
  }
  return { BBH: Int32Array.from(rows.BBH), BHNS: Int32Array.from(rows.BHNS), BNS: Int32Array.from(rows.BNS) };
}

/**
 * Adds the rates of one set of DCOs to per-type sums, each contribution read from `table` and
 * divided by `starFormingMassMsol`; optionally records each selected DCO's value at z = 0.
 * @param context - grid and options (selection)
 * @param dcos - the DCOs
 * @param table - formation rate over cosmic time (Gpc^-3 yr^-1 per Msol of star formation)
 * @param starFormingMassMsol - star formation the DCOs stand for; NaN gives NaN rates
 * @param out - per-type sums over the grid, added to
 * @param rateZ0 - if given, per-DCO contributions at z = 0 (0 outside the selection)
 */
export function addMergerRates(
  context: RatesContext,
  dcos: RateDcos,
  table: FormationRateTable,
  starFormingMassMsol: number,
  out: RatesByType,
  rateZ0?: Float64Array,
): void {
  const rows = selectRateRows(dcos, context.options.selection);
  const scale = 1 / starFormingMassMsol;
  for (const type of RATE_DCO_TYPES) {
    accumulateMergerRate(dcos.t_delay, rows[type], table, context.grid, scale, out[type], rateZ0);
  }
}

/** Per-type sums of zeros on a grid of `n` redshifts. */
export function zeroRates(n: number): RatesByType {
  return { BBH: new Float64Array(n), BHNS: new Float64Array(n), BNS: new Float64Array(n) };
}

/**
 * Single-metallicity merger rates R(z) of a set of DCOs (e.g. one run's `extractDcos` table)
 * per DCO type, in Gpc^-3 yr^-1, on the redshift grid of the options, and each DCO's
 * contribution today. Usable without building a dataset; see docs/rates.md.
 *
 * A star-forming mass that is not a positive number (a run the formula does not cover) gives
 * NaN rates; no selected DCO gives rates of 0.
 * @param dcos - type, t_delay, merges_hubble_time and pessimistic_ce of each DCO
 * @param starFormingMassMsol - star-forming mass of the run the DCOs come from (see runStarFormingMass)
 * @param options - rates options (defaults of docs/rates.md)
 */
export function mergerRates(dcos: RateDcos, starFormingMassMsol: number, options: RatesOptions | RatesContext = {}): MergerRates {
  const context = isContext(options) ? options : ratesContext(options);
  const n = context.grid.z.length;
  const out = zeroRates(n);
  const rateZ0 = new Float64Array(dcos.length);
  const mass = starFormingMassMsol > 0 ? starFormingMassMsol : Number.NaN;
  addMergerRates(context, dcos, context.sfrTable, mass, out, rateZ0);
  return { z: context.grid.z, ...out, rateZ0 };
}

function isContext(o: RatesOptions | RatesContext): o is RatesContext {
  return typeof (o as RatesContext).binTable === "function";
}
