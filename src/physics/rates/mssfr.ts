/**
 * Metallicity-specific star formation (docs/rates.md, "Combined over metallicity"): the
 * log-normal distribution of ln Z at redshift z of Neijssel et al. 2019 (MNRAS 490, 3740,
 * Sec. 3.3; no skew, constant width), normalised over ln Z in [-12, 0] as COMPAS's
 * FastCosmicIntegration.py does, and the fraction of it inside each run's metallicity bin.
 */

/** Parameters of the log-normal: mean metallicity mu0 10^(muz z), width sigma0 in ln Z. */
export interface MssfrParameters {
  mu0: number;
  muz: number;
  sigma0: number;
}

/** The ln Z interval the distribution is normalised over (COMPAS's min_logZ, max_logZ). */
export const LN_Z_RANGE: readonly [number, number] = [-12, 0];

/** Whether a group's outer metallicity bins stop at its extreme metallicities or take everything beyond. */
export type OuterZBins = "drop" | "extend";

/**
 * Location mu(z) of the log-normal in ln Z, chosen so that its mean metallicity is
 * mu0 10^(muz z): mu = ln(mean) - sigma0^2 / 2.
 * @param z - redshift
 * @param p - mu0, muz, sigma0
 */
export function lnZLocation(z: number, p: MssfrParameters): number {
  return Math.log(p.mu0) + p.muz * z * Math.LN10 - (p.sigma0 * p.sigma0) / 2;
}

/**
 * Edges in ln Z of the bins of a group's metallicities: one bin per distinct metallicity
 * (ascending), inner edges half way between neighbouring ln Z, outer edges at the lowest and
 * highest ln Z ("drop") or at the ends of {@link LN_Z_RANGE} ("extend", so that the bins cover
 * all star formation).
 * @param metallicities - the group's metallicities (any order, repeats allowed), each > 0
 * @param outer - "drop" or "extend"
 * @returns the distinct ln Z ascending and their m + 1 edges
 */
export function metallicityBins(metallicities: readonly number[], outer: OuterZBins): { lnZ: Float64Array; edges: Float64Array } {
  const lnZ = Float64Array.from(new Set(metallicities.map((z) => Math.log(z)))).sort();
  const m = lnZ.length;
  const edges = new Float64Array(m + 1);
  if (m === 0) return { lnZ, edges: new Float64Array(0) };
  for (let j = 1; j < m; j++) edges[j] = ((lnZ[j - 1] as number) + (lnZ[j] as number)) / 2;
  edges[0] = outer === "extend" ? LN_Z_RANGE[0] : (lnZ[0] as number);
  edges[m] = outer === "extend" ? LN_Z_RANGE[1] : (lnZ[m - 1] as number);
  return { lnZ, edges };
}

/**
 * Fraction of the star formation at redshift z whose ln Z lies in [lo, hi], under the
 * log-normal normalised over {@link LN_Z_RANGE}; ends outside that range are clipped to it.
 * @param z - redshift
 * @param lo - lower ln Z edge
 * @param hi - upper ln Z edge
 * @param p - mu0, muz, sigma0
 */
export function metallicityBinFraction(z: number, lo: number, hi: number, p: MssfrParameters): number {
  const mu = lnZLocation(z, p);
  const s = p.sigma0;
  const [min, max] = LN_Z_RANGE;
  const a = Math.min(max, Math.max(min, lo));
  const b = Math.min(max, Math.max(min, hi));
  if (!(b > a)) return 0;
  return standardNormalMass((a - mu) / s, (b - mu) / s) / standardNormalMass((min - mu) / s, (max - mu) / s);
}

/**
 * Fractions p_j(z) of the star formation at redshift z in each bin j of `edges` (from
 * {@link metallicityBins}); see {@link metallicityBinFraction}.
 * @param z - redshift
 * @param edges - ascending ln Z edges, m + 1 of them
 * @param p - mu0, muz, sigma0
 */
export function metallicityBinFractions(z: number, edges: ArrayLike<number>, p: MssfrParameters): Float64Array {
  const m = Math.max(0, edges.length - 1);
  return Float64Array.from({ length: m }, (_, j) => metallicityBinFraction(z, edges[j] as number, edges[j + 1] as number, p));
}

/**
 * Probability that a standard normal variable lies in [a, b] (a <= b; infinite ends allowed),
 * computed from the tail that keeps precision (no 1 - 1 cancellation far from the mean).
 * @param a - lower end
 * @param b - upper end
 */
export function standardNormalMass(a: number, b: number): number {
  const r = Math.SQRT1_2;
  if (a >= 0) return 0.5 * (erfc(a * r) - erfc(b * r));
  if (b <= 0) return 0.5 * (erfc(-b * r) - erfc(-a * r));
  return 1 - 0.5 * erfc(-a * r) - 0.5 * erfc(b * r);
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * Complementary error function erfc(x) = 1 - erf(x), to about 1e-12 relative. JavaScript has
 * no erf, and a dependency for one function is not worth it: below |x| = 2.5 the everywhere
 * positive series erf(x) = 2/sqrt(pi) e^(-x^2) sum 2^n x^(2n+1) / (1 3 5 ... (2n+1)) (no
 * cancellation), above it the continued fraction
 * erfc(x) = e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))),
 * evaluated with the modified Lentz method.
 * @param x - any number; erfc(-inf) = 2, erfc(inf) = 0
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x === Infinity) return 0;
  if (x < 2.5) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    return 1 - TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  }
  if (x > 27) return 0; // e^-729 underflows.
  // f = x + a1/(x + a2/(x + ...)), a_k = k/2.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const ak = k / 2;
    d = x + ak * d;
    d = d === 0 ? tiny : d;
    c = x + ak / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}
