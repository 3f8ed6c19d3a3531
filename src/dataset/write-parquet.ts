import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type * as Arrow from "apache-arrow";
import type * as Parquet from "parquet-wasm";
import { CompasEnsembleError } from "../errors.js";
import { replaceAtomicallySync } from "../util/atomic-write.js";
import { RATE_DCO_TYPES } from "../physics/rates/run-rates.js";
import { DCO_UNITS } from "../physics/dco-table.js";
import { RATE_UNITS, sbiDcoColumns, type SbiDataset } from "./types.js";

type Vector = Arrow.Vector;

// The Parquet backend (Arrow and parquet-wasm, megabytes of code and WebAssembly) is loaded
// by the first writeSbiParquet, so that nothing else that imports this package pays for it.
let arrow: typeof Arrow;
let parquet: typeof Parquet;
let loading: Promise<void> | undefined;

function loadBackend(): Promise<void> {
  loading ??= Promise.all([import("apache-arrow"), import("parquet-wasm")]).then(([a, p]) => {
    arrow = a;
    parquet = p;
  });
  return loading;
}

/** Key of the Parquet key-value metadata entry holding the dataset's description (JSON). */
export const SBI_PARQUET_METADATA_KEY = "compas_ensemble_sbi";

/** Paths of the Parquet files written for one dataset. */
export interface SbiParquetPaths {
  /** One row per DCO. */
  dco: string;
  /** One row per run: run_id, n_systems, theta and x columns, star-forming mass and mass bounds. */
  runs: string;
  /** Merger rates in long form (kind, index, type, z, rate); written only when rates are on. */
  rates?: string;
}

/**
 * Where {@link writeSbiParquet} puts the per-run table and the rates for a given DCO file:
 * `<base>.runs.parquet` and `<base>.rates.parquet`, with `<base>` the path without its
 * `.parquet` extension.
 * @param path - the DCO table's path
 */
export function sbiParquetPaths(path: string): SbiParquetPaths {
  const base = path.endsWith(".parquet") ? path.slice(0, -".parquet".length) : path;
  return { dco: path, runs: `${base}.runs.parquet`, rates: `${base}.rates.parquet` };
}

/**
 * Writes an SBI dataset as Parquet files for pandas (`pd.read_parquet`): the DCO table at
 * `path` (columns `run_index`, `run_id`, the five theta columns, then the DCO columns with the
 * HDF5 layout's names), the per-run table at `<base>.runs.parquet` (`run_index`, `run_id`,
 * `n_systems`, theta columns, x columns, then `star_forming_mass`, `m1_min`, `m1_max`,
 * `m2_min`) and, when rates are on, the merger rates at `<base>.rates.parquet` (one row per
 * run or group, type and redshift: `kind` "run" or "group", `index` (run_index or group),
 * `type`, `z`, `rate`). All carry the key-value metadata entry
 * {@link SBI_PARQUET_METADATA_KEY}: JSON with units, bins, spin model, rates options, the
 * metallicity groups and provenance.
 * @param dataset - the dataset to write
 * @param path - the DCO table's path (overwritten)
 * @returns the paths written (`rates` only when written)
 */
export async function writeSbiParquet(dataset: SbiDataset, path: string): Promise<SbiParquetPaths> {
  await loadBackend();
  const paths = sbiParquetPaths(path);
  const combined = dataset.rates.combined;
  const metadata = JSON.stringify({
    format: "compas-ensemble-sbi-parquet",
    format_version: 2,
    theta_columns: dataset.thetaColumns,
    x_columns: dataset.xColumns,
    units: { ...DCO_UNITS, rate_z0: RATE_UNITS, star_forming_mass: "Msol", m1_min: "Msol", m1_max: "Msol", m2_min: "Msol", rate: RATE_UNITS },
    bins: dataset.bins,
    merging_only: dataset.mergingOnly,
    spin_model: dataset.spinModel,
    rates: dataset.rates.record,
    rates_combined: combined === null ? null : { columns: combined.columns, theta: combined.theta, runs: combined.runs },
    provenance: dataset.provenance,
  });
  mkdirSync(dirname(path), { recursive: true });
  writeAtomically(paths.dco, toParquet(dcoColumns(dataset), metadata, dataset.provenance.library_version));
  writeAtomically(paths.runs, toParquet(runColumns(dataset), metadata, dataset.provenance.library_version));
  const rates = rateColumns(dataset);
  if (rates === null) return { dco: paths.dco, runs: paths.runs };
  writeAtomically(paths.rates as string, toParquet(rates, metadata, dataset.provenance.library_version));
  return paths;
}

