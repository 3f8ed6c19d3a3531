import type { Channel } from "./dco-table.js";

/*
 * Formation channels of double compact objects after Broekgaarden et al. 2021
 * (MNRAS 508, 5028, Sec. 3.1), with the rules of docs/physics.md ("Formation channels"), and the
 * "pessimistic" common-envelope flag of the same paper (after Dominik et al. 2012).
 * Stellar types follow Hurley et al. 2000 as used by COMPAS: 0-1 MS, 2 HG, 3-6 giants with a
 * clear core (FGB, CHeB, EAGB, TPAGB), 7-9 helium stars, 13 NS, 14 BH, 16 CHE MS.
 */

/** One BSE_RLOF row with the columns the channel rules read. */
export interface RlofRow {
  /** `MT_Event_Counter`. */
  eventCounter: number;
  /** `Time<MT`, Myr. */
  time: number;
  /** `Stellar_Type(1)<MT`, `Stellar_Type(2)<MT`. */
  type1: number;
  type2: number;
  /** `RLOF(i)<MT` or `RLOF(i)>MT`. */
  rlof1: boolean;
  rlof2: boolean;
  /** `CEE>MT`. */
  ce: boolean;
  /** `Mass(i)<MT`, `Mass(i)>MT`, Msol. */
  mass1Before: number;
  mass1After: number;
  mass2Before: number;
  mass2After: number;
}

/** One BSE_Common_Envelopes row with the columns the flags read. */
export interface CeRow {
  /** `Time`, Myr. */
  time: number;
  /** `Stellar_Type(1)<CE`, `Stellar_Type(2)<CE`. */
  type1: number;
  type2: number;
  /** `Double_Core_CE`. */
  doubleCore: boolean;
  /** `Optimistic_CE` (donor on the Hertzsprung gap). */
  optimistic: boolean;
  /** `Immediate_RLOF>CE`. */
  immediateRlof: boolean;
}

/** A mass-transfer episode: the rows of one (SEED, MT_Event_Counter). */
export interface MtEpisode {
  counter: number;
  /** Stellar types at the start of the episode (its first row). */
  type1: number;
  type2: number;
  /** COMPAS index of the donor, 0 when none can be told. */
  donor: 0 | 1 | 2;
  /** A common envelope happened in the episode. */
  ce: boolean;
}

/** Why a DCO is in channel V: the diagnostic column for "other". */
export type ChannelVReason = "CHE" | "case A" | "no transfer" | "other";

/** Reasons for channel V, in the order they are tested. */
export const CHANNEL_V_REASONS: readonly ChannelVReason[] = ["CHE", "no transfer", "case A", "other"];

/**
 * BSE_RLOF columns as read from the file (flags 0/1), for {@link mtEpisodesOf}: extraction
 * works on these directly instead of building one object per row.
 */
export interface RlofColumns {
  /** `MT_Event_Counter`. */
  eventCounter: ArrayLike<number>;
  /** `Time<MT`. */
  time: ArrayLike<number>;
  /** `Stellar_Type(1)<MT`, `Stellar_Type(2)<MT`. */
  type1: ArrayLike<number>;
  type2: ArrayLike<number>;
  /** `RLOF(1)<MT`, `RLOF(1)>MT`, `RLOF(2)<MT`, `RLOF(2)>MT`. */
  rlof1Before: ArrayLike<number>;
  rlof1After: ArrayLike<number>;
  rlof2Before: ArrayLike<number>;
  rlof2After: ArrayLike<number>;
  /** `CEE>MT`. */
  ce: ArrayLike<number>;
  /** `Mass(i)<MT`, `Mass(i)>MT`. */
  mass1Before: ArrayLike<number>;
  mass1After: ArrayLike<number>;
  mass2Before: ArrayLike<number>;
  mass2After: ArrayLike<number>;
}

