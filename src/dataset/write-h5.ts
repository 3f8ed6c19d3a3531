import { mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type * as H5 from "h5wasm";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { openH5Write } from "../hdf5/h5wasm.js";
import { tempPathFor } from "../util/atomic-write.js";
import { RATE_DCO_TYPES } from "../physics/rates/run-rates.js";
import { RATE_UNITS, sbiDcoColumns, type SbiDataset } from "./types.js";
import { HISTOGRAM_QUANTITIES } from "./summary.js";

/**
 * Version of the HDF5 layout below; bumped only on an incompatible change. 2: DCO columns
 * a_final, e_final and rate_z0, /runs/star_forming_mass and mass bounds, /rates,
 * /rates_combined, x entries appended, root attribute `rates` (docs/sbi-dataset.md).
 */
export const SBI_HDF5_FORMAT_VERSION = 2;

/** Rows per chunk of the compressed DCO columns: big enough for gzip, small enough to slice. */
const DCO_CHUNK_ROWS = 65_536;

/**
 * Writes an SBI dataset as HDF5 for h5py (layout contract in docs/sbi-dataset.md):
 * `/runs/run_id`, `/runs/n_systems`, the star-forming mass and mass bounds under `/runs`,
 * `/theta` and `/x` with a `columns` attribute, one 1-D dataset per DCO column under `/dco`
 * with a `units` attribute, the merger rates under `/rates` and `/rates_combined` (unless
 * switched off), and root attributes with the bins, spin model, rates options and provenance. Strings are fixed-length UTF-8 (h5py reads them as bytes;
 * `.asstr()` gives str). The file is written next to `path` and renamed into place, so a
 * crash never leaves a half-written dataset under the final name.
 * @param dataset - the dataset to write
 * @param path - output file (overwritten)
 */
export async function writeSbiHdf5(dataset: SbiDataset, path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const partial = tempPathFor(path);
  const file = await openH5Write(partial);
  try {
    writeRuns(file, dataset);
    writeDco(file, dataset);
    writeRates(file, dataset);
    writeRootAttributes(file, dataset);
  } catch (cause) {
    file.close();
    rmSync(partial, { force: true });
    if (isCompasEnsembleError(cause)) throw cause;
    throw new CompasEnsembleError("HDF5_UNREADABLE", `Writing the SBI dataset to ${path} failed.`, { cause });
  }
  file.close();
  renameSync(partial, path);
}

function group(parent: H5.Group, name: string): H5.Group {
  return parent.create_group(name);
}

/** Fixed-length UTF-8 dtype wide enough for every value (HDF5 forbids zero width). */
function stringDtype(values: readonly string[]): string {
  const width = values.reduce((w, v) => Math.max(w, Buffer.byteLength(v, "utf8")), 1);
  return `S${width}`;
}

function writeRuns(file: H5.File, d: SbiDataset): void {
  const nRuns = d.runIds.length;
  const runs = group(file, "runs");
  runs.create_dataset({ name: "run_id", data: d.runIds, dtype: stringDtype(d.runIds) });
  runs.create_dataset({ name: "n_systems", data: BigInt64Array.from(d.nSystems, BigInt), dtype: "<q" });
  const perRun = (name: string, values: Float64Array) =>
    runs.create_dataset({ name, data: values, shape: [nRuns], dtype: "<d" }).create_attribute("units", "Msol", null, "S");
  perRun("star_forming_mass", d.runMass.starFormingMass);
  perRun("m1_min", d.runMass.m1Min);
  perRun("m1_max", d.runMass.m1Max);
  perRun("m2_min", d.runMass.m2Min);
  matrix(file, "theta", d.theta, d.thetaColumns, nRuns);
  matrix(file, "x", d.x, d.xColumns, nRuns);
}

function matrix(file: H5.Group, name: string, rows: readonly Float64Array[], columns: readonly string[], nRows: number): H5.Dataset {
  const width = columns.length;
  const flat = new Float64Array(nRows * width);
  rows.forEach((row, i) => {
    if (row.length !== width) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `Row ${i} of /${name} has ${row.length} values but ${width} columns.`);
    }
    flat.set(row, i * width);
  });
  const ds = file.create_dataset({ name, data: flat, shape: [nRows, width], dtype: "<d" });
  ds.create_attribute("columns", [...columns], [width], "S");
  return ds;
}

