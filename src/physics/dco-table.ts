/**
 * The per-DCO table: one entry per double compact object, columns as in the SBI dataset
 * contract (README, "SBI dataset layout"). m1/chi1/tilt1 always belong to the heavier object.
 */
export interface DcoTable {
  /** Number of rows (DCOs). */
  length: number;
  seed: BigUint64Array;
  m1: Float64Array;
  m2: Float64Array;
  q: Float64Array;
  chirp_mass: Float64Array;
  /** "BBH" | "BHNS" | "BNS". */
  type: DcoType[];
  /** Myr since ZAMS. */
  t_form: Float64Array;
  /** Myr, inspiral time from DCO formation. */
  t_coal: Float64Array;
  /** Myr, t_form + t_coal. */
  t_delay: Float64Array;
  /** COMPAS's Merges_Hubble_Time flag (0/1). */
  merges_hubble_time: Uint8Array;
  chi1: Float64Array;
  chi2: Float64Array;
  /** Radians. */
  tilt1: Float64Array;
  /** Radians. */
  tilt2: Float64Array;
  chi_eff: Float64Array;
  chi_p: Float64Array;
  /** "I" | "II" | "III" | "IV" | "V" | "unknown". */
  channel: Channel[];
  /** 1 when the SEED had an optimistic CE or immediate RLOF>CE (Broekgaarden et al. 2021). */
  pessimistic_ce: Uint8Array;
  /** AU, COMPAS's SemiMajorAxis@DCO: the orbit when the second compact object formed. */
  a_final: Float64Array;
  /** COMPAS's Eccentricity@DCO. */
  e_final: Float64Array;
}

/** Double compact object type by stellar types (13 NS, 14 BH). */
export type DcoType = "BBH" | "BHNS" | "BNS";

/** Formation channel labels after Broekgaarden et al. 2021, Sec. 3.1. */
export type Channel = "I" | "II" | "III" | "IV" | "V" | "unknown";

/** Column names of {@link DcoTable} in the order the dataset writers use. */
export const DCO_COLUMNS = [
  "seed",
  "m1",
  "m2",
  "q",
  "chirp_mass",
  "type",
  "t_form",
  "t_coal",
  "t_delay",
  "merges_hubble_time",
  "chi1",
  "chi2",
  "tilt1",
  "tilt2",
  "chi_eff",
  "chi_p",
  "channel",
  "pessimistic_ce",
  "a_final",
  "e_final",
] as const;

/** Units of each DCO column, written as the `units` attribute by the dataset writers. */
export const DCO_UNITS: Record<(typeof DCO_COLUMNS)[number] | "run_index", string> = {
  run_index: "-",
  seed: "-",
  m1: "Msol",
  m2: "Msol",
  q: "-",
  chirp_mass: "Msol",
  type: "-",
  t_form: "Myr",
  t_coal: "Myr",
  t_delay: "Myr",
  merges_hubble_time: "-",
  chi1: "-",
  chi2: "-",
  tilt1: "rad",
  tilt2: "rad",
  chi_eff: "-",
  chi_p: "-",
  channel: "-",
  pessimistic_ce: "-",
  a_final: "AU",
  e_final: "-",
};

/**
 * A zero-filled table of `n` rows (strings empty until set), the one place that knows how
 * each column is stored.
 * @param n - number of rows
 */
export function allocateDcoTable(n: number): DcoTable {
  return {
    length: n,
    seed: new BigUint64Array(n),
    m1: new Float64Array(n),
    m2: new Float64Array(n),
    q: new Float64Array(n),
    chirp_mass: new Float64Array(n),
    type: new Array<DcoType>(n),
    t_form: new Float64Array(n),
    t_coal: new Float64Array(n),
    t_delay: new Float64Array(n),
    merges_hubble_time: new Uint8Array(n),
    chi1: new Float64Array(n),
    chi2: new Float64Array(n),
    tilt1: new Float64Array(n),
    tilt2: new Float64Array(n),
    chi_eff: new Float64Array(n),
    chi_p: new Float64Array(n),
    channel: new Array<Channel>(n),
    pessimistic_ce: new Uint8Array(n),
    a_final: new Float64Array(n),
    e_final: new Float64Array(n),
  };
}
