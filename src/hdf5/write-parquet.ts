import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Table, Utf8, makeVector, vectorFromArray, tableToIPC, type Vector } from "apache-arrow";
import * as parquet from "parquet-wasm";
import { CompasEnsembleError } from "../errors.js";
import { DCO_UNITS } from "./dco-table.js";
import { SBI_DCO_COLUMNS, type SbiDataset } from "./dataset-types.js";

/** Key of the Parquet key-value metadata entry holding the dataset's description (JSON). */
export const SBI_PARQUET_METADATA_KEY = "compas_ensemble_sbi";

/** Paths of the two Parquet files written for one dataset. */
export interface SbiParquetPaths {
  /** One row per DCO. */
  dco: string;
  /** One row per run: run_id, n_systems, theta and x columns. */
  runs: string;
}

/**
 * Where {@link writeSbiParquet} puts the per-run table for a given DCO file:
 * `<base>.runs.parquet`, with `<base>` the path without its `.parquet` extension.
 * @param path - the DCO table's path
 */
export function sbiParquetPaths(path: string): SbiParquetPaths {
  const base = path.endsWith(".parquet") ? path.slice(0, -".parquet".length) : path;
  return { dco: path, runs: `${base}.runs.parquet` };
}

/**
 * Writes an SBI dataset as two Parquet files for pandas (`pd.read_parquet`): the DCO table at
 * `path` (columns `run_index`, `run_id`, the five theta columns, then the DCO columns with the
 * HDF5 layout's names) and the per-run table at `<base>.runs.parquet` (`run_index`, `run_id`,
 * `n_systems`, theta columns, x columns). Both carry the key-value metadata entry
 * {@link SBI_PARQUET_METADATA_KEY}: JSON with units, bins, spin model and provenance.
 * @param dataset - the dataset to write
 * @param path - the DCO table's path (overwritten)
 * @returns the paths written
 */
export async function writeSbiParquet(dataset: SbiDataset, path: string): Promise<SbiParquetPaths> {
  const paths = sbiParquetPaths(path);
  const metadata = JSON.stringify({
    format: "compas-ensemble-sbi-parquet",
    format_version: 1,
    theta_columns: dataset.thetaColumns,
    x_columns: dataset.xColumns,
    units: DCO_UNITS,
    bins: dataset.bins,
    merging_only: dataset.mergingOnly,
    spin_model: dataset.spinModel,
    provenance: dataset.provenance,
  });
  mkdirSync(dirname(path), { recursive: true });
  writeAtomically(paths.dco, toParquet(dcoColumns(dataset), metadata, dataset.provenance.library_version));
  writeAtomically(paths.runs, toParquet(runColumns(dataset), metadata, dataset.provenance.library_version));
  return paths;
}

function dcoColumns(d: SbiDataset): Record<string, Vector> {
  const n = d.dco.length;
  const runIndex = d.dco.run_index;
  const columns: Record<string, Vector> = {
    run_index: makeVector(runIndex),
    run_id: vectorFromArray(Array.from(runIndex, (r) => d.runIds[r] as string), new Utf8()),
  };
  d.thetaColumns.forEach((name, j) => {
    columns[name] = makeVector(Float64Array.from(runIndex, (r) => (d.theta[r] as Float64Array)[j] as number));
  });
  for (const name of SBI_DCO_COLUMNS) {
    if (name === "run_index") continue;
    const values = d.dco[name];
    if (values.length !== n) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `DCO column ${name} has ${values.length} rows, expected ${n}.`);
    }
    columns[name] = Array.isArray(values) ? vectorFromArray(values as string[], new Utf8()) : makeVector(values);
  }
  return columns;
}

function runColumns(d: SbiDataset): Record<string, Vector> {
  const columns: Record<string, Vector> = {
    run_index: makeVector(Int32Array.from(d.runIds, (_, i) => i)),
    run_id: vectorFromArray(d.runIds, new Utf8()),
    n_systems: makeVector(BigInt64Array.from(d.nSystems, BigInt)),
  };
  const matrixColumns = (rows: Float64Array[], names: string[]) =>
    names.forEach((name, j) => {
      if (name in columns) {
        throw new CompasEnsembleError("OPTIONS_INVALID", `Column ${name} appears twice in the per-run Parquet table.`);
      }
      columns[name] = makeVector(Float64Array.from(rows, (r) => r[j] as number));
    });
  matrixColumns(d.theta, d.thetaColumns);
  matrixColumns(d.x, d.xColumns);
  return columns;
}

function toParquet(columns: Record<string, Vector>, metadata: string, libraryVersion: string): Uint8Array {
  const ipc = tableToIPC(new Table(columns), "stream");
  const table = parquet.Table.fromIPCStream(ipc);
  const props = new parquet.WriterPropertiesBuilder()
    // Snappy: read by pyarrow and fastparquet alike, which is what pandas uses.
    .setCompression(parquet.Compression.SNAPPY)
    .setCreatedBy(`compas-ensemble ${libraryVersion}`)
    .setKeyValueMetadata(new Map([[SBI_PARQUET_METADATA_KEY, metadata]]))
    .build();
  return parquet.writeParquet(table, props);
}

function writeAtomically(path: string, bytes: Uint8Array): void {
  const partial = `${path}.partial`;
  writeFileSync(partial, bytes);
  renameSync(partial, path);
}
