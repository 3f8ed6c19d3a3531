import { describe, expect, it } from "vitest";
import { ageMyr, redshiftAtAgeMyr } from "../../../src/physics/rates/cosmology.js";
import { DEFAULT_RATES_OPTIONS } from "../../../src/physics/rates/options.js";
import { mergerRates, ratesContext, selectRateRows, type RateDcos } from "../../../src/physics/rates/run-rates.js";
import { starFormationRate } from "../../../src/physics/rates/sfr.js";

function dcos(rows: { type: string; delay: number; merges?: number; pessimistic?: number }[]): RateDcos {
  return {
    length: rows.length,
    type: rows.map((r) => r.type),
    t_delay: Float64Array.from(rows, (r) => r.delay),
    merges_hubble_time: Uint8Array.from(rows, (r) => r.merges ?? 1),
    pessimistic_ce: Uint8Array.from(rows, (r) => r.pessimistic ?? 0),
  };
}

const SAMPLE = dcos([
  { type: "BBH", delay: 50 },
  { type: "BBH", delay: 2000 },
  { type: "BBH", delay: 800, merges: 0 },
  { type: "BHNS", delay: 300 },
  { type: "BHNS", delay: 400, pessimistic: 1 },
  { type: "BNS", delay: 20 },
]);

describe("single-metallicity merger rates of a set of DCOs", () => {
  const context = ratesContext();

  it("counts by type only DCOs that merge in a Hubble time and have no pessimistic-CE flag, unless told otherwise", () => {
    const rows = selectRateRows(SAMPLE, DEFAULT_RATES_OPTIONS.selection);
    expect(Array.from(rows.BBH)).toEqual([0, 1]);
    expect(Array.from(rows.BHNS)).toEqual([3]);
    expect(Array.from(rows.BNS)).toEqual([5]);
    const all = selectRateRows(SAMPLE, { mergesHubbleTime: false, excludePessimisticCe: false });
    expect(Array.from(all.BBH)).toEqual([0, 1, 2]);
    expect(Array.from(all.BHNS)).toEqual([3, 4]);
  });

  it("divides SFR(z_form) in Gpc^-3 by the star-forming mass: one BNS with a 20 Myr delay at z = 0", () => {
    const mass = 1e6;
    const r = mergerRates(SAMPLE, mass, context);
    const zForm = redshiftAtAgeMyr(ageMyr(0, DEFAULT_RATES_OPTIONS.cosmology) - 20, DEFAULT_RATES_OPTIONS.cosmology);
    const want = (starFormationRate(zForm, DEFAULT_RATES_OPTIONS.sfr) * 1e9) / mass;
    expect(Math.abs((r.BNS[0] as number) / want - 1)).toBeLessThan(1e-7);
  });

  it("gives each DCO its share of the rate today: the shares of a type sum to R(0), and DCOs outside the selection get 0", () => {
    const r = mergerRates(SAMPLE, 5e5, context);
    expect(r.rateZ0[2]).toBe(0);
    expect(r.rateZ0[4]).toBe(0);
    expect((r.rateZ0[0] as number) + (r.rateZ0[1] as number)).toBeCloseTo(r.BBH[0] as number, 12);
    expect(r.rateZ0[3]).toBeCloseTo(r.BHNS[0] as number, 12);
    expect(r.z).toBe(context.grid.z);
  });

  it("is 0, not NaN, without DCOs, and NaN when the star-forming mass is unknown", () => {
    const none = mergerRates(dcos([]), 1e6, context);
    for (const t of ["BBH", "BHNS", "BNS"] as const) expect(none[t].every((v) => v === 0)).toBe(true);
    const unknown = mergerRates(SAMPLE, Number.NaN, context);
    expect(unknown.BBH.every((v) => Number.isNaN(v))).toBe(true);
    expect(unknown.BNS.every((v) => Number.isNaN(v))).toBe(true);
    expect(mergerRates(SAMPLE, 0, context).BBH[0]).toBeNaN();
  });

  it("takes its options directly: a doubled SFR normalisation doubles every rate", () => {
    const base = mergerRates(SAMPLE, 1e6);
    const doubled = mergerRates(SAMPLE, 1e6, { sfr: { a: 0.02 } });
    base.BBH.forEach((v, j) => expect(doubled.BBH[j]).toBeCloseTo(2 * v, 9));
  });

  it("sums a million DCOs like a million copies of one", () => {
    const n = 1_000_000;
    const many: RateDcos = {
      length: n,
      type: new Array<string>(n).fill("BNS"),
      t_delay: new Float64Array(n).fill(13_000),
      merges_hubble_time: new Uint8Array(n).fill(1),
      pessimistic_ce: new Uint8Array(n),
    };
    const r = mergerRates(many, 1e9, context);
    const one = mergerRates(dcos([{ type: "BNS", delay: 13_000 }]), 1e9, context);
    expect(r.BNS[0]).toBeCloseTo(n * (one.BNS[0] as number), 6);
  });
});
