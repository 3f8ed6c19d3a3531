import { CompasEnsembleError } from "../errors.js";
import type { Channel, DcoTable, DcoType } from "../physics/dco-table.js";

/** DCO types in the order their yields appear in the summary vector. */
export const SUMMARY_DCO_TYPES: readonly DcoType[] = ["BBH", "BHNS", "BNS"];

/** Channel labels in the order their fractions appear in the summary vector. */
export const SUMMARY_CHANNELS: readonly Channel[] = ["I", "II", "III", "IV", "V", "unknown"];

/** Quantities histogrammed for merging DCOs, in the order they appear in the summary vector. */
export const HISTOGRAM_QUANTITIES = ["log10_chirp_mass", "q", "chi_eff", "log10_t_delay"] as const;

/** One histogrammed quantity. */
export type HistogramQuantity = (typeof HISTOGRAM_QUANTITIES)[number];

/** Bin edges per histogrammed quantity (strictly increasing, at least two edges each). */
export type SummaryBins = Record<HistogramQuantity, number[]>;

/**
 * `n` equal-width bins from `min` to `max`, as `n + 1` edges.
 * @param min - lower edge of the first bin
 * @param max - upper edge of the last bin
 * @param n - number of bins
 */
export function linearEdges(min: number, max: number, n: number): number[] {
  if (!Number.isInteger(n) || n < 1 || !(max > min)) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `Histogram bins from ${min} to ${max} in ${n} steps are invalid: need max > min and a positive integer count.`,
    );
  }
  // From the index rather than accumulated, rounded to 12 significant digits so that the
  // recorded edges read as the decimals a user expects (0.02, not 0.020000000000000018).
  return Array.from({ length: n + 1 }, (_, i) =>
    i === 0 ? min : i === n ? max : Number.parseFloat((min + ((max - min) * i) / n).toPrecision(12)),
  );
}

/**
 * Default bins: 10 bins each over log10(M_c / Msol) in [-0.2, 2.0] (0.63 to 100 Msol, from
 * light BNS to the heaviest BBH), q in [0, 1], chi_eff in [-1, 1] and
 * log10(t_delay / Myr) in [0, 5] (1 Myr to 100 Gyr).
 */
export const DEFAULT_SUMMARY_BINS: Readonly<SummaryBins> = Object.freeze({
  log10_chirp_mass: linearEdges(-0.2, 2.0, 10),
  q: linearEdges(0, 1, 10),
  chi_eff: linearEdges(-1, 1, 10),
  log10_t_delay: linearEdges(0, 5, 10),
});

/** Options of {@link computeSummary}. */
export interface SummaryOptions {
  /** Bin edges; quantities left out use {@link DEFAULT_SUMMARY_BINS}. */
  bins?: Partial<SummaryBins>;
  /**
   * Star-forming mass of each run, Msol (docs/rates.md): appends the yields per solar mass
   * `yield_per_msun_<T>` and `yield_per_msun_<T>_merging` after the channel fractions.
   */
  starFormingMass?: ArrayLike<number>;
  /**
   * Single-metallicity merger rate of each run at z = 0 per type, Gpc^-3 yr^-1: appends
   * `rate_<T>_z0` after the yields per solar mass (needs `starFormingMass`).
   */
  ratesZ0?: readonly Readonly<Record<DcoType, number>>[];
}

/** Which optional blocks of entries x has, after the yields, histograms and channel fractions. */
export interface SummaryExtras {
  /** `yield_per_msun_*` (six entries). */
  perMsun?: boolean;
  /** `rate_*_z0` (three entries). */
  ratesZ0?: boolean;
}

/** The per-run summary vectors and what their entries mean. */
export interface Summary {
  /** One vector per run, all of length `columns.length`. */
  x: Float64Array[];
  /** Name of each entry of x. */
  columns: string[];
  /** The bin edges used, so that every run's x has the same meaning. */
  bins: SummaryBins;
}

/**
 * Names of the entries of x for the given bins, in order: yields, histograms, channel
 * fractions, then (when asked for) yields per solar mass and rates at z = 0.
 * @param bins - bin edges per histogrammed quantity
 * @param extras - which optional blocks follow
 */
