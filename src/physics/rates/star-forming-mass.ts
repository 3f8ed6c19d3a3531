/**
 * Mass of star formation a COMPAS run stands for (docs/rates.md, "Star-forming mass").
 *
 * COMPAS samples only binaries with a primary in [m1_min, m1_max] and a secondary above
 * m2_min. Under a Kroupa (2001, MNRAS 322, 231) IMF with breaks 0.01, 0.08, 0.5, 200 Msol and
 * slopes 0.3, 1.3, 2.3, a flat mass-ratio distribution and a binary fraction f_bin, each
 * simulated binary represents m_rep solar masses of all star formation. The closed form is
 * I. Mandel's, as in COMPAS's totalMassEvolvedPerZ.py; it holds when m1_min >= 0.5 Msol (the
 * last IMF break), so that the sampled primaries all sit on the 2.3 slope.
 */

/** IMF break masses (Msol) m1 < m2 < m3 < m4 of Kroupa 2001. */
export const KROUPA_BREAKS_MSOL = [0.01, 0.08, 0.5, 200] as const;

/** Kroupa 2001 slopes between the breaks: dN/dm ~ m^-0.3, m^-1.3, m^-2.3. */
export const KROUPA_SLOPES = [0.3, 1.3, 2.3] as const;

/** The sampling bounds of a COMPAS run, Msol (Run_Details: initial-mass-min, initial-mass-max, minimum-secondary-mass). */
export interface MassBounds {
  m1Min: number;
  m1Max: number;
  m2Min: number;
}

/** How a run sampled its binaries, as far as the star-forming mass depends on it. */
export interface RunSampling extends MassBounds {
  /** COMPAS's --initial-mass-function, e.g. "KROUPA". */
  imf: string;
  /** COMPAS's --mass-ratio-distribution, e.g. "FLAT". */
  massRatioDistribution: string;
}

/**
 * Why the closed form does not apply to a run, or null when it does: the IMF is not KROUPA,
 * the mass-ratio distribution is not FLAT, m1_min < 0.5 Msol, or bounds that are not
 * finite and ordered (0 < m2_min, 0.5 <= m1_min < m1_max <= 200).
 * @param s - the run's sampling
 */
export function starFormingMassProblem(s: RunSampling): string | null {
  if (s.imf.toUpperCase() !== "KROUPA") return `its initial-mass-function is ${s.imf}, and the star-forming mass formula needs KROUPA`;
  if (s.massRatioDistribution.toUpperCase() !== "FLAT") {
    return `its mass-ratio-distribution is ${s.massRatioDistribution}, and the star-forming mass formula needs FLAT`;
  }
  const [, , m3, m4] = KROUPA_BREAKS_MSOL;
  if (!(s.m1Min >= m3)) return `its initial-mass-min is ${s.m1Min} Msol, and the star-forming mass formula needs at least ${m3} Msol`;
  if (!(s.m1Max > s.m1Min && s.m1Max <= m4)) {
    return `its initial-mass-max is ${s.m1Max} Msol, and the formula needs a value above initial-mass-min (${s.m1Min}) and at most ${m4} Msol`;
  }
  if (!(s.m2Min > 0 && Number.isFinite(s.m2Min))) return `its minimum-secondary-mass is ${s.m2Min} Msol, and the formula needs a positive value`;
  return null;
}

/**
 * Mass of star formation (Msol) represented by one simulated binary, m_rep (docs/rates.md):
 *
 *     A     = 1 / ( -(m4^-1.3 - m3^-1.3)/1.3 - (m3^-0.3 - m2^-0.3)/(m3 0.3) + (m2^0.7 - m1^0.7)/(m2 m3 0.7) )
 *     m_avg = A ( -(m4^-0.3 - m3^-0.3)/0.3 + (m3^0.7 - m2^0.7)/(m3 0.7) + (m2^1.7 - m1^1.7)/(m2 m3 1.7) )
 *     f_int = -A/1.3 (m1_max^-1.3 - m1_min^-1.3) + A m2_min/2.3 (m1_max^-2.3 - m1_min^-2.3)
 *     m_rep = m_avg (1.5 + (1 - f_bin)/f_bin) / f_int
 *
 * A normalises the IMF (continuous at the breaks), m_avg is the mean stellar mass, f_int the
 * fraction of binaries COMPAS would sample (primary in bounds, flat q with m2 > m2_min), and
 * the factor turns single-star mass into binary plus single-star mass (a binary weighs 1.5
 * times a star on average under a flat q). With (5, 150, 0.1) and f_bin = 0.7: 101.713 Msol.
 * Check {@link starFormingMassProblem} first; bounds it rejects give meaningless numbers.
 * @param bounds - m1Min, m1Max, m2Min in Msol
 * @param fBin - binary fraction in (0, 1]
 */
export function starFormingMassPerBinary(bounds: MassBounds, fBin: number): number {
  const [m1, m2, m3, m4] = KROUPA_BREAKS_MSOL;
  const a =
    1 /
    (-(Math.pow(m4, -1.3) - Math.pow(m3, -1.3)) / 1.3 -
      (Math.pow(m3, -0.3) - Math.pow(m2, -0.3)) / (m3 * 0.3) +
      (Math.pow(m2, 0.7) - Math.pow(m1, 0.7)) / (m2 * m3 * 0.7));
  const mAvg =
    a *
    (-(Math.pow(m4, -0.3) - Math.pow(m3, -0.3)) / 0.3 +
      (Math.pow(m3, 0.7) - Math.pow(m2, 0.7)) / (m3 * 0.7) +
      (Math.pow(m2, 1.7) - Math.pow(m1, 1.7)) / (m2 * m3 * 1.7));
  const { m1Min, m1Max, m2Min } = bounds;
  const fInt =
    (-a / 1.3) * (Math.pow(m1Max, -1.3) - Math.pow(m1Min, -1.3)) + ((a * m2Min) / 2.3) * (Math.pow(m1Max, -2.3) - Math.pow(m1Min, -2.3));
  return (mAvg * (1.5 + (1 - fBin) / fBin)) / fInt;
}

/**
 * Star-forming mass of a run (Msol): m_rep times the number of simulated binaries, or NaN with
 * the reason when the formula does not cover how the run sampled.
 * @param sampling - the run's IMF, mass-ratio distribution and mass bounds
 * @param nSystems - binaries simulated
 * @param fBin - binary fraction in (0, 1]
 */
export function starFormingMass(sampling: RunSampling, nSystems: number, fBin: number): { mass: number; problem: string | null } {
  const problem = starFormingMassProblem(sampling);
  if (problem !== null) return { mass: Number.NaN, problem };
  return { mass: starFormingMassPerBinary(sampling, fBin) * nSystems, problem: null };
}
