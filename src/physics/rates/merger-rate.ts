/**
 * Merger rate of a set of DCOs over redshift (docs/rates.md, "Merger rate of a run"):
 * a DCO with delay time t_delay that merges at redshift z formed when the Universe was
 * t(z) - t_delay old; it contributes the binary formation rate n(z_form) = SFR(z_form) / M_SF
 * (Gpc^-3 yr^-1 per simulated binary) if that is after the first star formation, else nothing
 * (Neijssel et al. 2019, Sec. 4; COMPAS's FastCosmicIntegration.py).
 *
 * Speed: the rate only depends on the formation time, so it is tabulated once on a fine
 * uniform grid of cosmic time and read back by linear interpolation, and each DCO is added
 * straight into the per-redshift sums: memory is O(n_z), never O(n_dco x n_z).
 */
import { ageMyr, redshiftAtAgeMyr, type Cosmology } from "./cosmology.js";
import { zGridSize, type ResolvedRatesOptions } from "./options.js";

/** Redshifts of the output grid and the age of the Universe at each, Myr. */
export interface RedshiftGrid {
  /** z_i = i / k, from 0 to zMax: ascending, z[0] = 0. */
  z: Float64Array;
  /** Age at each z (descending). */
  ageMyr: Float64Array;
}

/**
 * The output redshift grid: z_i = i / k for i = 0 .. zMax k with k = 1 / zStep, so that every
 * value is the float64 nearest its decimal (0.2 is exactly `0.2`).
 * @param options - zStep, zMax and the cosmology
 */
export function redshiftGrid(options: Pick<ResolvedRatesOptions, "zStep" | "zMax" | "cosmology">): RedshiftGrid {
  const { k, m } = zGridSize(options);
  const z = Float64Array.from({ length: m + 1 }, (_, i) => i / k);
  return { z, ageMyr: z.map((zi) => ageMyr(zi, options.cosmology)) };
}

/** A rate as a function of cosmic time, tabulated on a uniform grid for fast lookups. */
export interface FormationRateTable {
  /** Age of the first entry (the first star formation), Myr. */
  startMyr: number;
  /** Spacing of the entries, Myr. */
  stepMyr: number;
  /** Rate at startMyr + i stepMyr; the last entry is today (z = 0). */
  values: Float64Array;
  /** values[i + 1] - values[i], kept so that a lookup is one multiply-add. */
  slopes: Float64Array;
}

/**
 * Entries of a {@link FormationRateTable}: about 0.2 Myr apart between z = 10 and today, where
 * linear interpolation of the Madau & Dickinson rate is good to ~1e-8 relative.
 */
export const FORMATION_TABLE_POINTS = 65_537;

/**
 * Tabulates `rate(z(t))` over cosmic time t from the first star formation to today.
 * @param rate - rate as a function of redshift
 * @param cosmology - to turn ages into redshifts
 * @param zFirstSf - redshift of the first star formation (the table starts there)
 * @param points - number of entries (at least 2)
 */
export function formationRateTable(
  rate: (z: number) => number,
  cosmology: Cosmology,
  zFirstSf: number,
  points: number = FORMATION_TABLE_POINTS,
): FormationRateTable {
  const startMyr = ageMyr(zFirstSf, cosmology);
  const endMyr = ageMyr(0, cosmology);
  const stepMyr = (endMyr - startMyr) / (points - 1);
  const values = new Float64Array(points);
  for (let i = 0; i < points; i++) {
    // The ends are evaluated at their exact redshifts rather than through the inverse.
    const z = i === 0 ? zFirstSf : i === points - 1 ? 0 : Math.max(0, redshiftAtAgeMyr(startMyr + i * stepMyr, cosmology));
    values[i] = rate(z);
  }
  const slopes = new Float64Array(points - 1);
  for (let i = 0; i < points - 1; i++) slopes[i] = (values[i + 1] as number) - (values[i] as number);
  return { startMyr, stepMyr, values, slopes };
}

/**
 * Adds the merger-rate contributions of some DCOs to `out`: for each row r and each grid
 * redshift z_j, scale * table(t(z_j) - delay[r]) when that formation time is not before the
 * table's start (the first star formation), else nothing. DCOs whose delay is not a finite
 * non-negative number contribute nothing. Optionally records each row's contribution at
 * grid index 0 (z = 0) in `rateZ0[r]`.
 * @param delaysMyr - delay time of every DCO, Myr
 * @param rows - the rows to add (indices into delaysMyr)
 * @param table - formation rate per unit `scale` over cosmic time
 * @param grid - output redshift grid
 * @param scale - factor for every contribution (1 / star-forming mass); NaN makes the sums NaN
 * @param out - one sum per grid redshift, added to
 * @param rateZ0 - if given, receives scale * contribution at z_0 for each row in `rows`
 */
export function accumulateMergerRate(
  delaysMyr: ArrayLike<number>,
  rows: ArrayLike<number>,
  table: FormationRateTable,
  grid: RedshiftGrid,
  scale: number,
  out: Float64Array,
  rateZ0?: Float64Array,
): void {
  const nz = grid.ageMyr.length;
  const values = table.values;
  const last = values.length - 2;
  const inv = 1 / table.stepMyr;
  // Table position of each grid redshift's age; a DCO with delay d sits at base[j] - d / step.
  const base = new Float64Array(nz);
  for (let j = 0; j < nz; j++) base[j] = ((grid.ageMyr[j] as number) - table.startMyr) * inv;
  const slope = table.slopes;
  const acc = new Float64Array(nz);
  for (let n = 0; n < rows.length; n++) {
    const r = rows[n] as number;
    const d = delaysMyr[r] as number;
    if (!(d >= 0 && d < Infinity)) {
      if (rateZ0) rateZ0[r] = 0;
      continue;
    }
    const shift = d * inv;
    // z = 0 on its own: only there can the position reach the table's last entry (d = 0).
    let u = (base[0] as number) - shift;
    if (u < 0) {
      if (rateZ0) rateZ0[r] = 0;
      continue;
    }
    let k = Math.min(u | 0, last);
    let v = (values[k] as number) + (u - k) * (slope[k] as number);
    acc[0] = (acc[0] as number) + v;
    if (rateZ0) rateZ0[r] = scale * v;
    // Ages fall with j, so once a formation time is before the first star formation it stays
    // so for every higher redshift.
    for (let j = 1; j < nz; j++) {
      u = (base[j] as number) - shift;
      if (u < 0) break;
      k = u | 0;
      v = (values[k] as number) + (u - k) * (slope[k] as number);
      acc[j] = (acc[j] as number) + v;
    }
  }
  for (let j = 0; j < nz; j++) out[j] = (out[j] as number) + scale * (acc[j] as number);
}