export function summaryColumns(bins: SummaryBins, extras: SummaryExtras = {}): string[] {
  const columns: string[] = [];
  for (const type of SUMMARY_DCO_TYPES) columns.push(`yield_${type}`, `yield_${type}_merging`);
  for (const quantity of HISTOGRAM_QUANTITIES) {
    const nBins = bins[quantity].length - 1;
    for (let i = 0; i < nBins; i++) columns.push(`hist_${quantity}_${i}`);
  }
  for (const channel of SUMMARY_CHANNELS) columns.push(`frac_channel_${channel}`);
  if (extras.perMsun) for (const type of SUMMARY_DCO_TYPES) columns.push(`yield_per_msun_${type}`, `yield_per_msun_${type}_merging`);
  if (extras.ratesZ0) for (const type of SUMMARY_DCO_TYPES) columns.push(`rate_${type}_z0`);
  return columns;
}

/**
 * Resolves and checks bin edges: defaults for missing quantities, strictly increasing finite edges.
 * @param bins - user-supplied edges, possibly partial
 */
export function resolveSummaryBins(bins: Partial<SummaryBins> = {}): SummaryBins {
  const out = {} as SummaryBins;
  for (const quantity of HISTOGRAM_QUANTITIES) {
    const edges = bins[quantity] ?? DEFAULT_SUMMARY_BINS[quantity];
    const increasing = edges.every((e, i) => Number.isFinite(e) && (i === 0 || e > (edges[i - 1] as number)));
    if (edges.length < 2 || !increasing) {
      throw new CompasEnsembleError(
        "OPTIONS_INVALID",
        `Histogram bins for ${quantity} must be at least two finite, strictly increasing edges; got [${edges.join(", ")}].`,
      );
    }
    out[quantity] = [...edges];
  }
  return out;
}

/**
 * Computes one fixed-length summary vector x per run, for simulation-based inference.
 *
 * Entries, in order (see docs/sbi-dataset.md):
 * - `yield_<T>` and `yield_<T>_merging` for T in BBH, BHNS, BNS: DCOs of that type (merging:
 *   with COMPAS's Merges_Hubble_Time flag) per simulated binary of the run.
 * - `hist_<quantity>_<i>`: fraction of the run's merging DCOs (all types together) in bin i of
 *   log10 chirp mass, q, chi_eff and log10 t_delay. Values outside the edges are counted in
 *   the first or last bin; NaN values are left out. Sums to 1 per quantity, or is all zero
 *   when the run has no merging DCO (with a finite value).
 * - `frac_channel_<c>` for c in I, II, III, IV, V, unknown: fraction of all the run's DCOs
 *   (merging or not) in that formation channel; all zero for a run without DCOs.
 * - with `starFormingMass`: `yield_per_msun_<T>` and `yield_per_msun_<T>_merging`, the same
 *   counts per solar mass of star formation (NaN where the star-forming mass is NaN).
 * - with `ratesZ0`: `rate_<T>_z0`, the run's single-metallicity merger rate today (docs/rates.md).
 *
 * @param tables - the DCO table of each run (all DCOs, not only merging ones)
 * @param nSystemsPerRun - number of simulated binaries of each run, same order as `tables`
 * @param options - bin edges
 */
export function computeSummary(
  tables: readonly DcoTable[],
  nSystemsPerRun: readonly number[],
  options: SummaryOptions = {},
): Summary {
  if (tables.length !== nSystemsPerRun.length) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `computeSummary got ${tables.length} DCO tables but ${nSystemsPerRun.length} system counts; pass one count per run.`,
    );
  }
  for (const [name, values] of [
    ["starFormingMass", options.starFormingMass],
    ["ratesZ0", options.ratesZ0],
  ] as const) {
    if (values !== undefined && values.length !== tables.length) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `computeSummary got ${tables.length} DCO tables but ${values.length} ${name} values; pass one per run.`);
    }
  }
  const bins = resolveSummaryBins(options.bins);
  const perMsun = options.starFormingMass !== undefined;
  const columns = summaryColumns(bins, { perMsun, ratesZ0: perMsun && options.ratesZ0 !== undefined });
  const x = tables.map((table, run) => {
    const nSystems = nSystemsPerRun[run] as number;
    if (!(Number.isInteger(nSystems) && nSystems > 0)) {
      throw new CompasEnsembleError(
        "OPTIONS_INVALID",
        `Run ${run} has ${nSystems} systems; yields need a positive integer number of simulated binaries.`,
      );
    }
    const vector = new Float64Array(columns.length);
    let offset = writeYields(table, nSystems, vector, 0);
    offset = writeHistograms(table, bins, vector, offset);
    offset = writeChannelFractions(table, vector, offset);
    if (options.starFormingMass !== undefined) {
      // Same counts as the per-binary yields, over the run's star-forming mass instead.
      const mass = options.starFormingMass[run] as number;
      offset = writeYields(table, 1, vector, offset);
      for (let i = offset - 2 * SUMMARY_DCO_TYPES.length; i < offset; i++) vector[i] = (vector[i] as number) / mass;
      const rates = options.ratesZ0?.[run];
      if (rates !== undefined) for (const type of SUMMARY_DCO_TYPES) vector[offset++] = rates[type];
    }
    return vector;
  });
  return { x, columns, bins };
}