/** The rates in long form: one row per (run or group, type, z). */
function rateColumns(d: SbiDataset): Record<string, Vector> | null {
  const { z, perRun, combined } = d.rates;
  if (z === null || perRun === null || combined === null) return null;
  const nz = z.length;
  const series: { kind: string; index: number; type: string; values: Float64Array }[] = [];
  for (const type of RATE_DCO_TYPES) perRun[type].forEach((values, index) => series.push({ kind: "run", index, type, values }));
  for (const type of RATE_DCO_TYPES) combined[type].forEach((values, index) => series.push({ kind: "group", index, type, values }));
  const n = series.length * nz;
  const kind: string[] = new Array<string>(n);
  const type: string[] = new Array<string>(n);
  const index = new Int32Array(n);
  const zs = new Float64Array(n);
  const rate = new Float64Array(n);
  series.forEach((s, i) => {
    for (let j = 0; j < nz; j++) {
      const at = i * nz + j;
      kind[at] = s.kind;
      type[at] = s.type;
      index[at] = s.index;
      zs[at] = z[j] as number;
      rate[at] = s.values[j] as number;
    }
  });
  return {
    kind: arrow.vectorFromArray(kind, new arrow.Utf8()),
    index: arrow.makeVector(index),
    type: arrow.vectorFromArray(type, new arrow.Utf8()),
    z: arrow.makeVector(zs),
    rate: arrow.makeVector(rate),
  };
}

function dcoColumns(d: SbiDataset): Record<string, Vector> {
  const n = d.dco.length;
  const runIndex = d.dco.run_index;
  const columns: Record<string, Vector> = {
    run_index: arrow.makeVector(runIndex),
    run_id: arrow.vectorFromArray(Array.from(runIndex, (r) => d.runIds[r] as string), new arrow.Utf8()),
  };
  d.thetaColumns.forEach((name, j) => {
    columns[name] = arrow.makeVector(Float64Array.from(runIndex, (r) => (d.theta[r] as Float64Array)[j] as number));
  });
  for (const { name, values } of sbiDcoColumns(d)) {
    if (name === "run_index") continue;
    if (values.length !== n) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `DCO column ${name} has ${values.length} rows, expected ${n}.`);
    }
    columns[name] = Array.isArray(values) ? arrow.vectorFromArray(values as string[], new arrow.Utf8()) : arrow.makeVector(values);
  }
  return columns;
}

function runColumns(d: SbiDataset): Record<string, Vector> {
  const columns: Record<string, Vector> = {
    run_index: arrow.makeVector(Int32Array.from(d.runIds, (_, i) => i)),
    run_id: arrow.vectorFromArray(d.runIds, new arrow.Utf8()),
    n_systems: arrow.makeVector(BigInt64Array.from(d.nSystems, BigInt)),
  };
  const matrixColumns = (rows: Float64Array[], names: string[]) =>
    names.forEach((name, j) => {
      if (name in columns) {
        throw new CompasEnsembleError("OPTIONS_INVALID", `Column ${name} appears twice in the per-run Parquet table.`);
      }
      columns[name] = arrow.makeVector(Float64Array.from(rows, (r) => r[j] as number));
    });
  matrixColumns(d.theta, d.thetaColumns);
  matrixColumns(d.x, d.xColumns);
  const m = d.runMass;
  matrixColumns(
    d.runIds.map((_, i) => Float64Array.of(m.starFormingMass[i] as number, m.m1Min[i] as number, m.m1Max[i] as number, m.m2Min[i] as number)),
    ["star_forming_mass", "m1_min", "m1_max", "m2_min"],
  );
  return columns;
}

function toParquet(columns: Record<string, Vector>, metadata: string, libraryVersion: string): Uint8Array {
  const ipc = arrow.tableToIPC(new arrow.Table(columns), "stream");
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
  replaceAtomicallySync(path, (tmp) => writeFileSync(tmp, bytes, { flag: "wx" }));
}
