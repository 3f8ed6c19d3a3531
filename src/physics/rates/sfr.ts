/**
 * Cosmic star-formation-rate density in the form of Madau & Dickinson 2014 (ARA&A 52, 415,
 * Eq. 15) with the parameters Neijssel et al. 2019 (MNRAS 490, 3740, Eq. 6) fitted; see
 * docs/rates.md, "Star-formation rate".
 */

/** Parameters a, b, c, d of psi(z) = a (1+z)^b / (1 + ((1+z)/c)^d). */
export interface SfrParameters {
  /** Msol yr^-1 Mpc^-3. */
  a: number;
  b: number;
  c: number;
  d: number;
}

/** Cubic megaparsecs per cubic gigaparsec: rates are given per Gpc^3. */
export const MPC3_PER_GPC3 = 1e9;

/**
 * Star-formation-rate density at redshift z, Msol yr^-1 Mpc^-3 (multiply by
 * {@link MPC3_PER_GPC3} for Msol yr^-1 Gpc^-3).
 * @param z - redshift
 * @param p - a, b, c, d
 */
export function starFormationRate(z: number, p: SfrParameters): number {
  const onePlusZ = 1 + z;
  return (p.a * Math.pow(onePlusZ, p.b)) / (1 + Math.pow(onePlusZ / p.c, p.d));
}
