/**
 * The description of every rates parameter that goes into an output next to the numbers
 * (docs/rates.md, "What the outputs record"), so that a file can be understood, and the
 * computation repeated, without the library.
 */
import { GROUP_AXES } from "./combined.js";
import { LN_Z_RANGE } from "./mssfr.js";
import { zGridSize, type ResolvedRatesOptions } from "./options.js";
import { RATE_DCO_TYPES } from "./run-rates.js";
import { KROUPA_BREAKS_MSOL, KROUPA_SLOPES } from "./star-forming-mass.js";

/**
 * JSON-ready record of the rates options (snake_case keys, units and references), written as
 * the `rates` attribute of the HDF5 file and in the Parquet and NPY metadata.
 * @param o - resolved options
 */
export function ratesRecord(o: ResolvedRatesOptions): Record<string, unknown> {
  const { m } = zGridSize(o);
  return {
    definitions: "docs/rates.md",
    enabled: o.enabled,
    f_bin: o.fBin,
    star_forming_mass: {
      imf: "KROUPA",
      imf_breaks_msol: [...KROUPA_BREAKS_MSOL],
      imf_slopes: [...KROUPA_SLOPES],
      mass_ratio_distribution: "FLAT",
      formula: "m_rep = m_avg (1.5 + (1 - f_bin)/f_bin) / f_int per simulated binary (Mandel; COMPAS totalMassEvolvedPerZ.py)",
      units: "Msol",
    },
    sfr: { form: "a (1+z)^b / (1 + ((1+z)/c)^d)", a: o.sfr.a, b: o.sfr.b, c: o.sfr.c, d: o.sfr.d, units: "Msol yr^-1 Mpc^-3" },
    mssfr: {
      form: "log-normal in ln Z, mean metallicity mu0 10^(muz z), width sigma0, no skew",
      mu0: o.mssfr.mu0,
      muz: o.mssfr.muz,
      sigma0: o.mssfr.sigma0,
      sigma_z: 0,
      skew: 0,
      normalised_over_ln_z: [...LN_Z_RANGE],
    },
    cosmology: { model: "flat Lambda-CDM without radiation", H0: o.cosmology.H0, Omega_m: o.cosmology.omegaM, H0_units: "km s^-1 Mpc^-1" },
    z_grid: { z_min: 0, z_max: o.zMax, z_step: o.zStep, n_z: m + 1 },
    z_first_sf: o.zFirstSf,
    outer_z_bins: o.outerZBins,
    combine_single_metallicity: o.combineSingleMetallicity,
    group_by: [...GROUP_AXES],
    selection: {
      types: [...RATE_DCO_TYPES],
      merges_hubble_time: o.selection.mergesHubbleTime ? 1 : "any",
      pessimistic_ce: o.selection.excludePessimisticCe ? 0 : "any",
    },
    units: { rate: "Gpc^-3 yr^-1", star_forming_mass: "Msol", yield_per_msun: "Msol^-1" },
    references: [
      "Neijssel et al. 2019, MNRAS 490, 3740",
      "Madau & Dickinson 2014, ARA&A 52, 415",
      "Kroupa 2001, MNRAS 322, 231",
      "Planck Collaboration 2020, A&A 641, A6",
    ],
  };
}
