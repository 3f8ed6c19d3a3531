// Per-system "evolution" of the COMPAS stand-in. Not astrophysics: a seeded toy model that
// yields rows with COMPAS's shape, plausible magnitudes and the cross-group consistency the
// extraction code relies on (two SN rows per DCO, CE/RLOF rows matching a formation channel),
// and whose outcome depends on the physics flags the way the grid axes do in COMPAS.

const LOG10_300 = Math.log10(300);
const RSOL_PER_AU = 215.032;
const HUBBLE_TIME_MYR = 14021.28;

/** Stellar type names as COMPAS prints them on its per-binary stdout line. */
export const STELLAR_TYPE_NAMES = [
  "Main_Sequence_<=_0.7",
  "Main_Sequence_>_0.7",
  "Hertzsprung_Gap",
  "First_Giant_Branch",
  "Core_Helium_Burning",
  "Early_Asymptotic_Giant_Branch",
  "Thermally_Pulsing_Asymptotic_Giant_Branch",
  "Naked_Helium_Star_MS",
  "Naked_Helium_Star_Hertzsprung_Gap",
  "Naked_Helium_Star_Giant_Branch",
  "Helium_White_Dwarf",
  "Carbon-Oxygen_White_Dwarf",
  "Oxygen-Neon_White_Dwarf",
  "Neutron_Star",
  "Black_Hole",
  "Massless_Remnant",
  "Chemically_Homogeneous",
];

/** Evolution_Status codes and the status text COMPAS prints for them. */
const STATUS = {
  dco: [14, "DCO formed"],
  merged: [12, "Stars merged"],
  unbound: [17, "Unbound binary"],
  dwd: [15, "Double White Dwarf formed"],
  time: [3, "Allowed time exceeded"],
  steps: [4, "Allowed timesteps exceeded"],
  massless: [16, "Massless Remnant formed"],
};

/** @param {number} h */
function fmix32(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A small seeded generator (sfc32) per system: the rows of a system depend on its SEED only,
 * so chunked runs concatenate to the unchunked run.
 * @param {bigint} seed
 * @param {number} salt  mixes in GSL_RNG_* so that leaking them into the environment shows
 */
export function makeRng(seed, salt) {
  const lo = Number(seed & 0xffffffffn) >>> 0;
  const hi = Number((seed >> 32n) & 0xffffffffn) >>> 0;
  let a = fmix32(lo ^ 0x9e3779b9);
  let b = fmix32(hi ^ 0x85ebca6b ^ salt);
  let c = fmix32((lo + 0x6a09e667) >>> 0);
  let d = 1;
  const next = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  const rng = {
    u: next,
    /** @param {number} lo @param {number} hi */
    range: (lo, hi) => lo + (hi - lo) * next(),
    /** @param {number} p */
    chance: (p) => next() < p,
    normal: () => {
      const u1 = Math.max(next(), 1e-12);
      return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * next());
    },
    /** @template T @param {[T, number][]} weighted */
    pick: (weighted) => {
      const total = weighted.reduce((s, [, w]) => s + w, 0);
      let x = next() * total;
      for (const [v, w] of weighted) {
        if ((x -= w) < 0) return v;
      }
      return /** @type {[T, number]} */ (weighted[weighted.length - 1])[0];
    },
  };
  return rng;
}

/**
 * @typedef {object} Physics
 * @property {number} alpha
 * @property {number} lambdaFlag
 * @property {string} lambdaPrescription
 * @property {number} Z
 * @property {string} kickDistribution
 * @property {number} sigmaNS
 * @property {number} sigmaBH
 * @property {number} fa
 * @property {string} accretionPrescription
 * @property {boolean} evolveUnbound
 * @property {boolean} msSurvive
 * @property {number} salt
 * @property {number} dcoPeriod  0, or the period of FAKE_COMPAS_DCO_PERIOD_PER_Z
 */

