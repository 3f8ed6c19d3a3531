import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { SBI_DCO_COLUMNS, THETA_COLUMNS, type SbiDataset } from "../../src/dataset/types.js";
import { DCO_UNITS } from "../../src/physics/dco-table.js";
import { HISTOGRAM_QUANTITIES } from "../../src/dataset/summary.js";
import { writeSbiHdf5 } from "../../src/dataset/write-h5.js";
import { makeDataset, runPython } from "./dataset-helpers.js";

// Reads the file the way a Python user would, and prints everything as JSON (uint64 as text).
const READ_WITH_H5PY = `
import json, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
def conv(a):
    a = np.asarray(a)
    if a.dtype.kind == "u" and a.dtype.itemsize == 8:
        return [str(v) for v in a.tolist()]
    if a.dtype.kind in "SO":
        return [v.decode("utf-8") if isinstance(v, bytes) else v for v in a.tolist()]
    return a.tolist()
out = {"keys": sorted(f.keys()), "runs_keys": sorted(f["runs"].keys()), "dco_keys": sorted(f["dco"].keys())}
out["run_id_asstr"] = list(f["runs/run_id"].asstr()[()])
out["run_id_is_bytes"] = isinstance(f["runs/run_id"][0], bytes)
out["n_systems"] = f["runs/n_systems"][()].tolist()
for name in ("theta", "x"):
    ds = f[name]
    out[name] = {"shape": list(ds.shape), "dtype": str(ds.dtype), "values": ds[()].tolist(),
                 "columns": [str(c) for c in ds.attrs["columns"]],
                 "columns_type": type(ds.attrs["columns"][0]).__name__}
out["dco"] = {}
for name in f["dco"]:
    ds = f["dco"][name]
    is_str = h5py.check_string_dtype(ds.dtype) is not None
    out["dco"][name] = {"shape": list(ds.shape), "dtype": str(ds.dtype), "kind": ds.dtype.kind,
                        "values": list(ds.asstr()[()]) if is_str else conv(ds[()]),
                        "units": ds.attrs["units"], "units_type": type(ds.attrs["units"]).__name__}
out["runs_extra"] = {k: {"values": f["runs"][k][()].tolist(), "units": f["runs"][k].attrs["units"]}
                     for k in f["runs"] if k not in ("run_id", "n_systems")}
for g in ("rates", "rates_combined"):
    out[g] = {}
    if g in f:
        for k in f[g]:
            ds = f[g][k]
            out[g][k] = {"shape": list(ds.shape), "dtype": str(ds.dtype), "values": ds[()].tolist(), "units": ds.attrs["units"],
                         "columns": [str(c) for c in ds.attrs["columns"]] if "columns" in ds.attrs else None}
attrs = {}
for k, v in f.attrs.items():
    attrs[k] = v.tolist() if isinstance(v, np.ndarray) else (v.item() if isinstance(v, np.generic) else v)
out["attrs"] = attrs
print(json.dumps(out))
`;

interface H5Dump {
  keys: string[];
  runs_keys: string[];
  dco_keys: string[];
  run_id_asstr: string[];
  run_id_is_bytes: boolean;
  n_systems: number[];
  theta: Matrix;
  x: Matrix;
  dco: Record<string, { shape: number[]; dtype: string; kind: string; values: unknown[]; units: string; units_type: string }>;
  runs_extra: Record<string, { values: number[]; units: string }>;
  rates: Record<string, RateDump>;
  rates_combined: Record<string, RateDump>;
  attrs: Record<string, unknown>;
}
interface RateDump {
  shape: number[];
  dtype: string;
  values: unknown;
  units: string;
  columns: string[] | null;
}
interface Matrix {
  shape: number[];
  dtype: string;
  values: number[][];
  columns: string[];
  columns_type: string;
}

