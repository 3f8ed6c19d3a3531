import type { NumericArray } from "../hdf5/read.js";
import { buildSeedIndex, type JoinedRows, joinOnSeed } from "./_seed-join.js";
import {
  CHANNEL_V_REASONS,
  type CeRow,
  type ChannelVReason,
  classifyChannel,
  firstCeIsDoubleCore,
  mtEpisodesOf,
  pessimisticCeFlag,
  type RlofColumns,
} from "./channels.js";
import { allocateDcoTable, type Channel, type DcoTable, type DcoType } from "./dco-table.js";
import { ColumnReader, readColumnsFrom } from "../hdf5/read.js";
import { BH_TYPE, NS_TYPE, type SpinModelInput, type SupernovaRow, chiEff, chiP, compasOrderSpins, describeSpinModel, parseSpinModel } from "./spins.js";
import { runDetail, runDetailFlag } from "../hdf5/run-details.js";
import { readRunSampling, type RecordedSampling } from "./run-sampling.js";
import { CompasEnsembleError } from "../errors.js";

/** COMPAS's Hubble time, 1/H0 with H0 = 67.8 km/s/Mpc, the threshold of its Merges_Hubble_Time flag (on Coalescence_Time only). */
export const COMPAS_HUBBLE_TIME_MYR = 14021.28;

/**
 * Default threshold of the library's own merger cut, on t_delay = t_form + t_coal: the age of
 * the Universe, 13.787 Gyr (Planck Collaboration 2020, A&A 641, A6, Table 2). A DCO passes
 * when t_delay < threshold, i.e. it could have merged by today had its progenitor formed at
 * the Big Bang.
 */
export const DEFAULT_HUBBLE_CUT_MYR = 13787;

/** Options of {@link extractDcos}. */
export interface ExtractOptions {
  /** Spin-magnitude model; default `{ name: "bavera2021", chiNatal: 0 }`. */
  spinModel?: SpinModelInput;
  /**
   * The pessimistic-CE mask of Broekgaarden et al. 2021: "flag" (default) keeps every DCO and
   * sets `pessimistic_ce`; "drop" removes flagged DCOs from the table.
   */
  pessimisticMask?: "flag" | "drop";
  /** Threshold of `mergesLibraryCut` on t_delay, Myr; default {@link DEFAULT_HUBBLE_CUT_MYR}. */
  hubbleCutMyr?: number;
}

/** Counters and messages that explain the extraction. */
export interface DcoDiagnostics {
  /** DCOs (channels known) where channel IV disagrees with the first CE row's Double_Core_CE view. */
  doubleCoreMismatches: number;
  /** Channel-V DCOs by reason (CHE, no transfer, case A, other). */
  channelVReasons: Record<ChannelVReason, number>;
  /** Human-readable warnings (missing BSE_RLOF, odd supernova rows, skipped rows). */
  warnings: string[];
  /** DCOs whose SEED did not have one supernova row per star (tilts NaN). */
  supernovaProblems: number;
  /** DCOs removed by `pessimisticMask: "drop"`. */
  pessimisticDropped: number;
}

/** Result of {@link extractDcos}. */
export interface DcoExtraction {
  table: DcoTable;
  /** Spin model with its parameters, constants and conventions, for the output's metadata. */
  spinModel: ReturnType<typeof describeSpinModel>;
  diagnostics: DcoDiagnostics;
  /** Per DCO: the reason for channel V, "" for other channels. */
  channelVReason: (ChannelVReason | "")[];
  /** Threshold of {@link DcoExtraction.mergesLibraryCut}, Myr. */
  hubbleCutMyr: number;
  /** Per DCO: 1 when t_delay < hubbleCutMyr (the library's cut; COMPAS's flag is in the table). */
  mergesLibraryCut: Uint8Array;
  pessimisticMask: "flag" | "drop";
  /** Whether formation channels could be computed (BSE_RLOF written). */
  channelsKnown: boolean;
  /** `COMPAS-Version` from Run_Details, when present. */
  compasVersion: string | null;
  /**
   * Binaries the file says were simulated: Run_Details `Objects-Created` and the rows of
   * BSE_System_Parameters (one per binary), each null when the file does not have it.
   */
  systemsInFile: { objectsCreated: number | null; systemRows: number | null };
  /** IMF, mass-ratio distribution and mass bounds from Run_Details (for the star-forming mass). */
  sampling: RecordedSampling;
}

