import { z } from "zod";
import { CompasEnsembleError } from "../errors.js";

/*
 * Black-hole and neutron-star spins for COMPAS double compact objects. COMPAS v03.07.00 writes
 * no spins, so they are derived from the supernova rows (docs/physics.md, "Spins"):
 * - magnitudes: NS 0; BHs chi_natal, except a second-born BH whose progenitor was a helium
 *   star, spun up by tides: Bavera et al. 2021, A&A 647, A153, fit as restated in Bavera,
 *   Zevin & Fragos 2021, RNAAS 5, 127 (default); Qin et al. 2018, A&A 616, A28 (alternative);
 * - tilts: spins born aligned with the orbit, tilted only by supernova kicks;
 * - chi_eff (Ajith et al. 2011, PRL 106, 241101) and chi_p (Schmidt, Ohme & Hannam 2015,
 *   PRD 91, 024043; convention of Gerosa et al. 2021, PRD 103, 064067).
 */

/** Physical constants used for the orbital period (SI, COMPAS's solar mass). */
export const SPIN_CONSTANTS = Object.freeze({
  /** kg, the value COMPAS uses (constants.h). */
  Msol_kg: 1.98892e30,
  /** m^3 kg^-1 s^-2, CODATA 2018. */
  G_SI: 6.6743e-11,
  /** m, IAU 2015 nominal solar radius. */
  Rsol_m: 6.957e8,
  /** s. */
  day_s: 86400,
});

/** Stellar types of naked helium stars (HeMS, HeHG, HeGB) in COMPAS/Hurley et al. 2000. */
export const HELIUM_STAR_TYPES: ReadonlySet<number> = new Set([7, 8, 9]);

/** COMPAS stellar type of a neutron star. */
export const NS_TYPE = 13;
/** COMPAS stellar type of a black hole. */
export const BH_TYPE = 14;

/** Spin-magnitude model, as given in options and recorded in the output. */
export const SpinModelSchema = z.discriminatedUnion("name", [
  z.strictObject({
    name: z.literal("bavera2021"),
    /** Spin of BHs not spun up by tides (first-born, or second-born without a He-star progenitor). */
    chiNatal: z.number().min(0).max(1).default(0),
  }),
  z.strictObject({ name: z.literal("qin2018"), chiNatal: z.number().min(0).max(1).default(0) }),
  /** Every BH gets `chi`. */
  z.strictObject({ name: z.literal("fixed"), chi: z.number().min(0).max(1) }),
  /** Every BH gets a spin uniform in [0, max], drawn from the SEED's generator. */
  z.strictObject({ name: z.literal("uniform"), max: z.number().min(0).max(1) }),
]);
/** A spin-magnitude model after defaults are applied. */
export type SpinModel = z.output<typeof SpinModelSchema>;
/** A spin-magnitude model as a user may write it (defaults optional). */
export type SpinModelInput = z.input<typeof SpinModelSchema>;

/**
 * Validates a spin model and applies its defaults (bavera2021 with chi_natal 0 when omitted).
 * @param input - model from options or the CLI
 */