/**
 * Groups one SEED's RLOF rows into episodes by MT_Event_Counter, ordered by counter; within
 * an episode rows are ordered by Time<MT (ties keep file order). The donor is the star whose
 * RLOF flag is set in any row; if both are, the star that lost more mass from the first row's
 * `<MT` mass to the last row's `>MT` mass (star 1 on an exact tie); if neither lost mass, none.
 * In COMPAS v03.07.00 every row has its own counter, so an episode is usually one row.
 * @param rows - the SEED's BSE_RLOF rows in file order
 */
export function mtEpisodes(rows: readonly RlofRow[]): MtEpisode[] {
  const col = (f: (r: RlofRow) => number | boolean) => rows.map((r) => Number(f(r)));
  const zeros = rows.map(() => 0);
  const columns: RlofColumns = {
    eventCounter: col((r) => r.eventCounter),
    time: col((r) => r.time),
    type1: col((r) => r.type1),
    type2: col((r) => r.type2),
    rlof1Before: col((r) => r.rlof1),
    rlof1After: zeros,
    rlof2Before: col((r) => r.rlof2),
    rlof2After: zeros,
    ce: col((r) => r.ce),
    mass1Before: col((r) => r.mass1Before),
    mass1After: col((r) => r.mass1After),
    mass2Before: col((r) => r.mass2Before),
    mass2After: col((r) => r.mass2After),
  };
  return mtEpisodesOf(
    columns,
    rows.map((_, i) => i),
  );
}

/**
 * {@link mtEpisodes} on columns: `rows` are the SEED's row positions in `c`, in file order.
 * @param c - RLOF columns
 * @param rows - positions of the SEED's rows, file order
 */
export function mtEpisodesOf(c: RlofColumns, rows: ArrayLike<number>): MtEpisode[] {
  const n = rows.length;
  let ordered: ArrayLike<number> = rows;
  // COMPAS writes rows in episode order; sort only when that does not hold.
  for (let k = 1; k < n; k++) {
    const a = rows[k - 1] as number;
    const b = rows[k] as number;
    const ca = c.eventCounter[a] as number;
    const cb = c.eventCounter[b] as number;
    if (cb < ca || (cb === ca && (c.time[b] as number) < (c.time[a] as number))) {
      ordered = Array.from(rows, (r, i) => ({ r, i }))
        .sort(
          (x, y) =>
            (c.eventCounter[x.r] as number) - (c.eventCounter[y.r] as number) ||
            (c.time[x.r] as number) - (c.time[y.r] as number) ||
            x.i - y.i,
        )
        .map((x) => x.r);
      break;
    }
  }
  const episodes: MtEpisode[] = [];
  for (let i = 0; i < n; ) {
    const first = ordered[i] as number;
    const counter = c.eventCounter[first] as number;
    let rlof1 = false;
    let rlof2 = false;
    let ce = false;
    let j = i;
    for (; j < n && c.eventCounter[ordered[j] as number] === counter; j++) {
      const r = ordered[j] as number;
      rlof1 ||= c.rlof1Before[r] === 1 || c.rlof1After[r] === 1;
      rlof2 ||= c.rlof2Before[r] === 1 || c.rlof2After[r] === 1;
      ce ||= c.ce[r] === 1;
    }
    const last = ordered[j - 1] as number;
    let donor: 0 | 1 | 2 = 0;
    if (rlof1 && !rlof2) donor = 1;
    else if (rlof2 && !rlof1) donor = 2;
    else if (rlof1 && rlof2) {
      const lost1 = (c.mass1Before[first] as number) - (c.mass1After[last] as number);
      const lost2 = (c.mass2Before[first] as number) - (c.mass2After[last] as number);
      if (lost1 > 0 || lost2 > 0) donor = lost2 > lost1 ? 2 : 1;
    }
    episodes.push({ counter, type1: c.type1[first] as number, type2: c.type2[first] as number, donor, ce });
    i = j;
  }
  return episodes;
}

/** Input of {@link classifyChannel} for one DCO. */
export interface ChannelInput {
  /** Mass-transfer episodes ({@link mtEpisodes}); null when BSE_RLOF was not written. */
  episodes: readonly MtEpisode[] | null;
  /** The SEED's BSE_Common_Envelopes rows. */
  ceRows: readonly CeRow[];
  /** `CH_on_MS(1)` or `CH_on_MS(2)` of BSE_System_Parameters (chemically homogeneous). */
  che?: boolean;
}