describe("writeSbiHdf5", () => {
  let dir: string;
  let dataset: SbiDataset;
  let dump: H5Dump;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sbi-h5-"));
    dataset = makeDataset();
    const path = join(dir, "nested", "sbi.h5");
    await writeSbiHdf5(dataset, path);
    dump = runPython(READ_WITH_H5PY, [path]) as H5Dump;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("has exactly the contract's groups and datasets", () => {
    expect(dump.keys).toEqual(["dco", "rates", "rates_combined", "runs", "theta", "x"]);
    expect(dump.runs_keys).toEqual(["m1_max", "m1_min", "m2_min", "n_systems", "run_id", "star_forming_mass"]);
    expect(dump.dco_keys).toEqual([...SBI_DCO_COLUMNS, "rate_z0"].sort());
  });

  it("writes run ids that h5py decodes to str, and the system counts", () => {
    expect(dump.run_id_asstr).toEqual(dataset.runIds);
    expect(dump.run_id_is_bytes).toBe(true);
    expect(dump.n_systems).toEqual([5000, 10000, 2000]);
  });

  it("writes theta as n_runs x 5 float64 with the parameter names as columns", () => {
    expect(dump.theta.shape).toEqual([3, 5]);
    expect(dump.theta.dtype).toBe("float64");
    expect(dump.theta.columns).toEqual(["alpha_ce", "lambda_ce", "kick_sigma", "metallicity", "mass_transfer_fa"]);
    expect(dump.theta.columns).toEqual([...THETA_COLUMNS]);
    expect(dump.theta.columns_type).toBe("str");
    expect(dump.theta.values).toEqual(dataset.theta.map((r) => Array.from(r)));
  });

  it("writes x as n_runs x d float64 with its column names", () => {
    expect(dump.x.shape).toEqual([3, dataset.xColumns.length]);
    expect(dump.x.dtype).toBe("float64");
    expect(dump.x.columns).toEqual(dataset.xColumns);
    expect(dump.x.values).toEqual(dataset.x.map((r) => Array.from(r)));
  });

  it("writes every DCO column as a 1-D dataset equal to the in-memory table, with units", () => {
    const n = dataset.dco.length;
    expect(n).toBe(4);
    for (const column of SBI_DCO_COLUMNS) {
      const got = dump.dco[column]!;
      expect(got.shape, column).toEqual([n]);
      expect(got.units, column).toBe(DCO_UNITS[column]);
      expect(got.units_type, column).toBe("str");
      const mem = dataset.dco[column];
      const expected = mem instanceof BigUint64Array ? Array.from(mem, String) : Array.from(mem as ArrayLike<unknown>);
      expect(got.values, column).toEqual(expected);
    }
    expect(dump.dco.seed!.dtype).toBe("uint64");
    expect(dump.dco.seed!.values).toContain("18446744073709551615");
    expect(dump.dco.run_index!.values).toEqual([0, 0, 0, 2]);
    expect(dump.dco.merges_hubble_time!.dtype).toBe("uint8");
    expect(dump.dco.m1!.dtype).toBe("float64");
    expect(dump.dco.type!.values).toEqual(["BBH", "BHNS", "BNS", "BBH"]);
    expect(dump.dco.type!.kind).toBe("S");
    expect(dump.dco.channel!.values).toEqual(["I", "IV", "unknown", "V"]);
    expect(dump.dco.t_delay!.units).toBe("Myr");
    expect(dump.dco.a_final!.units).toBe("AU");
    expect(dump.dco.e_final!.units).toBe("-");
    expect(dump.dco.rate_z0!.units).toBe("Gpc^-3 yr^-1");
    expect(dump.dco.rate_z0!.values).toEqual(Array.from(dataset.dco.rate_z0!));
  });

  it("records bins, spin model and provenance as root attributes", () => {
    const a = dump.attrs;
    expect(JSON.parse(a.bins as string)).toEqual(dataset.bins);
    for (const q of HISTOGRAM_QUANTITIES) expect(a[`bins_${q}`]).toEqual(dataset.bins[q]);
    expect(JSON.parse(a.spin_model as string)).toEqual(dataset.spinModel);
    expect(JSON.parse(a.provenance as string)).toEqual(dataset.provenance);
    expect(a.library_version).toBe("9.9.9-test");
    expect(a.source).toBe("/nowhere/ensemble_metadata.json");
    expect(a.created_at).toBe("2026-01-02T03:04:05.000Z");
    expect(a.merging_only).toBe(0);
    expect(a.format).toBe("compas-ensemble-sbi");
    expect(a.format_version).toBe(2);
    expect(JSON.parse(a.rates as string)).toEqual(dataset.rates.record);
  });

  it("writes the star-forming mass and mass bounds per run with units Msol", () => {
    expect(dump.runs_extra.star_forming_mass!.values).toEqual(Array.from(dataset.runMass.starFormingMass));
    expect(dump.runs_extra.m1_min!.values).toEqual([5, 5, 5]);
    expect(dump.runs_extra.m1_max!.values).toEqual([150, 150, 150]);
    expect(dump.runs_extra.m2_min!.values).toEqual([0.1, 0.1, 0.1]);
    for (const name of ["star_forming_mass", "m1_min", "m1_max", "m2_min"]) expect(dump.runs_extra[name]!.units, name).toBe("Msol");
  });

  it("writes R(z) per run as (n_runs, n_z) with the z grid, and an empty /rates_combined when no group has two metallicities", () => {
    const nz = dataset.rates.z!.length;
    expect(dump.rates.z!.shape).toEqual([nz]);
    expect(dump.rates.z!.units).toBe("-");
    for (const type of ["BBH", "BHNS", "BNS"] as const) {
      expect(dump.rates[type]!.shape).toEqual([3, nz]);
      expect(dump.rates[type]!.units).toBe("Gpc^-3 yr^-1");
      expect(dump.rates[type]!.values).toEqual(dataset.rates.perRun![type].map((r) => Array.from(r)));
      expect(dump.rates_combined[type]!.shape).toEqual([0, nz]);
    }
    expect(dump.rates_combined.theta!.shape).toEqual([0, 4]);
    expect(dump.rates_combined.theta!.columns).toEqual(["alpha_ce", "lambda_ce", "kick_sigma", "mass_transfer_fa"]);
    expect(dump.rates_combined.runs!.shape).toEqual([0, 0]);
  });

  it("pads /rates_combined/runs with -1 for groups of different sizes", async () => {
    // Runs A and B share alpha (Z 1e-4 and 0.0142); C alone is combined only because the option says so.
    const grouped = makeDataset({ alphas: [1, 1, 3], rates: { combineSingleMetallicity: true } });
    const path = join(dir, "grouped.h5");
    await writeSbiHdf5(grouped, path);
    const got = runPython(READ_WITH_H5PY, [path]) as H5Dump;
    expect(got.rates_combined.runs!.values).toEqual([
      [0, 1],
      [2, -1],
    ]);
    expect(got.rates_combined.runs!.dtype).toBe("int32");
    expect(got.rates_combined.theta!.values).toEqual([
      [1, 0.1, 217, 0.5],
      [3, 0.1, 217, 0.5],
    ]);
    expect(got.rates_combined.BBH!.values).toEqual(grouped.rates.combined!.BBH.map((r) => Array.from(r)));
  });

  it("leaves out /rates, /rates_combined and /dco/rate_z0 when rates are switched off, and records that", async () => {
    const off = makeDataset({ rates: { enabled: false } });
    const path = join(dir, "off.h5");
    await writeSbiHdf5(off, path);
    const got = runPython(READ_WITH_H5PY, [path]) as H5Dump;
    expect(got.keys).toEqual(["dco", "runs", "theta", "x"]);
    expect(got.dco_keys).toEqual([...SBI_DCO_COLUMNS].sort());
    expect(JSON.parse(got.attrs.rates as string).enabled).toBe(false);
    expect(got.runs_keys).toContain("star_forming_mass");
  });

  it("writes an empty DCO table as zero-length columns that h5py reads", async () => {
    const base = makeDataset({ mergingOnly: true });
    const d: SbiDataset = { ...base, dco: { ...base.dco, length: 0, ...emptyColumns() } };
    const path = join(dir, "empty.h5");
    await writeSbiHdf5(d, path);
    const got = runPython(READ_WITH_H5PY, [path]) as H5Dump;
    for (const column of SBI_DCO_COLUMNS) expect(got.dco[column]!.shape, column).toEqual([0]);
    expect(got.attrs.merging_only).toBe(1);
    expect(existsSync(`${path}.partial`)).toBe(false);
  });

  it("rejects an x row of the wrong length with OPTIONS_INVALID and leaves no file behind", async () => {
    const bad: SbiDataset = { ...dataset, x: [dataset.x[0]!, dataset.x[1]!.subarray(1), dataset.x[2]!] };
    const path = join(dir, "bad.h5");
    const err = await writeSbiHdf5(bad, path).catch((e) => e);
    expect(isCompasEnsembleError(err, "OPTIONS_INVALID")).toBe(true);
    expect(String(err.message)).toContain("/x");
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.partial`)).toBe(false);
  });
});

function emptyColumns() {
  const f = () => new Float64Array(0);
  return {
    run_index: new Int32Array(0),
    seed: new BigUint64Array(0),
    m1: f(),
    m2: f(),
    q: f(),
    chirp_mass: f(),
    type: [],
    t_form: f(),
    t_coal: f(),
    t_delay: f(),
    merges_hubble_time: new Uint8Array(0),
    chi1: f(),
    chi2: f(),
    tilt1: f(),
    tilt2: f(),
    chi_eff: f(),
    chi_p: f(),
    channel: [],
    pessimistic_ce: new Uint8Array(0),
    a_final: f(),
    e_final: f(),
    rate_z0: f(),
  };
}