function writeYields(table: DcoTable, nSystems: number, out: Float64Array, offset: number): number {
  const all = new Map<DcoType, number>();
  const merging = new Map<DcoType, number>();
  for (let i = 0; i < table.length; i++) {
    const type = table.type[i] as DcoType;
    all.set(type, (all.get(type) ?? 0) + 1);
    if (table.merges_hubble_time[i] === 1) merging.set(type, (merging.get(type) ?? 0) + 1);
  }
  for (const type of SUMMARY_DCO_TYPES) {
    out[offset++] = (all.get(type) ?? 0) / nSystems;
    out[offset++] = (merging.get(type) ?? 0) / nSystems;
  }
  return offset;
}

function histogramValue(table: DcoTable, quantity: HistogramQuantity, i: number): number {
  switch (quantity) {
    case "log10_chirp_mass":
      return Math.log10(table.chirp_mass[i] as number);
    case "q":
      return table.q[i] as number;
    case "chi_eff":
      return table.chi_eff[i] as number;
    case "log10_t_delay":
      return Math.log10(table.t_delay[i] as number);
  }
}

/** Index of the bin holding `value`, clipping overflow into the edge bins (last bin closed). */
function binIndex(edges: readonly number[], value: number): number {
  const nBins = edges.length - 1;
  let lo = 0;
  let hi = nBins - 1;
  if (value < (edges[1] as number)) return 0;
  if (value >= (edges[nBins - 1] as number)) return nBins - 1;
  // Invariant: edges[lo] <= value < edges[hi + 1].
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (value >= (edges[mid] as number)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function writeHistograms(table: DcoTable, bins: SummaryBins, out: Float64Array, offset: number): number {
  for (const quantity of HISTOGRAM_QUANTITIES) {
    const edges = bins[quantity];
    const nBins = edges.length - 1;
    let counted = 0;
    for (let i = 0; i < table.length; i++) {
      if (table.merges_hubble_time[i] !== 1) continue;
      const value = histogramValue(table, quantity, i);
      if (Number.isNaN(value)) continue;
      const slot = offset + binIndex(edges, value);
      out[slot] = (out[slot] as number) + 1;
      counted++;
    }
    if (counted > 0) for (let b = offset; b < offset + nBins; b++) out[b] = (out[b] as number) / counted;
    offset += nBins;
  }
  return offset;
}

function writeChannelFractions(table: DcoTable, out: Float64Array, offset: number): number {
  const index = new Map(SUMMARY_CHANNELS.map((c, i) => [c, i]));
  for (let i = 0; i < table.length; i++) {
    const slot = index.get(table.channel[i] as Channel);
    if (slot === undefined) {
      throw new CompasEnsembleError(
        "OPTIONS_INVALID",
        `DCO ${i} has channel "${table.channel[i]}"; expected one of ${SUMMARY_CHANNELS.join(", ")}.`,
      );
    }
    out[offset + slot] = (out[offset + slot] as number) + 1;
  }
  if (table.length > 0) {
    for (let c = offset; c < offset + SUMMARY_CHANNELS.length; c++) out[c] = (out[c] as number) / table.length;
  }
  return offset + SUMMARY_CHANNELS.length;
}