export function parseSpinModel(input: SpinModelInput | undefined): SpinModel {
  const parsed = SpinModelSchema.safeParse(input ?? { name: "bavera2021" });
  if (!parsed.success) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `Spin model ${JSON.stringify(input)} is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".") || "name"}: ${i.message}`).join("; ")}.`,
      { hint: 'Use {name:"bavera2021",chiNatal}, {name:"qin2018",chiNatal}, {name:"fixed",chi} or {name:"uniform",max}, spins in [0, 1].' },
    );
  }
  return parsed.data;
}

/**
 * Orbital period from Kepler's third law, P = 2 pi sqrt(a^3 / (G M)).
 * @param aRsol - semi-major axis in solar radii
 * @param totalMassMsol - total mass in solar masses
 * @returns period in days (NaN for non-positive or non-finite input)
 */
export function orbitalPeriodDays(aRsol: number, totalMassMsol: number): number {
  if (!(aRsol > 0) || !(totalMassMsol > 0)) return Number.NaN;
  const a = aRsol * SPIN_CONSTANTS.Rsol_m;
  const gm = SPIN_CONSTANTS.G_SI * totalMassMsol * SPIN_CONSTANTS.Msol_kg;
  return (2 * Math.PI * Math.sqrt((a * a * a) / gm)) / SPIN_CONSTANTS.day_s;
}

// Bavera et al. 2021 (A&A 647, A153), Eq. (5)-(6) as restated in Bavera, Zevin & Fragos 2021
// (RNAAS 5, 127): alpha and beta are f(M_WR; c1, c2, c3) = -c1 / (c2 + exp(-c3 M_WR)).
const BAVERA_ALPHA = [0.059305, 0.035552, 0.270245] as const;
const BAVERA_BETA = [0.02696, 0.011001, 0.420739] as const;

function baveraCoefficient(mWr: number, c: readonly [number, number, number]): number {
  return -c[0] / (c[1] + Math.exp(-c[2] * mWr));
}

/**
 * Tidal spin-up of a BH formed from a helium (Wolf-Rayet) star: the Bavera et al. 2021 fit,
 * chi = alpha (log10 P)^2 + beta log10 P for P <= 1 d and 0 otherwise, clipped to [0, 1].
 * The fit turns negative for some very tight, light systems; those get 0 (a property of the
 * model: Qin et al. 2018 would give 1 there).
 * @param periodDays - orbital period just before the BH-forming supernova, days
 * @param mWrMsol - helium-star mass at core collapse, Msol
 */
export function bavera2021Spin(periodDays: number, mWrMsol: number): number {
  if (!(periodDays <= 1)) return 0;
  const x = Math.log10(periodDays);
  const chi = baveraCoefficient(mWrMsol, BAVERA_ALPHA) * x * x + baveraCoefficient(mWrMsol, BAVERA_BETA) * x;
  return clip01(chi);
}

/**
 * Tidal spin-up after Qin et al. 2018 (A&A 616, A28), the step fit to their Fig. 5:
 * chi = 1 for log10 P < -0.3, -(5/3) log10 P + 0.5 for -0.3 <= log10 P < 0.3, 0 above.
 * @param periodDays - orbital period just before the BH-forming supernova, days
 */
export function qin2018Spin(periodDays: number): number {
  if (!(periodDays > 0)) return 0;
  const x = Math.log10(periodDays);
  if (x < -0.3) return 1;
  if (x < 0.3) return clip01((-5 / 3) * x + 0.5);
  return 0;
}

function clip01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/**
 * cos of the first-born object's tilt after both kicks. Its spin keeps the orbit direction
 * from before the first supernova; the first kick tilts the orbit by v_a, the second by v_b
 * about an axis at unknown azimuth D, so by the spherical law of cosines
 * cos t = cos v_a cos v_b - sin v_a sin v_b cos D. This is an approximation: COMPAS does not
 * record the kick planes, so D is drawn uniform rather than taken from the simulation.
 * @param va - SN_Orbit_Inclination_Angle of the first supernova, rad
 * @param vb - SN_Orbit_Inclination_Angle of the second supernova, rad
 * @param azimuth - D, rad
 */
export function firstBornCosTilt(va: number, vb: number, azimuth: number): number {
  const c = Math.cos(va) * Math.cos(vb) - Math.sin(va) * Math.sin(vb) * Math.cos(azimuth);
  return c > 1 ? 1 : c < -1 ? -1 : c;
}

/**
 * Effective inspiral spin (Ajith et al. 2011): (m1 chi1 cos t1 + m2 chi2 cos t2) / (m1 + m2).
 * A zero spin contributes zero even when its tilt is unknown (NaN).
 * @param m1 - mass of object 1
 * @param chi1 - spin magnitude of object 1
 * @param tilt1 - tilt of object 1, rad
 * @param m2 - mass of object 2
 * @param chi2 - spin magnitude of object 2
 * @param tilt2 - tilt of object 2, rad
 */
export function chiEff(m1: number, chi1: number, tilt1: number, m2: number, chi2: number, tilt2: number): number {
  const s1 = chi1 === 0 ? 0 : m1 * chi1 * Math.cos(tilt1);
  const s2 = chi2 === 0 ? 0 : m2 * chi2 * Math.cos(tilt2);
  return (s1 + s2) / (m1 + m2);
}

/**
 * Effective precession spin (Schmidt, Ohme & Hannam 2015; Gerosa et al. 2021 eq. 3):
 * max(chi1 sin t1, q (4q + 3)/(4 + 3q) chi2 sin t2) with q = m2/m1 <= 1 and object 1 the
 * heavier. A zero spin contributes zero even when its tilt is unknown.
 * @param q - mass ratio m2/m1 <= 1
 * @param chi1 - spin of the heavier object
 * @param tilt1 - its tilt, rad
 * @param chi2 - spin of the lighter object
 * @param tilt2 - its tilt, rad
 */
export function chiP(q: number, chi1: number, tilt1: number, chi2: number, tilt2: number): number {
  const p1 = chi1 === 0 ? 0 : chi1 * Math.sin(tilt1);
  const p2 = chi2 === 0 ? 0 : ((q * (4 * q + 3)) / (4 + 3 * q)) * chi2 * Math.sin(tilt2);
  return Math.max(p1, p2);
}

const MASK64 = (1n << 64n) - 1n;

/**
 * The first `n` uniforms in [0, 1) of SplitMix64 (Steele, Lea & Flood 2014) started at SEED:
 * state += 0x9E3779B97F4A7C15, z = state, z = (z ^ z>>30) * 0xBF58476D1CE4E5B9,
 * z = (z ^ z>>27) * 0x94D049BB133111EB, z ^= z>>31, u = (z >> 11) * 2^-53 (all mod 2^64).
 * Draw 0 is the tilt azimuth, draws 1 and 2 the uniform-model spins of COMPAS stars 1 and 2,
 * so results are reproducible per SEED and independent of the rest of the file.
 * @param seed - the system's SEED
 * @param n - number of draws
 */
export function seedUniforms(seed: bigint, n: number): number[] {
  let state = BigInt.asUintN(64, seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    state = (state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    z ^= z >> 31n;
    out.push(Number(z >> 11n) / 9007199254740992);
  }
  return out;
}

/** One BSE_Supernovae row of a DCO's SEED, with the columns the spin model needs. */
export interface SupernovaRow {
  /** `Time`, Myr. */
  time: number;
  /** `Supernova_State`: 1 star 1, 2 star 2, 3 both (the row is star 2's explosion). */
  state: number;
  /** `Stellar_Type_Prev(SN)`: type of the exploding star just before collapse. */
  prevType: number;
  /** `SemiMajorAxis<SN`, Rsol. */
  semiMajorAxisRsol: number;
  /** `Mass_Total@CO(SN)`, Msol. */
  massAtCoreCollapse: number;
  /** `Mass(CP)`, companion mass, Msol. */
  companionMass: number;
  /** `SN_Orbit_Inclination_Angle`, rad. */
  inclination: number;
}

/** Spins in COMPAS star order (1, 2) plus which star was born first. */
export interface CompasOrderSpins {
  chi1: number;
  chi2: number;
  tilt1: number;
  tilt2: number;
  /** COMPAS index (1 or 2) of the first-born compact object; 0 when unknown. */
  firstBorn: 0 | 1 | 2;
  /** Orbital period before the second supernova, days (NaN when unknown). */
  periodDays: number;
  /** Set when the SEED's supernova rows are not the expected two. */
  problem?: string;
}

/** Input of {@link compasOrderSpins}: one DCO's types and its supernova rows in file order. */
export interface DcoSpinInput {
  seed: bigint;
  /** `Stellar_Type(1)`, `Stellar_Type(2)` of the DCO row. */
  type1: number;
  type2: number;
  supernovae: readonly SupernovaRow[];
}

/**
 * Spin magnitudes and tilts of one DCO's two objects, in COMPAS star order (docs/physics.md,
 * "Spins"). Supernova rows are ordered by Time (ties keep file order); the first is SN_a, the
 * second SN_b; the second-born's tilt is SN_b's inclination, the first-born's combines both
 * kicks with an azimuth drawn from the SEED. When the SEED does not have exactly two
 * supernova rows, tilts are NaN and magnitudes fall back to chi_natal for BHs.
 * @param input - the DCO's stellar types, SEED and supernova rows
 * @param model - spin-magnitude model (after {@link parseSpinModel})
 */
export function compasOrderSpins(input: DcoSpinInput, model: SpinModel): CompasOrderSpins {
  // Draw only what the model uses (draws 1 and 2 are the uniform model's spins).
  const draws = seedUniforms(input.seed, model.name === "uniform" ? 3 : 1);
  const azimuth = 2 * Math.PI * (draws[0] as number);
  const natal = (type: number, star: 1 | 2): number => {
    if (type !== BH_TYPE) return 0;
    switch (model.name) {
      case "bavera2021":
      case "qin2018":
        return model.chiNatal;
      case "fixed":
        return model.chi;
      case "uniform":
        return model.max * (draws[star] as number);
    }
  };
  const types = [input.type1, input.type2] as const;
  const chi: [number, number] = [natal(input.type1, 1), natal(input.type2, 2)];
  const tilt: [number, number] = [Number.NaN, Number.NaN];
  const sn = byTime(input.supernovae);
  const snA = sn[0];
  const snB = sn[1];
  const starOf = (row: SupernovaRow): 1 | 2 => (row.state === 1 ? 1 : 2);
  if (sn.length !== 2 || snA === undefined || snB === undefined || starOf(snA) === starOf(snB)) {
    return {
      chi1: chi[0],
      chi2: chi[1],
      tilt1: Number.NaN,
      tilt2: Number.NaN,
      firstBorn: 0,
      periodDays: Number.NaN,
      problem: `SEED ${input.seed} has ${sn.length} supernova rows${sn.length === 2 ? " for the same star" : ""} instead of one per star`,
    };
  }
  const first = starOf(snA);
  const second = starOf(snB);
  tilt[second - 1] = snB.inclination;
  tilt[first - 1] = Math.acos(firstBornCosTilt(snA.inclination, snB.inclination, azimuth));
  const periodDays = orbitalPeriodDays(snB.semiMajorAxisRsol, snB.massAtCoreCollapse + snB.companionMass);
  if (types[second - 1] === BH_TYPE && HELIUM_STAR_TYPES.has(snB.prevType)) {
    if (model.name === "bavera2021") chi[second - 1] = bavera2021Spin(periodDays, snB.massAtCoreCollapse);
    else if (model.name === "qin2018") chi[second - 1] = qin2018Spin(periodDays);
  }
  return { chi1: chi[0], chi2: chi[1], tilt1: tilt[0], tilt2: tilt[1], firstBorn: first, periodDays };
}

// Supernova rows by Time, ties in file order (Array.prototype.sort is stable).
function byTime(rows: readonly SupernovaRow[]): readonly SupernovaRow[] {
  if (rows.length === 2) {
    const [a, b] = rows as [SupernovaRow, SupernovaRow];
    return b.time < a.time ? [b, a] : rows;
  }
  return [...rows].sort((a, b) => a.time - b.time);
}

/**
 * What the output records about a spin model: its name, parameters, constants and the tilt
 * and random-number conventions, so that a dataset can be reproduced.
 * @param model - spin-magnitude model (after {@link parseSpinModel})
 */
export function describeSpinModel(model: SpinModel): {
  name: SpinModel["name"];
  params: Record<string, number>;
  constants: Record<string, number>;
  tilts: string;
  rng: string;
} {
  const { name, ...params } = model;
  return {
    name,
    params,
    constants: { ...SPIN_CONSTANTS },
    tilts:
      "aligned at birth; second-born tilt = SN_Orbit_Inclination_Angle of the second supernova; first-born cos t = cos va cos vb - sin va sin vb cos D, D uniform in [0, 2pi)",
    rng: "SplitMix64 seeded with SEED: draw 0 azimuth D, draws 1 and 2 uniform-model spins of COMPAS stars 1 and 2",
  };
}