const DCO = "BSE_Double_Compact_Objects";
const DCO_COLUMNS = [
  "SEED",
  "Mass(1)",
  "Mass(2)",
  "Stellar_Type(1)",
  "Stellar_Type(2)",
  "Time",
  "Coalescence_Time",
  "Merges_Hubble_Time",
  "SemiMajorAxis@DCO",
  "Eccentricity@DCO",
] as const;
const SN_COLUMNS = [
  "Time",
  "Supernova_State",
  "Stellar_Type_Prev(SN)",
  "SemiMajorAxis<SN",
  "Mass_Total@CO(SN)",
  "Mass(CP)",
  "SN_Orbit_Inclination_Angle",
] as const;
const CE_COLUMNS = [
  "Time",
  "Stellar_Type(1)<CE",
  "Stellar_Type(2)<CE",
  "Double_Core_CE",
  "Optimistic_CE",
  "Immediate_RLOF>CE",
] as const;
const RLOF_COLUMNS = [
  "MT_Event_Counter",
  "Time<MT",
  "Stellar_Type(1)<MT",
  "Stellar_Type(2)<MT",
  "RLOF(1)<MT",
  "RLOF(1)>MT",
  "RLOF(2)<MT",
  "RLOF(2)>MT",
  "CEE>MT",
  "Mass(1)<MT",
  "Mass(1)>MT",
  "Mass(2)<MT",
  "Mass(2)>MT",
] as const;
const CHE_COLUMNS = ["CH_on_MS(1)", "CH_on_MS(2)"] as const;

/**
 * Extracts every double compact object of a COMPAS_Output.h5 with the quantities of
 * docs/physics.md: GW-ordered masses (m1 >= m2), q, chirp mass, type, formation/coalescence/delay
 * times, COMPAS's merger flag and the library's t_delay cut, spins and tilts (spin model from
 * `options`), chi_eff, chi_p, formation channel I-V and the pessimistic-CE flag.
 * Supernova, common-envelope, RLOF and system rows are joined on SEED in bounded memory.
 * Errors: HDF5_UNREADABLE (missing, truncated, corrupt file or undecodable filter),
 * HDF5_COLUMN_MISSING (a needed column is absent), OPTIONS_INVALID (bad spin model).
 * @param path - COMPAS_Output.h5
 * @param options - spin model, pessimistic mask, merger-cut threshold
 */
export async function extractDcos(path: string, options: ExtractOptions = {}): Promise<DcoExtraction> {
  const model = parseSpinModel(options.spinModel);
  const pessimisticMask = options.pessimisticMask ?? "flag";
  if (pessimisticMask !== "flag" && pessimisticMask !== "drop") {
    throw new CompasEnsembleError("OPTIONS_INVALID", `pessimisticMask "${String(pessimisticMask)}" is invalid.`, {
      hint: 'Use "flag" (default) or "drop".',
    });
  }
  const hubbleCutMyr = options.hubbleCutMyr ?? DEFAULT_HUBBLE_CUT_MYR;
  if (!(hubbleCutMyr > 0)) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `hubbleCutMyr ${hubbleCutMyr} is invalid: it must be a positive number of Myr.`);
  }
  const reader = await ColumnReader.open(path);
  try {
    return extractFrom(reader, model, pessimisticMask, hubbleCutMyr);
  } finally {
    reader.close();
  }
}