/**
 * @typedef {Record<string, number | bigint | string>} Row
 * @typedef {object} SystemResult
 * @property {string} statusText
 * @property {[number, number]} zamsTypes
 * @property {[number, number]} finalTypes
 * @property {Row} system
 * @property {Row[]} supernovae
 * @property {Row[]} commonEnvelopes
 * @property {Row[]} rlof
 * @property {Row | null} dco
 */

// Lambda values of the non-fixed prescriptions: they ignore --common-envelope-lambda, which is
// what makes the lambda axis inert in COMPAS without LAMBDA_FIXED.
const LAMBDA_SCALE = { LAMBDA_NANJING: 1.0, LAMBDA_LOVERIDGE: 0.8, LAMBDA_KRUCKOW: 1.2, LAMBDA_DEWI: 1.5 };

/** @param {number} Z */
function lowZ(Z) {
  return Math.min(1, Math.max(0, Math.log10(0.03 / Z) / LOG10_300));
}

/** Main-sequence lifetime in Myr (toy fit). @param {number} m */
function tMS(m) {
  return 3 + 3000 / (m * m);
}

/** Peters (1964) inspiral time in Myr with a crude eccentricity factor. */
function coalescenceTimeMyr(/** @type {number} */ m1, /** @type {number} */ m2, /** @type {number} */ aAU, /** @type {number} */ e) {
  const G = 6.6743e-11;
  const c = 299792458;
  const MSOL = 1.98892e30;
  const a = aAU * 1.495978707e11;
  const beta = (64 / 5) * G ** 3 * m1 * m2 * (m1 + m2) * MSOL ** 3 / c ** 5;
  const seconds = (a ** 4 / (4 * beta)) * (1 - e * e) ** 3.5;
  return seconds / (3.15576e13);
}

/** @param {number} t */
function zamsType(t) {
  return t <= 0.7 ? 0 : 1;
}

/**
 * The DCO a system is under FAKE_COMPAS_DCO_PERIOD_PER_Z, from its SEED s and the period P:
 * s mod P = 0 a merging BBH; for P >= 4, s mod P = floor(P/2) a BBH that does not merge and
 * s mod P = floor(P/4) a merging BNS; any other system no DCO (null).
 * @param {bigint} seed
 * @param {number} period
 * @returns {{type: "BBH" | "BNS", merging: boolean} | null}
 */
export function forcedDco(seed, period) {
  const m = Number(seed % BigInt(period));
  if (m === 0) return { type: "BBH", merging: true };
  if (period >= 4 && m === Math.floor(period / 2)) return { type: "BBH", merging: false };
  if (period >= 4 && m === Math.floor(period / 4)) return { type: "BNS", merging: true };
  return null;
}

/**
 * Evolves system `seed` under `phys`.
 * @param {bigint} seed
 * @param {Physics} phys
 * @returns {SystemResult}
 */
