import { describe, expect, it } from "vitest";
import { combinedMergerRates, groupByMetallicity, type CombinedRun } from "../../../src/physics/rates/combined.js";
import { mergerRates, ratesContext, type RateDcos } from "../../../src/physics/rates/run-rates.js";
import { maxRelativeDifference } from "./expected.js";

function dcos(delays: number[], type = "BBH"): RateDcos {
  return {
    length: delays.length,
    type: delays.map(() => type),
    t_delay: Float64Array.from(delays),
    merges_hubble_time: new Uint8Array(delays.length).fill(1),
    pessimistic_ce: new Uint8Array(delays.length),
  };
}

const p = (alpha: number, metallicity: number, lambda = 0.1) => ({ alpha_ce: alpha, lambda_ce: lambda, kick_sigma: 217, mass_transfer_fa: 0.5, metallicity });

describe("groupByMetallicity", () => {
  it("groups runs equal in alpha, lambda, kick and fa, by first appearance, members by ascending Z (ties in input order)", () => {
    const groups = groupByMetallicity([p(1, 0.02), p(2, 1e-4), p(1, 1e-4), p(1, 0.02), p(1, 0.001, 0.5)]);
    expect(groups).toEqual([
      { theta: [1, 0.1, 217, 0.5], runs: [2, 0, 3], metallicities: [1e-4, 0.02] },
      { theta: [2, 0.1, 217, 0.5], runs: [1], metallicities: [1e-4] },
      { theta: [1, 0.5, 217, 0.5], runs: [4], metallicities: [0.001] },
    ]);
  });
});

describe("combinedMergerRates", () => {
  const context = ratesContext();
  const extend = ratesContext({ outerZBins: "extend" });
  const delays = [30, 400, 2500, 9000];

  it("with extended outer bins and the same DCOs and mass in every bin, equals the single-metallicity rate (the fractions sum to 1)", () => {
    const runs: CombinedRun[] = [1e-4, 0.001, 0.0142].map((metallicity) => ({ metallicity, starFormingMass: 1e6, dcos: dcos(delays) }));
    const combined = combinedMergerRates(runs, extend);
    const single = mergerRates(dcos(delays), 1e6, extend);
    expect(maxRelativeDifference(combined.BBH, single.BBH)).toBeLessThan(1e-6);
    expect(single.BBH[0]).toBeGreaterThan(0);
  });

  it("with the outer bins dropped, gives less than that: star formation outside the group's metallicities yields nothing", () => {
    const runs: CombinedRun[] = [1e-4, 0.001, 0.0142].map((metallicity) => ({ metallicity, starFormingMass: 1e6, dcos: dcos(delays) }));
    const dropped = combinedMergerRates(runs, context);
    const single = mergerRates(dcos(delays), 1e6, context);
    dropped.BBH.forEach((v, j) => expect(v).toBeLessThanOrEqual(single.BBH[j] as number));
    expect(dropped.BBH[0]).toBeLessThan(0.99 * (single.BBH[0] as number));
  });

  it("lets runs at the same metallicity share its bin with their star-forming masses pooled", () => {
    const split: CombinedRun[] = [
      { metallicity: 1e-4, starFormingMass: 3e5, dcos: dcos([30, 400]) },
      { metallicity: 1e-4, starFormingMass: 7e5, dcos: dcos([2500, 9000]) },
      { metallicity: 0.0142, starFormingMass: 2e6, dcos: dcos([100]) },
    ];
    const pooled: CombinedRun[] = [
      { metallicity: 1e-4, starFormingMass: 1e6, dcos: dcos(delays) },
      { metallicity: 0.0142, starFormingMass: 2e6, dcos: dcos([100]) },
    ];
    const a = combinedMergerRates(split, context);
    const b = combinedMergerRates(pooled, context);
    a.BBH.forEach((v, j) => expect(v).toBeCloseTo(b.BBH[j] as number, 9));
  });

  it("with one metallicity is that metallicity's single-metallicity rate", () => {
    const one = combinedMergerRates([{ metallicity: 0.001, starFormingMass: 1e6, dcos: dcos(delays) }], context);
    const single = mergerRates(dcos(delays), 1e6, context);
    expect(Array.from(one.BBH)).toEqual(Array.from(single.BBH));
  });

  it("is NaN when a member's star-forming mass is unknown, and 0 when no member has a DCO of the type", () => {
    const runs: CombinedRun[] = [
      { metallicity: 1e-4, starFormingMass: Number.NaN, dcos: dcos([30]) },
      { metallicity: 0.02, starFormingMass: 1e6, dcos: dcos([30]) },
    ];
    expect(combinedMergerRates(runs, context).BBH[0]).toBeNaN();
    const ok = combinedMergerRates(
      runs.map((r) => ({ ...r, starFormingMass: 1e6 })),
      context,
    );
    expect(ok.BNS.every((v) => v === 0)).toBe(true);
  });
});