function extractFrom(
  reader: ColumnReader,
  model: ReturnType<typeof parseSpinModel>,
  pessimisticMask: "flag" | "drop",
  hubbleCutMyr: number,
): DcoExtraction {
  const path = reader.path;
  const warnings: string[] = [];
  const dco = readColumnsFrom(reader, DCO, DCO_COLUMNS) as {
    SEED: BigUint64Array;
    "Mass(1)": Float64Array;
    "Mass(2)": Float64Array;
    "Stellar_Type(1)": Int32Array;
    "Stellar_Type(2)": Int32Array;
    Time: Float64Array;
    Coalescence_Time: Float64Array;
    Merges_Hubble_Time: Uint8Array;
    "SemiMajorAxis@DCO": Float64Array;
    "Eccentricity@DCO": Float64Array;
  };
  const n = dco.SEED.length;
  const index = buildSeedIndex(dco.SEED, path);

  const rlofWritten = reader.hasGroup("BSE_RLOF") || runDetailFlag(reader, "rlof-printing") === true;
  if (!rlofWritten) {
    warnings.push(
      `${path} has no BSE_RLOF group (COMPAS ran without --rlof-printing TRUE), so formation channels are "unknown"; rerun COMPAS with --rlof-printing TRUE to get them.`,
    );
  }
  if (n > 0 && !reader.hasGroup("BSE_Supernovae")) {
    warnings.push(`${path} has DCOs but no BSE_Supernovae group, so tilts are unknown (NaN).`);
  }
  const sn = joinOnSeed(reader, "BSE_Supernovae", index, SN_COLUMNS);
  const ce = joinOnSeed(reader, "BSE_Common_Envelopes", index, CE_COLUMNS);
  const rlof = rlofWritten ? joinOnSeed(reader, "BSE_RLOF", index, RLOF_COLUMNS) : null;
  const sys = "BSE_System_Parameters";
  const cheKnown = CHE_COLUMNS.every((c) => reader.hasColumn(sys, c));
  const che = cheKnown ? joinOnSeed(reader, sys, index, CHE_COLUMNS) : null;

  const snCols = asNumbers(sn.columns) as Cols<typeof SN_COLUMNS>;
  const ceCols = asNumbers(ce.columns) as Cols<typeof CE_COLUMNS>;
  const rlofCols = rlof ? rlofColumns(asNumbers(rlof.columns)) : null;
  const cheCols = che ? (asNumbers(che.columns) as Cols<typeof CHE_COLUMNS>) : null;

  const table = allocateDcoTable(n);
  const vReason: (ChannelVReason | "")[] = new Array<ChannelVReason | "">(n).fill("");
  const reasons = Object.fromEntries(CHANNEL_V_REASONS.map((r) => [r, 0])) as Record<ChannelVReason, number>;
  const keep: number[] = [];
  let doubleCoreMismatches = 0;
  let supernovaProblems = 0;
  let skipped = 0;

  for (let d = 0; d < n; d++) {
    const seed = dco.SEED[d] as bigint;
    const t1 = dco["Stellar_Type(1)"][d] as number;
    const t2 = dco["Stellar_Type(2)"][d] as number;
    const type = dcoType(t1, t2);
    if (type === null) {
      skipped++;
      if (skipped <= 5) warnings.push(`DCO SEED ${seed} has stellar types ${t1}, ${t2} (not NS/BH); it is left out.`);
      continue;
    }
    const ma = dco["Mass(1)"][d] as number;
    const mb = dco["Mass(2)"][d] as number;
    const spins = compasOrderSpins(
      { seed, type1: t1, type2: t2, supernovae: rowsOf(sn, d, (i) => supernovaRow(snCols, i)) },
      model,
    );
    if (spins.problem !== undefined) {
      supernovaProblems++;
      if (supernovaProblems <= 5) warnings.push(`${spins.problem}; its tilts are NaN.`);
    }
    // GW convention: object 1 is the heavier; spins and tilts travel with their masses.
    const swap = mb > ma;
    const m1 = swap ? mb : ma;
    const m2 = swap ? ma : mb;
    const chi1 = swap ? spins.chi2 : spins.chi1;
    const chi2 = swap ? spins.chi1 : spins.chi2;
    const tilt1 = swap ? spins.tilt2 : spins.tilt1;
    const tilt2 = swap ? spins.tilt1 : spins.tilt2;
    const q = m2 / m1;
    const ceRows = rowsOf(ce, d, (i) => ceRow(ceCols, i));
    const episodes =
      rlof && rlofCols ? mtEpisodesOf(rlofCols, rlof.order.subarray(rlof.start[d] as number, rlof.start[d + 1] as number)) : null;
    const cheFlag =
      che && cheCols ? rowsOf(che, d, (i) => cheCols["CH_on_MS(1)"][i] === 1 || cheCols["CH_on_MS(2)"][i] === 1).some(Boolean) : undefined;
    const { channel, reason } = classifyChannel({ episodes, ceRows, ...(cheFlag === undefined ? {} : { che: cheFlag }) });
    if (episodes !== null && (channel === "IV") !== firstCeIsDoubleCore(ceRows)) doubleCoreMismatches++;

    table.seed[d] = seed;
    table.m1[d] = m1;
    table.m2[d] = m2;
    table.q[d] = q;
    table.chirp_mass[d] = Math.pow(m1 * m2, 0.6) / Math.pow(m1 + m2, 0.2);
    table.type[d] = type;
    table.t_form[d] = dco.Time[d] as number;
    table.t_coal[d] = dco.Coalescence_Time[d] as number;
    table.t_delay[d] = (dco.Time[d] as number) + (dco.Coalescence_Time[d] as number);
    table.merges_hubble_time[d] = dco.Merges_Hubble_Time[d] as number;
    table.chi1[d] = chi1;
    table.chi2[d] = chi2;
    table.tilt1[d] = tilt1;
    table.tilt2[d] = tilt2;
    table.chi_eff[d] = chiEff(m1, chi1, tilt1, m2, chi2, tilt2);
    table.chi_p[d] = chiP(q, chi1, tilt1, chi2, tilt2);
    table.channel[d] = channel;
    table.pessimistic_ce[d] = pessimisticCeFlag(ceRows) ? 1 : 0;
    table.a_final[d] = dco["SemiMajorAxis@DCO"][d] as number;
    table.e_final[d] = dco["Eccentricity@DCO"][d] as number;
    if (reason !== null) vReason[d] = reason;
    keep.push(d);
  }
  if (skipped > 5) warnings.push(`${skipped - 5} more DCOs with non-NS/BH types were left out.`);
  if (supernovaProblems > 5) warnings.push(`${supernovaProblems - 5} more DCOs had unexpected supernova rows.`);

  const kept = pessimisticMask === "drop" ? keep.filter((d) => table.pessimistic_ce[d] === 0) : keep;
  const out = kept.length === n ? table : selectRows(table, kept);
  const outReason = kept.length === n ? vReason : kept.map((d) => vReason[d] as ChannelVReason | "");
  for (const r of outReason) if (r !== "") reasons[r]++;
  const mergesLibraryCut = new Uint8Array(out.length);
  for (let i = 0; i < out.length; i++) mergesLibraryCut[i] = (out.t_delay[i] as number) < hubbleCutMyr ? 1 : 0;
  const version = runDetail(reader, "COMPAS-Version");
  const created = runDetail(reader, "Objects-Created");
  return {
    table: out,
    spinModel: describeSpinModel(model),
    diagnostics: {
      doubleCoreMismatches,
      channelVReasons: reasons,
      warnings,
      supernovaProblems,
      pessimisticDropped: keep.length - kept.length,
    },
    channelVReason: outReason,
    hubbleCutMyr,
    mergesLibraryCut,
    pessimisticMask,
    channelsKnown: rlofWritten,
    compasVersion: typeof version === "string" ? version : null,
    systemsInFile: {
      objectsCreated: typeof created === "number" ? created : null,
      systemRows: reader.hasGroup(sys) ? reader.groupRows(sys) : null,
    },
    sampling: readRunSampling(reader),
  };
}

