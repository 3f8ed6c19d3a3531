/**
 * Age of the Universe and its inverse in a flat Lambda-CDM universe without radiation
 * (docs/rates.md, "Cosmology"). COMPAS's own code takes ages from astropy's Planck18, which
 * also has radiation and massive neutrinos; docs/rates.md gives the size of that difference.
 */

/** Parameters of a flat Lambda-CDM universe. */
export interface Cosmology {
  /** Hubble constant, km s^-1 Mpc^-1. */
  H0: number;
  /** Matter density today (dark energy is 1 - omegaM), in (0, 1]. */
  omegaM: number;
}

/** Kilometres per megaparsec (IAU 2015: 1 pc = 648000/pi au, 1 au = 149597870.7 km). */
const KM_PER_MPC = (648000 / Math.PI) * 149_597_870.7 * 1e6;

/** Seconds per megayear of Julian years (365.25 days), the year astropy and COMPAS use. */
const SECONDS_PER_MYR = 365.25 * 86400 * 1e6;

/**
 * Hubble time 1/H0 in Myr.
 * @param H0 - km s^-1 Mpc^-1
 */
export function hubbleTimeMyr(H0: number): number {
  return KM_PER_MPC / H0 / SECONDS_PER_MYR;
}

/**
 * Age of the Universe at redshift z, in Myr. With H(z) = H0 sqrt(Om (1+z)^3 + OL) and
 * OL = 1 - Om, the integral of dz / ((1+z) H) from z to infinity has the closed form
 * t = 2 / (3 H0 sqrt(OL)) asinh( sqrt(OL/Om) (1+z)^(-3/2) ), and t = 2 / (3 H0) (1+z)^(-3/2)
 * when OL = 0 (Einstein-de Sitter).
 * @param z - redshift, >= 0
 * @param cosmology - H0 and omegaM
 */
export function ageMyr(z: number, cosmology: Cosmology): number {
  const tH = hubbleTimeMyr(cosmology.H0);
  const omegaL = 1 - cosmology.omegaM;
  const x = Math.pow(1 + z, -1.5);
  if (omegaL <= 0) return ((2 / 3) * tH) * x;
  return ((2 / (3 * Math.sqrt(omegaL))) * tH) * Math.asinh(Math.sqrt(omegaL / cosmology.omegaM) * x);
}

/**
 * Redshift at which the Universe had age `t` (Myr): the inverse of {@link ageMyr},
 * 1 + z = ( sqrt(Om/OL) sinh(3 sqrt(OL) t / (2 tH)) )^(-2/3). Ages beyond today's give
 * negative redshifts (the future); callers never ask for them.
 * @param t - age in Myr, > 0
 * @param cosmology - H0 and omegaM
 */
export function redshiftAtAgeMyr(t: number, cosmology: Cosmology): number {
  const tH = hubbleTimeMyr(cosmology.H0);
  const omegaL = 1 - cosmology.omegaM;
  if (omegaL <= 0) return Math.pow((1.5 * t) / tH, -2 / 3) - 1;
  const s = Math.sqrt(cosmology.omegaM / omegaL) * Math.sinh((1.5 * Math.sqrt(omegaL) * t) / tH);
  return Math.pow(s, -2 / 3) - 1;
}