export function evolveSystem(seed, phys) {
  const r = makeRng(seed, phys.salt);
  const zlow = lowZ(phys.Z);

  // Per-system draws of the prescriptions that ignore the axis flags.
  const lambdaOwn = r.range(0.1, 0.5);
  const faOwn = r.range(0.05, 0.4);
  const lambdaEff =
    phys.lambdaPrescription === "LAMBDA_FIXED"
      ? phys.lambdaFlag
      : lambdaOwn * (LAMBDA_SCALE[/** @type {keyof typeof LAMBDA_SCALE} */ (phys.lambdaPrescription)] ?? 1);
  const faEff = phys.accretionPrescription === "FIXED" ? phys.fa : faOwn;
  /** @param {"NS" | "BH"} kind */
  const sigmaEff = (kind) => {
    if (phys.kickDistribution === "ZERO") return 0;
    if (phys.kickDistribution === "MAXWELLIAN") return kind === "NS" ? phys.sigmaNS : phys.sigmaBH;
    return kind === "NS" ? 300 : 120;
  };
  const ceEff = phys.alpha * lambdaEff;

  let dcoType = r.pick([
    ["BBH", 0.3 + 0.55 * zlow],
    ["BHNS", 0.2],
    ["BNS", 0.5 - 0.45 * zlow],
  ]);
  const sigmaDco = dcoType === "BNS" ? sigmaEff("NS") : dcoType === "BBH" ? sigmaEff("BH") : (sigmaEff("NS") + sigmaEff("BH")) / 2;
  const pDco =
    (0.025 + 0.035 * zlow) * (0.25 + (0.75 * ceEff) / (ceEff + 0.1)) * Math.exp(-sigmaDco / 600) * (0.8 + 0.4 * faEff);

  /** @type {SystemResult} */
  const res = {
    statusText: "",
    zamsTypes: [1, 1],
    finalTypes: [1, 1],
    system: {},
    supernovae: [],
    commonEnvelopes: [],
    rlof: [],
    dco: null,
  };
  const base = { SEED: seed, Record_Type: 1 };
  let mtCounter = 0;
  let ceCounter = 0;

  /**
   * One mass-transfer episode (one BSE_RLOF row, as in v03.07.00).
   * @param {{t: number, donor: 1 | 2, types: [number, number], typesAfter: [number, number], m: [number, number], a: number, ce?: boolean, merger?: boolean, continuing?: boolean}} e
   */
  const addRlof = (e) => {
    const d = e.donor - 1;
    const dm = e.m[d] * r.range(0.2, 0.7);
    const after = /** @type {[number, number]} */ ([...e.m]);
    after[d] -= dm;
    if (!e.ce) after[1 - d] += faEff * dm;
    const aAfter = e.ce ? e.a * r.range(0.01, 0.1) : e.a * r.range(0.8, 2.2);
    const dt = r.range(1e-4, 0.05);
    res.rlof.push({
      ...base,
      MT_Event_Counter: ++mtCounter,
      "Time<MT": e.t,
      "Time>MT": e.t + dt,
      "Stellar_Type(1)<MT": e.types[0],
      "Stellar_Type(2)<MT": e.types[1],
      "Stellar_Type(1)>MT": e.typesAfter[0],
      "Stellar_Type(2)>MT": e.typesAfter[1],
      "Mass(1)<MT": e.m[0],
      "Mass(2)<MT": e.m[1],
      "Mass(1)>MT": after[0],
      "Mass(2)>MT": after[1],
      "SemiMajorAxis<MT": e.a,
      "SemiMajorAxis>MT": aAfter,
      "Eccentricity<MT": 0,
      "Eccentricity>MT": 0,
      "RLOF(1)<MT": e.continuing && e.donor === 1 ? 1 : 0,
      "RLOF(1)>MT": e.donor === 1 ? 1 : 0,
      "RLOF(2)<MT": e.continuing && e.donor === 2 ? 1 : 0,
      "RLOF(2)>MT": e.donor === 2 ? 1 : 0,
      "CEE>MT": e.ce ? 1 : 0,
      Merger: e.merger ? 1 : 0,
      Beta: faEff,
      MassTransferRateDonor: dm / dt,
      MassTransferTimescale: e.ce ? 3 : 2,
    });
    return { m: after, a: aAfter, t: e.t + dt };
  };

  /**
   * One common-envelope event. The post-CE separation follows the alpha-lambda energy budget,
   * so alpha and (fixed) lambda change it.
   * @param {{t: number, donor: 1 | 2, types: [number, number], typesAfter: [number, number], m: [number, number], a: number, merger?: boolean, optimistic?: boolean, immediate?: boolean, doubleCore?: boolean}} e
   */
  const addCe = (e) => {
    const d = e.donor - 1;
    const md = e.m[d];
    const ma = e.m[1 - d];
    const mCore = md * r.range(0.25, 0.45);
    const mEnv = md - mCore;
    const aAfter = e.merger ? NaN : (e.a * (mCore / md)) / (1 + (2 * mEnv) / (ceEff * 0.4 * ma));
    const after = /** @type {[number, number]} */ ([...e.m]);
    after[d] = mCore;
    const lam = [NaN, NaN];
    lam[d] = lambdaEff;
    const rad = e.a * 0.45;
    const be = (6.674e-8 * md * mEnv * 1.98892e33 ** 2) / (lambdaEff * rad * 6.957e10);
    const beCol = [0, 0];
    beCol[d] = be;
    res.commonEnvelopes.push({
      ...base,
      CE_Event_Counter: ++ceCounter,
      Time: e.t,
      "Stellar_Type(1)<CE": e.types[0],
      "Stellar_Type(2)<CE": e.types[1],
      "Stellar_Type(1)": e.typesAfter[0],
      "Stellar_Type(2)": e.typesAfter[1],
      "Mass(1)<CE": e.m[0],
      "Mass(2)<CE": e.m[1],
      "Mass(1)>CE": after[0],
      "Mass(2)>CE": after[1],
      "SemiMajorAxis<CE": e.a,
      "SemiMajorAxis>CE": aAfter,
      "Eccentricity<CE": 0,
      "Eccentricity>CE": e.merger ? NaN : 0,
      "Lambda@CE(1)": /** @type {number} */ (lam[0]),
      "Lambda@CE(2)": /** @type {number} */ (lam[1]),
      "Binding_Energy<CE(1)": /** @type {number} */ (beCol[0]),
      "Binding_Energy<CE(2)": /** @type {number} */ (beCol[1]),
      Optimistic_CE: e.optimistic ? 1 : 0,
      "Immediate_RLOF>CE": e.immediate ? 1 : 0,
      Double_Core_CE: e.doubleCore ? 1 : 0,
      Simultaneous_RLOF: 0,
      Merger: e.merger ? 1 : 0,
      "RLOF(1)": e.donor === 1 ? 1 : 0,
      "RLOF(2)": e.donor === 2 ? 1 : 0,
      MT_History: 4,
    });
    return { m: after, a: aAfter };
  };

  /**
   * @param {{t: number, state: number, type: number, prev: number, companionType: number, mPre: number, mCompanion: number, aPre: number, ePre: number, aPost: number, ePost: number, sigma: number, unbound: boolean, donorHist: string, rlof: boolean, fallback: number}} s
   */
  const addSn = (s) => {
    // Maxwellian magnitude: norm of three normal components.
    const drawn = s.sigma * Math.hypot(r.normal(), r.normal(), r.normal());
    const applied = drawn * (1 - s.fallback);
    const incl = s.unbound ? NaN : Math.min(Math.PI, Math.abs(r.normal() * (0.05 + applied / 400)));
    res.supernovae.push({
      ...base,
      Time: s.t,
      Supernova_State: s.state,
      "Stellar_Type(SN)": s.type,
      "Stellar_Type(CP)": s.companionType,
      "Stellar_Type_Prev(SN)": s.prev,
      "Mass(SN)": s.mPre,
      "Mass(CP)": s.mCompanion,
      "Mass_Total@CO(SN)": s.mPre,
      "Mass_CO_Core@CO(SN)": s.prev >= 7 && s.prev <= 9 ? s.mPre * r.range(0.6, 0.8) : NaN,
      "SemiMajorAxis<SN": s.aPre,
      SemiMajorAxis: s.unbound ? NaN : s.aPost,
      "Eccentricity<SN": s.ePre,
      Eccentricity: s.unbound ? NaN : s.ePost,
      SN_Orbit_Inclination_Angle: s.unbound ? NaN : incl,
      "Drawn_Kick_Magnitude(SN)": drawn,
      "Applied_Kick_Magnitude(SN)": applied,
      "SN_Type(SN)": s.type === 13 && r.chance(0.1) ? 2 : 1,
      Unbound: s.unbound ? 1 : 0,
      "Fallback_Fraction(SN)": s.fallback,
      "Is_Hydrogen_Poor(SN)": s.prev >= 7 && s.prev <= 9 ? 1 : 0,
      "Experienced_RLOF(SN)": s.rlof ? 1 : 0,
      "MT_Donor_Hist(SN)": s.donorHist.padEnd(16),
    });
  };

  let isDco = r.u() < pDco;
  // FAKE_COMPAS_DCO_PERIOD_PER_Z (README.md): DCOs by a rule on SEED alone, so tests can count
  // them in advance. The draws above still happen, so nothing else about the system changes.
  const forced = phys.dcoPeriod > 0 ? forcedDco(seed, phys.dcoPeriod) : undefined;
  if (forced !== undefined) {
    isDco = forced !== null;
    if (forced !== null) dcoType = forced.type;
  }
  let m1;
  let m2;
  let aZams;
  let che = false;
  let final = /** @type {[number, number]} */ ([1, 1]);
  let status;

  if (isDco) {
    status = STATUS.dco;
    const q = dcoType === "BBH" ? r.range(0.5, 1) : dcoType === "BHNS" ? r.range(0.2, 0.6) : r.range(0.6, 1);
    m1 = dcoType === "BNS" ? r.range(8, 20) : r.range(20, dcoType === "BBH" ? 150 : 80);
    m2 = Math.max(0.1, q * m1);
    aZams = 10 ** r.range(-1.3, 1.3);
    che = dcoType === "BBH" && phys.Z < 0.002 && r.chance(0.15);
    const bhMass = () => (5 + 40 * r.u() ** 1.5) * (1 - 0.4 * (1 - zlow));
    const nsMass = () => r.range(1.2, 1.9);
    // Star 1 (initially more massive) explodes first, as in nearly every fixture DCO.
    const firstStar = 1;
    const types = /** @type {[number, number]} */ (dcoType === "BBH" ? [14, 14] : dcoType === "BNS" ? [13, 13] : [14, 13]);
    const masses = /** @type {[number, number]} */ (types.map((t) => (t === 14 ? bhMass() : nsMass())));
    const second = 2;
    const f = 0;
    const s = 1;
    const zamsM = [m1, m2];
    const tA = tMS(/** @type {number} */ (zamsM[f])) * r.range(1.05, 1.15);
    const tB = che ? tA + (r.chance(0.3) ? 0 : r.range(0.01, 0.3)) : Math.max(tA + r.range(0.2, 2), tMS(/** @type {number} */ (zamsM[s])) * 1.1);
    const aDrawn = Math.max(0.003, 10 ** (r.range(-2.2, 0.1) + 0.25 * Math.log10(Math.max(ceEff, 1e-3) / 0.1)));
    // Forced DCOs: 0.005 AU merges within 60 Myr even for two 1.2 Msol neutron stars; 50 AU never does.
    const aDco = forced ? (forced.merging ? 0.005 : 50) : aDrawn;
    const eDco = Math.min(0.95, Math.abs(r.normal() * (0.25 + sigmaDco / 1000)));
    const tCoal = coalescenceTimeMyr(masses[0], masses[1], aDco, eDco);

    const channel = che
      ? "CHE"
      : r.pick([
          ["I", 0.4],
          ["II", 0.3 / (1 + 0.2 * phys.alpha)],
          ["III", 0.06],
          ["IV", 0.04 * (1 + phys.alpha)],
          ["caseA", 0.1],
        ]);
    let hist = "NA";
    const mNow = /** @type {[number, number]} */ ([m1, m2]);
    const a0 = aZams * RSOL_PER_AU;
    const tE1 = tMS(m1);
    if (channel === "I" || channel === "II") {
      const e1 = addRlof({ t: tE1, donor: 1, types: [2, 1], typesAfter: [7, 1], m: mNow, a: a0 });
      hist = "1";
      const tE2 = tA + (tB - tA) * r.range(0.3, 0.7);
      const t1 = types[0];
      if (channel === "I") {
        const optimistic = r.chance(0.15);
        const st2 = optimistic ? 2 : 4;
        const e2 = addRlof({ t: tE2, donor: 2, types: [t1, st2], typesAfter: [t1, 7], m: [masses[0], e1.m[1]], a: e1.a, ce: true });
        addCe({ t: e2.t, donor: 2, types: [t1, st2], typesAfter: [t1, 7], m: [masses[0], e1.m[1]], a: e1.a, optimistic, immediate: false });
      } else {
        addRlof({ t: tE2, donor: 2, types: [t1, 2], typesAfter: [t1, 8], m: [masses[0], e1.m[1]], a: e1.a });
      }
      hist = "1-2";
    } else if (channel === "III" || channel === "IV") {
      const st2 = channel === "IV" ? 4 : 1;
      const e1 = addRlof({ t: tE1, donor: 1, types: [4, st2], typesAfter: [7, channel === "IV" ? 7 : st2], m: mNow, a: a0, ce: true });
      const ce = addCe({
        t: e1.t,
        donor: 1,
        types: [4, st2],
        typesAfter: [7, channel === "IV" ? 7 : st2],
        m: mNow,
        a: a0,
        doubleCore: channel === "IV",
        immediate: r.chance(0.05),
      });
      hist = "1";
      if (channel === "III" && r.chance(0.5)) {
        addRlof({ t: tA + (tB - tA) * 0.5, donor: 2, types: [types[0], 2], typesAfter: [types[0], 8], m: [masses[0], ce.m[1]], a: ce.a || a0 * 0.1 });
        hist = "1-2";
      }
    } else if (channel === "caseA") {
      let e = addRlof({ t: tE1 * 0.8, donor: 1, types: [1, 1], typesAfter: [1, 1], m: mNow, a: a0 });
      e = addRlof({ t: e.t + 0.1, donor: 1, types: [1, 1], typesAfter: [1, 1], m: e.m, a: e.a, continuing: true });
      hist = "1";
    }

    const prevType = () => r.pick([[8, 0.7], [7, 0.1], [9, 0.05], [4, 0.1], [5, 0.05]]);
    const mPreA = /** @type {number} */ (masses[f]) * (types[f] === 14 ? r.range(1, 1.05) : r.range(1.3, 2.5));
    const mPreB = /** @type {number} */ (masses[s]) * (types[s] === 14 ? r.range(1, 1.05) : r.range(1.3, 2.5));
    // Wider before the first SN; the second SN's pre-SN orbit sets the tidal spin-up period.
    const aPreB = aDco * RSOL_PER_AU * r.range(0.5, 1.0);
    const aPreA = aPreB * r.range(1.5, 6);
    addSn({
      t: tA,
      state: firstStar,
      type: /** @type {number} */ (types[f]),
      prev: prevType(),
      companionType: che ? 16 : channel === "IV" ? 7 : 1,
      mPre: mPreA,
      mCompanion: /** @type {number} */ (zamsM[s]) * (1 + 0.5 * faEff),
      aPre: aPreA,
      ePre: 0,
      aPost: aPreA * r.range(1.0, 1.6),
      ePost: r.range(0, 0.4),
      sigma: sigmaEff(types[f] === 14 ? "BH" : "NS"),
      unbound: false,
      donorHist: hist,
      rlof: res.rlof.length > 0,
      fallback: types[f] === 14 ? r.range(0.5, 1) : 0,
    });
    addSn({
      t: tB,
      state: che && tB === tA ? 3 : second,
      type: /** @type {number} */ (types[s]),
      prev: prevType(),
      companionType: /** @type {number} */ (types[f]),
      mPre: mPreB,
      mCompanion: /** @type {number} */ (masses[f]),
      aPre: aPreB,
      ePre: 0,
      aPost: aDco * RSOL_PER_AU,
      ePost: eDco,
      sigma: sigmaEff(types[s] === 14 ? "BH" : "NS"),
      unbound: false,
      donorHist: hist,
      rlof: res.rlof.length > 0,
      fallback: types[s] === 14 ? r.range(0.5, 1) : 0,
    });
    res.dco = {
      ...base,
      "Mass(1)": masses[0],
      "Mass(2)": masses[1],
      "Stellar_Type(1)": types[0],
      "Stellar_Type(2)": types[1],
      Time: tB,
      Coalescence_Time: tCoal,
      Merges_Hubble_Time: tCoal < HUBBLE_TIME_MYR ? 1 : 0,
      "SemiMajorAxis@DCO": aDco,
      "Eccentricity@DCO": eDco,
      "Recycled_NS(1)": 0,
      "Recycled_NS(2)": 0,
    };
    final = types;
  } else {
    // Kroupa-like power law between 5 and 150 Msol, flat q, flat-in-log separation.
    const k = 1 - 2.3;
    m1 = (5 ** k + r.u() * (150 ** k - 5 ** k)) ** (1 / k);
    m2 = Math.max(0.1, r.range(0.01, 1) * m1);
    aZams = 10 ** r.range(-2, 3);
    che = phys.Z < 0.004 && m1 > 40 && r.chance(0.05);
    const ceSurvival = ceEff / (ceEff + 0.1);
    const kick = sigmaEff("NS") / 265;
    const outcome = r.pick([
      ["merged", 0.44 + 0.1 * (1 - ceSurvival)],
      ["unbound", 0.3 + 0.06 * Math.min(kick, 2)],
      ["dwd", 0.155],
      ["time", 0.03],
      ["steps", 0.002],
      ["massless", 0.002],
    ]);
    status = STATUS[/** @type {keyof typeof STATUS} */ (outcome)];
    const a0 = aZams * RSOL_PER_AU;
    const t0 = tMS(m1);
    const mNow = /** @type {[number, number]} */ ([m1, m2]);
    if (outcome === "merged") {
      const kind = r.pick([["ms", 0.4], ["he", 0.3], ["wd", 0.1], ["ns", 0.1], ["cheb", 0.1]]);
      const t2 = zamsType(m2);
      final = kind === "ms" ? [1, t2] : kind === "he" ? [r.chance(0.7) ? 7 : 8, t2] : kind === "wd" ? [11, 7] : kind === "ns" ? [13, t2] : [4, t2];
      if (kind === "ns") {
        addSn({
          t: t0 * 1.1, state: 1, type: 13, prev: 8, companionType: t2, mPre: r.range(2, 4), mCompanion: m2, aPre: a0 * 0.5,
          ePre: 0, aPost: a0 * 0.3, ePost: r.range(0.5, 0.95), sigma: sigmaEff("NS"), unbound: false, donorHist: "NA", rlof: false, fallback: 0,
        });
      }
      const episodes = 1 + Math.floor(r.u() * 3);
      let e = { m: mNow, a: a0, t: t0 };
      for (let i = 0; i < episodes; i++) {
        const last = i === episodes - 1;
        const ce = last && r.chance(0.6);
        const donorType = kind === "ms" ? 1 : r.pick([[2, 0.5], [3, 0.1], [4, 0.3], [5, 0.1]]);
        const before = /** @type {[number, number]} */ ([donorType, t2]);
        const after = /** @type {[number, number]} */ (last ? final : [donorType, t2]);
        const e2 = addRlof({ t: e.t + 0.01, donor: 1, types: before, typesAfter: after, m: e.m, a: e.a, ce, merger: last, continuing: i > 0 });
        if (ce) {
          addCe({ t: e2.t, donor: 1, types: before, typesAfter: after, m: e.m, a: e.a, merger: true, optimistic: donorType === 2, immediate: r.chance(0.7) });
        }
        e = e2;
      }
    } else if (outcome === "unbound") {
      const first = m1 > 20 && r.chance(0.6) ? 14 : 13;
      const t2 = zamsType(m2);
      const secondExplodes = m2 > 8 && (phys.evolveUnbound ? r.chance(0.8) : r.chance(0.25));
      const t2Final = secondExplodes ? (m2 > 20 ? 14 : 13) : r.chance(0.2) ? 7 : t2;
      final = [first, t2Final];
      const nEp = Math.floor(r.u() * 3);
      let e = { m: mNow, a: a0, t: t0 };
      for (let i = 0; i < nEp; i++) {
        e = addRlof({ t: e.t + 0.01, donor: 1, types: [i === 0 ? 2 : 8, t2], typesAfter: [8, t2], m: e.m, a: e.a, continuing: i > 0 });
      }
      addSn({
        t: t0 * 1.1, state: 1, type: first, prev: r.pick([[8, 0.5], [4, 0.3], [5, 0.2]]), companionType: t2, mPre: first === 14 ? r.range(8, 40) : r.range(2, 5),
        mCompanion: e.m[1], aPre: e.a, ePre: 0, aPost: e.a * 1.5, ePost: r.range(0.1, 0.9), sigma: sigmaEff(first === 14 ? "BH" : "NS"), unbound: !secondExplodes,
        donorHist: nEp > 0 ? "1" : "NA", rlof: nEp > 0, fallback: first === 14 ? r.range(0, 1) : 0,
      });
      if (secondExplodes) {
        addSn({
          t: tMS(m2) * 1.1, state: 2, type: t2Final, prev: 4, companionType: first, mPre: r.range(3, 20), mCompanion: r.range(1.2, 20),
          aPre: e.a * 2, ePre: r.range(0, 0.8), aPost: NaN, ePost: NaN, sigma: sigmaEff(t2Final === 14 ? "BH" : "NS"), unbound: true,
          donorHist: nEp > 0 ? "1" : "NA", rlof: nEp > 0, fallback: 0,
        });
      }
    } else if (outcome === "dwd") {
      final = [r.chance(0.5) ? 12 : 11, r.chance(0.9) ? 11 : 10];
      let e = addRlof({ t: t0, donor: 1, types: [2, 1], typesAfter: [7, 1], m: mNow, a: a0 });
      if (r.chance(0.5)) {
        const ce = addCe({ t: e.t + 20, donor: 2, types: [final[0], 5], typesAfter: [final[0], 11], m: [e.m[0] * 0.5, e.m[1]], a: e.a, immediate: false });
        e = addRlof({ t: e.t + 20, donor: 2, types: [final[0], 5], typesAfter: [final[0], 11], m: [e.m[0] * 0.5, e.m[1]], a: ce.a || e.a, ce: true });
      } else {
        e = addRlof({ t: e.t + 20, donor: 2, types: [final[0], 3], typesAfter: [final[0], 10], m: [e.m[0] * 0.5, e.m[1]], a: e.a });
      }
    } else if (outcome === "time") {
      final = [zamsType(m1), zamsType(m2)];
    } else if (outcome === "steps") {
      final = [4, zamsType(m2)];
    } else {
      final = [15, 11];
    }
  }

  const zams = /** @type {[number, number]} */ (che ? [16, 16] : [zamsType(m1), zamsType(m2)]);
  res.zamsTypes = zams;
  res.finalTypes = final;
  res.statusText = status[1];
  const merged = status === STATUS.merged;
  const unbound = status === STATUS.unbound;
  res.system = {
    ...base,
    Evolution_Status: status[0],
    Error: r.chance(0.5) ? 42 : 0,
    "Mass@ZAMS(1)": m1,
    "Mass@ZAMS(2)": m2,
    "SemiMajorAxis@ZAMS": aZams,
    "Eccentricity@ZAMS": 0,
    "Metallicity@ZAMS(1)": phys.Z,
    "Metallicity@ZAMS(2)": phys.Z,
    "Stellar_Type@ZAMS(1)": zams[0],
    "Stellar_Type@ZAMS(2)": zams[1],
    "Stellar_Type(1)": final[0],
    "Stellar_Type(2)": final[1],
    "CH_on_MS(1)": che ? 1 : 0,
    "CH_on_MS(2)": che ? 1 : 0,
    Merger: merged ? 1 : 0,
    Merger_At_Birth: 0,
    Unbound: unbound ? 1 : 0,
    PO_CE_Alpha: phys.alpha,
    // Recorded as in effect, so that without MAXWELLIAN the table does not depend on the flags.
    PO_Sigma_Kick_CCSN_NS: phys.kickDistribution === "MAXWELLIAN" ? phys.sigmaNS : 265,
    PO_Sigma_Kick_CCSN_BH: phys.kickDistribution === "MAXWELLIAN" ? phys.sigmaBH : 265,
    "SN_Kick_Magnitude_Random_Number(1)": r.u(),
    "SN_Kick_Magnitude_Random_Number(2)": r.u(),
  };
  return res;
}
