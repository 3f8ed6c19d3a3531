import { describe, expect, it } from "vitest";
import { resolveRatesOptions } from "../../../src/physics/rates/options.js";
import { ratesRecord } from "../../../src/physics/rates/record.js";

describe("ratesRecord", () => {
  it("records every parameter of docs/rates.md with its value, in snake_case for Python readers", () => {
    const r = ratesRecord(
      resolveRatesOptions({ fBin: 0.5, sfr: { d: 5 }, mssfr: { sigma0: 0.5 }, zStep: 0.005, zMax: 8, outerZBins: "extend", cosmology: { H0: 70 } }),
    );
    expect(r).toMatchObject({
      enabled: true,
      f_bin: 0.5,
      sfr: { a: 0.01, b: 2.77, c: 2.9, d: 5 },
      mssfr: { mu0: 0.035, muz: -0.23, sigma0: 0.5, sigma_z: 0, skew: 0, normalised_over_ln_z: [-12, 0] },
      cosmology: { H0: 70, Omega_m: 0.30966 },
      z_grid: { z_min: 0, z_max: 8, z_step: 0.005, n_z: 1601 },
      z_first_sf: 10,
      outer_z_bins: "extend",
      combine_single_metallicity: false,
      group_by: ["alpha_ce", "lambda_ce", "kick_sigma", "mass_transfer_fa"],
      selection: { types: ["BBH", "BHNS", "BNS"], merges_hubble_time: 1, pessimistic_ce: 0 },
      star_forming_mass: { imf: "KROUPA", imf_breaks_msol: [0.01, 0.08, 0.5, 200], imf_slopes: [0.3, 1.3, 2.3], mass_ratio_distribution: "FLAT" },
    });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it("says when a cut of the selection is off", () => {
    const r = ratesRecord(resolveRatesOptions({ selection: { excludePessimisticCe: false } }));
    expect(r.selection).toMatchObject({ merges_hubble_time: 1, pessimistic_ce: "any" });
  });
});
