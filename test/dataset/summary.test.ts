import { describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import {
  DEFAULT_SUMMARY_BINS,
  HISTOGRAM_QUANTITIES,
  computeSummary,
  linearEdges,
  summaryColumns,
} from "../../src/dataset/summary.js";
import { makeDcoTable } from "./dataset-helpers.js";

function entry(summary: { x: Float64Array[]; columns: string[] }, run: number, column: string): number {
  const i = summary.columns.indexOf(column);
  if (i < 0) throw new Error(`no column ${column}`);
  return summary.x[run]![i]!;
}

function histogram(summary: { x: Float64Array[]; columns: string[] }, run: number, quantity: string): number[] {
  return summary.columns.flatMap((c, i) => (c.startsWith(`hist_${quantity}_`) ? [summary.x[run]![i]!] : []));
}

describe("computeSummary", () => {
  it("gives every run a vector of the same length, with or without DCOs", () => {
    const empty = makeDcoTable([]);
    const one = makeDcoTable([{}]);
    const many = makeDcoTable(Array.from({ length: 50 }, () => ({ type: "BNS" as const, m1: 1.4, m2: 1.3 })));
    const s = computeSummary([empty, one, many], [100, 100, 100]);
    const expected = 6 + 4 * 10 + 6;
    expect(s.columns).toHaveLength(expected);
    for (const x of s.x) expect(x).toHaveLength(expected);
    expect(new Set(s.columns).size).toBe(expected);
  });

  it("appends yields per solar mass and the rates today after the channel fractions, when given", () => {
    const table = makeDcoTable([
      { type: "BBH", merges: 1 },
      { type: "BBH", merges: 0 },
      { type: "BNS", merges: 1, m1: 1.4, m2: 1.2 },
    ]);
    const plain = computeSummary([table], [1000]);
    const s = computeSummary([table, makeDcoTable([])], [1000, 10], {
      starFormingMass: [2e5, Number.NaN],
      ratesZ0: [
        { BBH: 12.5, BHNS: 0, BNS: 3.25 },
        { BBH: Number.NaN, BHNS: Number.NaN, BNS: Number.NaN },
      ],
    });
    expect(s.columns.slice(0, plain.columns.length)).toEqual(plain.columns);
    expect(Array.from(s.x[0]!.subarray(0, plain.columns.length))).toEqual(Array.from(plain.x[0]!));
    expect(s.columns.slice(plain.columns.length)).toEqual([
      "yield_per_msun_BBH",
      "yield_per_msun_BBH_merging",
      "yield_per_msun_BHNS",
      "yield_per_msun_BHNS_merging",
      "yield_per_msun_BNS",
      "yield_per_msun_BNS_merging",
      "rate_BBH_z0",
      "rate_BHNS_z0",
      "rate_BNS_z0",
    ]);
    expect(Array.from(s.x[0]!.subarray(plain.columns.length))).toEqual([2 / 2e5, 1 / 2e5, 0, 0, 1 / 2e5, 1 / 2e5, 12.5, 0, 3.25]);
    // An unknown star-forming mass gives NaN, never a silent number.
    expect(entry(s, 1, "yield_per_msun_BBH")).toBeNaN();
    expect(summaryColumns(DEFAULT_SUMMARY_BINS, { perMsun: true })).toHaveLength(plain.columns.length + 6);
  });

  it("counts yields per binary by type, all and merging, from a hand-made table", () => {
    const table = makeDcoTable([
      { type: "BBH", merges: 1 },
      { type: "BBH", merges: 0 },
      { type: "BBH", merges: 1 },
      { type: "BHNS", merges: 0, m1: 8, m2: 1.3 },
      { type: "BNS", merges: 1, m1: 1.4, m2: 1.2 },
      { type: "BNS", merges: 1, m1: 1.5, m2: 1.2 },
    ]);
    const s = computeSummary([table], [1000]);
    expect(entry(s, 0, "yield_BBH")).toBe(3 / 1000);
    expect(entry(s, 0, "yield_BBH_merging")).toBe(2 / 1000);
    expect(entry(s, 0, "yield_BHNS")).toBe(1 / 1000);
    expect(entry(s, 0, "yield_BHNS_merging")).toBe(0);
    expect(entry(s, 0, "yield_BNS")).toBe(2 / 1000);
    expect(entry(s, 0, "yield_BNS_merging")).toBe(2 / 1000);
    expect(s.columns.slice(0, 6)).toEqual([
      "yield_BBH",
      "yield_BBH_merging",
      "yield_BHNS",
      "yield_BHNS_merging",
      "yield_BNS",
      "yield_BNS_merging",
    ]);
  });

  it("normalises each histogram of merging DCOs to 1, and leaves it all zero without merging DCOs", () => {
    const merging = makeDcoTable([
      { merges: 1, chi_eff: 0.3 },
      { merges: 1, chi_eff: -0.05, m1: 1.4, m2: 1.3, type: "BNS" },
      { merges: 0, chi_eff: 0.9 },
    ]);
    const noneMerging = makeDcoTable([{ merges: 0 }, { merges: 0 }]);
    const s = computeSummary([merging, noneMerging, makeDcoTable([])], [10, 10, 10]);
    for (const q of HISTOGRAM_QUANTITIES) {
      const sum = histogram(s, 0, q).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 12);
      expect(histogram(s, 1, q).every((v) => v === 0)).toBe(true);
      expect(histogram(s, 2, q).every((v) => v === 0)).toBe(true);
    }
  });

  it("places merging DCOs in the right bins and ignores non-merging ones", () => {
    // chi_eff edges: -1, -0.8, ..., 1 (10 bins of 0.2): 0.3 -> bin 6, -0.05 -> bin 4.
    const table = makeDcoTable([
      { merges: 1, chi_eff: 0.3 },
      { merges: 1, chi_eff: -0.05 },
      { merges: 1, chi_eff: 0.31 },
      { merges: 0, chi_eff: 0.9 },
    ]);
    const h = histogram(computeSummary([table], [10]), 0, "chi_eff");
    expect(h[6]).toBeCloseTo(2 / 3, 12);
    expect(h[4]).toBeCloseTo(1 / 3, 12);
    expect(h[9]).toBe(0);
  });

  it("clips overflow into the edge bins and keeps q = 1 in the last bin", () => {
    const table = makeDcoTable([
      { merges: 1, m1: 0.2, m2: 0.2, t_form: 0, t_coal: 0 }, // log10 Mc < -0.2, log10 t_delay = -inf
      { merges: 1, m1: 500, m2: 500, t_form: 1e6, t_coal: 1e6 }, // log10 Mc > 2, log10 t_delay > 5
    ]);
    const s = computeSummary([table], [10]);
    const mc = histogram(s, 0, "log10_chirp_mass");
    expect(mc[0]).toBe(0.5);
    expect(mc[9]).toBe(0.5);
    const td = histogram(s, 0, "log10_t_delay");
    expect(td[0]).toBe(0.5);
    expect(td[9]).toBe(0.5);
    expect(histogram(s, 0, "q")[9]).toBe(1);
  });

  it("uses the given bin edges and names the columns after them", () => {
    const bins = { q: [0, 0.5, 1] };
    const s = computeSummary([makeDcoTable([{ m1: 10, m2: 4 }])], [10], { bins });
    expect(s.bins.q).toEqual([0, 0.5, 1]);
    expect(s.bins.chi_eff).toEqual(DEFAULT_SUMMARY_BINS.chi_eff);
    expect(histogram(s, 0, "q")).toEqual([1, 0]);
    expect(s.columns).toEqual(summaryColumns(s.bins));
    expect(s.columns.filter((c) => c.startsWith("hist_q_"))).toEqual(["hist_q_0", "hist_q_1"]);
  });

  it("gives channel fractions over all DCOs, merging or not, including unknown", () => {
    const table = makeDcoTable([
      { channel: "I", merges: 1 },
      { channel: "IV", merges: 0 },
      { channel: "IV", merges: 0 },
      { channel: "unknown", merges: 1 },
    ]);
    const s = computeSummary([table, makeDcoTable([])], [10, 10]);
    expect(entry(s, 0, "frac_channel_I")).toBe(0.25);
    expect(entry(s, 0, "frac_channel_II")).toBe(0);
    expect(entry(s, 0, "frac_channel_IV")).toBe(0.5);
    expect(entry(s, 0, "frac_channel_unknown")).toBe(0.25);
    expect(s.columns.slice(-6)).toEqual([
      "frac_channel_I",
      "frac_channel_II",
      "frac_channel_III",
      "frac_channel_IV",
      "frac_channel_V",
      "frac_channel_unknown",
    ]);
    expect(s.columns.slice(-6).map((c) => entry(s, 1, c))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("rejects non-increasing bins, mismatched run counts and zero systems with OPTIONS_INVALID", () => {
    const t = makeDcoTable([{}]);
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isCompasEnsembleError(e) ? e.code : String(e);
      }
      return "no error";
    };
    expect(codeOf(() => computeSummary([t], [10], { bins: { q: [0, 0.5, 0.5, 1] } }))).toBe("OPTIONS_INVALID");
    expect(codeOf(() => computeSummary([t], [10], { bins: { q: [0] } }))).toBe("OPTIONS_INVALID");
    expect(codeOf(() => computeSummary([t, t], [10]))).toBe("OPTIONS_INVALID");
    expect(codeOf(() => computeSummary([t], [0]))).toBe("OPTIONS_INVALID");
  });

  it("builds equal-width edges that end exactly at max", () => {
    const e = linearEdges(-0.2, 2.0, 10);
    expect(e).toHaveLength(11);
    expect(e[0]).toBe(-0.2);
    expect(e[10]).toBe(2.0);
    expect(e[5]).toBeCloseTo(0.9, 14);
  });
});