/** Channel of one DCO and, for V, the reason. */
export interface ChannelResult {
  channel: Channel;
  reason: ChannelVReason | null;
}

const isGiant = (t: number) => t >= 3 && t <= 6;
const isMs = (t: number) => t <= 1;

/**
 * Formation channel I-V of one DCO (Broekgaarden et al. 2021, Sec. 3.1; docs/physics.md).
 * With E1 the first episode and t1, t2 its stellar types:
 * I classic: E1 stable from star 1 with 2 <= t1 <= 6, t2 <= 1, and the first later episode
 * with donor 2 is a CE while star 2 is not yet a helium star or remnant (type < 7);
 * II only stable: E1 as in I and no CE at all (no CEE>MT, no BSE_Common_Envelopes row);
 * III single-core CE: E1 a CE from star 1 with 3 <= t1 <= 6, t2 <= 1;
 * IV double-core CE: E1 a CE from star 1 with both types in 3-6;
 * V everything else, with a reason: CHE, no transfer, case A (E1 donor on the MS), other.
 * Without BSE_RLOF the channel is "unknown".
 * @param input - the DCO's episodes, CE rows and CHE flag
 */
export function classifyChannel(input: ChannelInput): ChannelResult {
  const { episodes } = input;
  if (episodes === null) return { channel: "unknown", reason: null };
  const e1 = episodes[0];
  if (e1 !== undefined && e1.donor === 1) {
    const stableE1 = !e1.ce && e1.type1 >= 2 && e1.type1 <= 6 && isMs(e1.type2);
    if (stableE1) {
      const next = episodes.slice(1).find((e) => e.donor === 2);
      if (next !== undefined && next.ce && next.type2 < 7) return { channel: "I", reason: null };
      const anyCe = input.ceRows.length > 0 || episodes.some((e) => e.ce);
      if (!anyCe) return { channel: "II", reason: null };
    }
    if (e1.ce && isGiant(e1.type1) && isMs(e1.type2)) return { channel: "III", reason: null };
    if (e1.ce && isGiant(e1.type1) && isGiant(e1.type2)) return { channel: "IV", reason: null };
  }
  return { channel: "V", reason: channelVReason(input) };
}

function channelVReason(input: ChannelInput): ChannelVReason {
  const episodes = input.episodes ?? [];
  if (input.che === true || episodes.some((e) => e.type1 === 16 || e.type2 === 16)) return "CHE";
  const e1 = episodes[0];
  if (e1 === undefined) return "no transfer";
  const donorType = e1.donor === 1 ? e1.type1 : e1.donor === 2 ? e1.type2 : Number.NaN;
  if (isMs(donorType)) return "case A";
  return "other";
}

/**
 * The "pessimistic" CE flag (Broekgaarden et al. 2021, Sec. 3.1): the SEED had a common
 * envelope with a Hertzsprung-gap donor (`Optimistic_CE`) or with a companion that overflowed
 * its Roche lobe right after the envelope was ejected (`Immediate_RLOF>CE`). Such systems are
 * removed under the pessimistic CE assumption; the library flags rather than drops them.
 * @param ceRows - the SEED's BSE_Common_Envelopes rows
 */
export function pessimisticCeFlag(ceRows: readonly CeRow[]): boolean {
  return ceRows.some((r) => r.optimistic || r.immediateRlof);
}

/**
 * The common-envelope table's own view of a double-core CE, to cross-check channel IV: the
 * SEED's first CE row (by Time, ties in file order) has both stars in types 3-6 and
 * `Double_Core_CE` = 1.
 * @param ceRows - the SEED's BSE_Common_Envelopes rows in file order
 */
export function firstCeIsDoubleCore(ceRows: readonly CeRow[]): boolean {
  let first: CeRow | undefined;
  for (const r of ceRows) if (first === undefined || r.time < first.time) first = r;
  return first !== undefined && first.doubleCore && isGiant(first.type1) && isGiant(first.type2);
}