function dcoType(t1: number, t2: number): DcoType | null {
  if (t1 === BH_TYPE && t2 === BH_TYPE) return "BBH";
  if (t1 === NS_TYPE && t2 === NS_TYPE) return "BNS";
  if ((t1 === BH_TYPE && t2 === NS_TYPE) || (t1 === NS_TYPE && t2 === BH_TYPE)) return "BHNS";
  return null;
}

// Joined columns keep their file type; only 64-bit integer columns (bigint) need converting
// to be read as numbers.
function asNumbers(cols: Record<string, NumericArray>): Record<string, ArrayLike<number>> {
  const out: Record<string, ArrayLike<number>> = {};
  for (const [k, v] of Object.entries(cols)) {
    if (v instanceof BigInt64Array || v instanceof BigUint64Array) {
      const f = new Float64Array(v.length);
      for (let i = 0; i < v.length; i++) f[i] = Number(v[i]);
      out[k] = f;
    } else {
      out[k] = v;
    }
  }
  return out;
}

function rowsOf<T>(joined: JoinedRows, d: number, make: (i: number) => T): T[] {
  const out: T[] = [];
  for (let k = joined.start[d] as number; k < (joined.start[d + 1] as number); k++) out.push(make(joined.order[k] as number));
  return out;
}

type Cols<K extends readonly string[]> = { [name in K[number]]: ArrayLike<number> };

