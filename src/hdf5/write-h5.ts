import { mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type * as H5 from "h5wasm";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { openH5Write } from "./_h5wasm.js";
import { DCO_UNITS } from "./dco-table.js";
import { SBI_DCO_COLUMNS, type SbiDataset } from "./dataset-types.js";
import { HISTOGRAM_QUANTITIES } from "./summary.js";

/** Version of the HDF5 layout below; bumped only on an incompatible change. */
export const SBI_HDF5_FORMAT_VERSION = 1;

/** Rows per chunk of the compressed DCO columns: big enough for gzip, small enough to slice. */
const DCO_CHUNK_ROWS = 65_536;

/**
 * Writes an SBI dataset as HDF5 for h5py (layout contract in docs/sbi-dataset.md):
 * `/runs/run_id`, `/runs/n_systems`, `/theta` and `/x` with a `columns` attribute, one 1-D
 * dataset per DCO column under `/dco` with a `units` attribute, and root attributes with the
 * bins, spin model and provenance. Strings are fixed-length UTF-8 (h5py reads them as bytes;
 * `.asstr()` gives str). The file is written next to `path` and renamed into place, so a
 * crash never leaves a half-written dataset under the final name.
 * @param dataset - the dataset to write
 * @param path - output file (overwritten)
 */
export async function writeSbiHdf5(dataset: SbiDataset, path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.partial`;
  const file = await openH5Write(partial);
  try {
    writeRuns(file, dataset);
    writeDco(file, dataset);
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
  matrix(file, "theta", d.theta, d.thetaColumns, nRuns);
  matrix(file, "x", d.x, d.xColumns, nRuns);
}

function matrix(file: H5.File, name: string, rows: readonly Float64Array[], columns: readonly string[], nRows: number): void {
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
}

function writeDco(file: H5.File, d: SbiDataset): void {
  const dco = group(file, "dco");
  const n = d.dco.length;
  // Chunking (needed for gzip) cannot have a zero-sized chunk, so empty columns stay contiguous.
  const storage = n > 0 ? { chunks: [Math.min(n, DCO_CHUNK_ROWS)], compression: "gzip" as const, compression_opts: 4 } : {};
  for (const column of SBI_DCO_COLUMNS) {
    const values = d.dco[column];
    if (values.length !== n) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `DCO column ${column} has ${values.length} rows, expected ${n}.`);
    }
    const ds = Array.isArray(values)
      ? dco.create_dataset({ name: column, data: values as string[], shape: [n], dtype: stringDtype(values as string[]), ...storage })
      : dco.create_dataset({ name: column, data: values, shape: [n], ...storage });
    ds.create_attribute("units", DCO_UNITS[column], null, "S");
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