/** Rows of equal length as one (n_rows, width) float64 dataset with a `units` attribute. */
function rows(parent: H5.Group, name: string, values: readonly Float64Array[], width: number, units: string): void {
  const flat = new Float64Array(values.length * width);
  values.forEach((row, i) => flat.set(row, i * width));
  parent.create_dataset({ name, data: flat, shape: [values.length, width], dtype: "<d" }).create_attribute("units", units, null, "S");
}

function writeRates(file: H5.File, d: SbiDataset): void {
  const { z, perRun, combined } = d.rates;
  if (z === null || perRun === null || combined === null) return;
  const nz = z.length;
  const rates = group(file, "rates");
  rates.create_dataset({ name: "z", data: z, shape: [nz], dtype: "<d" }).create_attribute("units", "-", null, "S");
  for (const type of RATE_DCO_TYPES) rows(rates, type, perRun[type], nz, RATE_UNITS);

  const out = group(file, "rates_combined");
  const nGroups = combined.theta.length;
  const theta = matrix(out, "theta", combined.theta.map((t) => Float64Array.from(t)), combined.columns, nGroups);
  theta.create_attribute("units", "alpha_ce -, lambda_ce -, kick_sigma km s^-1, mass_transfer_fa -", null, "S");
  const width = combined.runs.reduce((w, r) => Math.max(w, r.length), 0);
  const members = new Int32Array(nGroups * width).fill(-1);
  combined.runs.forEach((r, i) => members.set(r, i * width));
  out.create_dataset({ name: "runs", data: members, shape: [nGroups, width], dtype: "<i" }).create_attribute("units", "-", null, "S");
  for (const type of RATE_DCO_TYPES) rows(out, type, combined[type], nz, RATE_UNITS);
}

function writeDco(file: H5.File, d: SbiDataset): void {
  const dco = group(file, "dco");
  const n = d.dco.length;
  // Chunking (needed for gzip) cannot have a zero-sized chunk, so empty columns stay contiguous.
  const storage = n > 0 ? { chunks: [Math.min(n, DCO_CHUNK_ROWS)], compression: "gzip" as const, compression_opts: 4 } : {};
  for (const { name: column, values, units } of sbiDcoColumns(d)) {
    if (values.length !== n) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `DCO column ${column} has ${values.length} rows, expected ${n}.`);
    }
    const ds = Array.isArray(values)
      ? dco.create_dataset({ name: column, data: values as string[], shape: [n], dtype: stringDtype(values as string[]), ...storage })
      : dco.create_dataset({ name: column, data: values, shape: [n], ...storage });
    ds.create_attribute("units", units, null, "S");
  }
}

function writeRootAttributes(file: H5.File, d: SbiDataset): void {
  const text = (name: string, value: string) => file.create_attribute(name, value, null, "S");
  text("format", "compas-ensemble-sbi");
  file.create_attribute("format_version", SBI_HDF5_FORMAT_VERSION, null, "<i");
  text("bins", JSON.stringify(d.bins));
  for (const quantity of HISTOGRAM_QUANTITIES) {
    file.create_attribute(`bins_${quantity}`, Float64Array.from(d.bins[quantity]), null, "<d");
  }
  text("spin_model", JSON.stringify(d.spinModel));
  text("rates", JSON.stringify(d.rates.record));
  text("provenance", JSON.stringify(d.provenance));
  text("library_version", d.provenance.library_version);
  text("source", d.provenance.source);
  text("created_at", d.provenance.created_at);
  file.create_attribute("merging_only", d.mergingOnly ? 1 : 0, null, "<i");
  text("diagnostics", JSON.stringify(d.diagnostics, bigintToString));
}

function bigintToString(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