function supernovaRow(c: Cols<typeof SN_COLUMNS>, i: number): SupernovaRow {
  return {
    time: c.Time[i] as number,
    state: c.Supernova_State[i] as number,
    prevType: c["Stellar_Type_Prev(SN)"][i] as number,
    semiMajorAxisRsol: c["SemiMajorAxis<SN"][i] as number,
    massAtCoreCollapse: c["Mass_Total@CO(SN)"][i] as number,
    companionMass: c["Mass(CP)"][i] as number,
    inclination: c.SN_Orbit_Inclination_Angle[i] as number,
  };
}

function ceRow(c: Cols<typeof CE_COLUMNS>, i: number): CeRow {
  return {
    time: c.Time[i] as number,
    type1: c["Stellar_Type(1)<CE"][i] as number,
    type2: c["Stellar_Type(2)<CE"][i] as number,
    doubleCore: c.Double_Core_CE[i] === 1,
    optimistic: c.Optimistic_CE[i] === 1,
    immediateRlof: c["Immediate_RLOF>CE"][i] === 1,
  };
}

function rlofColumns(c: Record<string, ArrayLike<number>>): RlofColumns {
  const get = (name: (typeof RLOF_COLUMNS)[number]) => c[name] as ArrayLike<number>;
  return {
    eventCounter: get("MT_Event_Counter"),
    time: get("Time<MT"),
    type1: get("Stellar_Type(1)<MT"),
    type2: get("Stellar_Type(2)<MT"),
    rlof1Before: get("RLOF(1)<MT"),
    rlof1After: get("RLOF(1)>MT"),
    rlof2Before: get("RLOF(2)<MT"),
    rlof2After: get("RLOF(2)>MT"),
    ce: get("CEE>MT"),
    mass1Before: get("Mass(1)<MT"),
    mass1After: get("Mass(1)>MT"),
    mass2Before: get("Mass(2)<MT"),
    mass2After: get("Mass(2)>MT"),
  };
}

/**
 * Rows `rows` of a DCO table, in that order.
 * @param t - table
 * @param rows - row indices to keep
 */
export function selectRows(t: DcoTable, rows: readonly number[]): DcoTable {
  const pick = <A extends { length: number; [i: number]: unknown }>(a: A, make: (n: number) => A): A => {
    const out = make(rows.length);
    rows.forEach((r, i) => {
      out[i] = a[r];
    });
    return out;
  };
  return {
    length: rows.length,
    seed: pick(t.seed, (k) => new BigUint64Array(k)),
    m1: pick(t.m1, (k) => new Float64Array(k)),
    m2: pick(t.m2, (k) => new Float64Array(k)),
    q: pick(t.q, (k) => new Float64Array(k)),
    chirp_mass: pick(t.chirp_mass, (k) => new Float64Array(k)),
    type: pick(t.type, (k) => new Array<DcoType>(k)),
    t_form: pick(t.t_form, (k) => new Float64Array(k)),
    t_coal: pick(t.t_coal, (k) => new Float64Array(k)),
    t_delay: pick(t.t_delay, (k) => new Float64Array(k)),
    merges_hubble_time: pick(t.merges_hubble_time, (k) => new Uint8Array(k)),
    chi1: pick(t.chi1, (k) => new Float64Array(k)),
    chi2: pick(t.chi2, (k) => new Float64Array(k)),
    tilt1: pick(t.tilt1, (k) => new Float64Array(k)),
    tilt2: pick(t.tilt2, (k) => new Float64Array(k)),
    chi_eff: pick(t.chi_eff, (k) => new Float64Array(k)),
    chi_p: pick(t.chi_p, (k) => new Float64Array(k)),
    channel: pick(t.channel, (k) => new Array<Channel>(k)),
    pessimistic_ce: pick(t.pessimistic_ce, (k) => new Uint8Array(k)),
    a_final: pick(t.a_final, (k) => new Float64Array(k)),
    e_final: pick(t.e_final, (k) => new Float64Array(k)),
  };
}
