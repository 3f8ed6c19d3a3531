import { describe, expect, it } from "vitest";
import {
  type CeRow,
  type RlofRow,
  classifyChannel,
  firstCeIsDoubleCore,
  mtEpisodes,
  pessimisticCeFlag,
} from "../../src/physics/channels.js";

let counter = 0;
/** One BSE_RLOF row: donor 1 stable transfer unless overridden; masses move 1 Msol from donor. */
function mt(partial: Partial<RlofRow> & { donor?: 1 | 2 | "both" }): RlofRow {
  const { donor = 1, ...rest } = partial;
  counter++;
  return {
    eventCounter: counter,
    time: counter,
    type1: 2,
    type2: 1,
    rlof1: donor === 1 || donor === "both",
    rlof2: donor === 2 || donor === "both",
    ce: false,
    mass1Before: 40,
    mass1After: donor === 1 ? 39 : 40,
    mass2Before: 30,
    mass2After: donor === 2 ? 29 : 30,
    ...rest,
  };
}

function ceRow(partial: Partial<CeRow>): CeRow {
  return { time: 5, type1: 4, type2: 1, doubleCore: false, optimistic: false, immediateRlof: false, ...partial };
}

describe("mass-transfer episodes", () => {
  it("groups rows by MT_Event_Counter and takes types from the first row by Time<MT", () => {
    const rows = [
      mt({ eventCounter: 1, time: 2.0, type1: 4, type2: 1 }),
      mt({ eventCounter: 1, time: 1.0, type1: 2, type2: 1 }),
      mt({ eventCounter: 2, time: 3.0, type1: 14, type2: 4, donor: 2, ce: true }),
    ];
    const eps = mtEpisodes(rows);
    expect(eps).toEqual([
      { counter: 1, type1: 2, type2: 1, donor: 1, ce: false },
      { counter: 2, type1: 14, type2: 4, donor: 2, ce: true },
    ]);
  });

  it("picks the star that lost more mass when both overflow, and no donor when neither lost mass", () => {
    const contact = mt({ donor: "both", mass1Before: 30, mass1After: 29.9, mass2Before: 28, mass2After: 27 });
    expect(mtEpisodes([contact])[0]?.donor).toBe(2);
    const still = mt({ donor: "both", mass1Before: 30, mass1After: 30, mass2Before: 28, mass2After: 28.5 });
    expect(mtEpisodes([still])[0]?.donor).toBe(0);
  });
});

describe("formation channels (Broekgaarden et al. 2021)", () => {
  it("classifies the classic channel I: stable HG transfer from star 1, then a CE from star 2 on the giant branch", () => {
    const episodes = mtEpisodes([
      mt({ type1: 2, type2: 1 }),
      mt({ type1: 14, type2: 4, donor: 2, ce: true }),
    ]);
    const ceRows = [ceRow({ type1: 14, type2: 4 })];
    expect(classifyChannel({ episodes, ceRows })).toEqual({ channel: "I", reason: null });
    expect(firstCeIsDoubleCore(ceRows)).toBe(false);
  });

  it("classifies a stable-only history as channel II", () => {
    const episodes = mtEpisodes([mt({ type1: 2, type2: 1 }), mt({ type1: 14, type2: 2, donor: 2 })]);
    expect(classifyChannel({ episodes, ceRows: [] })).toEqual({ channel: "II", reason: null });
  });

  it("refuses channel II when the SEED has a common-envelope row, even if no RLOF row says CEE", () => {
    const episodes = mtEpisodes([mt({ type1: 2, type2: 1 }), mt({ type1: 14, type2: 7, donor: 2 })]);
    expect(classifyChannel({ episodes, ceRows: [ceRow({ type1: 14, type2: 8 })] })).toEqual({ channel: "V", reason: "other" });
  });

  it("classifies a first CE from a giant onto an MS star as channel III", () => {
    const episodes = mtEpisodes([mt({ type1: 4, type2: 1, ce: true })]);
    expect(classifyChannel({ episodes, ceRows: [ceRow({ type1: 4, type2: 1 })] }).channel).toBe("III");
  });

  it("classifies a double-core CE history as channel IV and agrees with the CE table's Double_Core_CE", () => {
    const episodes = mtEpisodes([mt({ type1: 4, type2: 3, ce: true }), mt({ type1: 7, type2: 7, donor: 2 })]);
    const ceRows = [ceRow({ time: 9, type1: 7, type2: 8 }), ceRow({ time: 3.4, type1: 4, type2: 3, doubleCore: true })];
    expect(classifyChannel({ episodes, ceRows }).channel).toBe("IV");
    expect(firstCeIsDoubleCore(ceRows)).toBe(true);
    // Without the flag on the first CE row, the cross-check disagrees with channel IV.
    expect(firstCeIsDoubleCore([ceRow({ time: 3.4, type1: 4, type2: 3 })])).toBe(false);
  });

  it("puts case-A, CHE and no-transfer histories in channel V with their reason", () => {
    const caseA = mtEpisodes([mt({ type1: 1, type2: 1 }), mt({ type1: 2, type2: 1 })]);
    expect(classifyChannel({ episodes: caseA, ceRows: [] })).toEqual({ channel: "V", reason: "case A" });
    const che = mtEpisodes([mt({ type1: 16, type2: 16, donor: "both", ce: true })]);
    expect(classifyChannel({ episodes: che, ceRows: [] })).toEqual({ channel: "V", reason: "CHE" });
    expect(classifyChannel({ episodes: [], ceRows: [], che: true })).toEqual({ channel: "V", reason: "CHE" });
    expect(classifyChannel({ episodes: [], ceRows: [] })).toEqual({ channel: "V", reason: "no transfer" });
  });

  it("keeps a first transfer from star 2 out of channels I-IV", () => {
    const episodes = mtEpisodes([mt({ type1: 1, type2: 3, donor: 2, ce: true })]);
    expect(classifyChannel({ episodes, ceRows: [] })).toEqual({ channel: "V", reason: "other" });
  });

  it("gives channel unknown when BSE_RLOF was not written", () => {
    expect(classifyChannel({ episodes: null, ceRows: [ceRow({})] })).toEqual({ channel: "unknown", reason: null });
  });
});

describe("pessimistic CE flag", () => {
  it("flags an HG-donor CE or an immediate RLOF after CE, and nothing else", () => {
    expect(pessimisticCeFlag([ceRow({}), ceRow({ optimistic: true })])).toBe(true);
    expect(pessimisticCeFlag([ceRow({ immediateRlof: true })])).toBe(true);
    expect(pessimisticCeFlag([ceRow({ doubleCore: true })])).toBe(false);
    expect(pessimisticCeFlag([])).toBe(false);
  });
});
