import { existsSync, lstatSync, type Stats, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CompasEnsembleError } from "../errors.js";
import { tempPathFor } from "../util/atomic-write.js";
import { RATE_DCO_TYPES } from "../physics/rates/run-rates.js";
import { RATE_UNITS, sbiDcoColumns, type SbiDataset } from "./types.js";

/** Minimum width of the DCO string columns ('<U7' holds every type and channel label). */
const MIN_DCO_STRING_WIDTH = 7;

/**
 * Encodes an array in NumPy's .npy format, version 1.0: magic, header length, a Python dict
 * literal padded with spaces to a 64-byte boundary (what numpy itself writes), then raw data
 * in C order.
 * @param descr - NumPy dtype string, e.g. '<f8', '|u1', '<U7'
 * @param shape - array shape
 * @param data - little-endian element bytes, C order
 */
export function encodeNpy(descr: string, shape: readonly number[], data: Uint8Array): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const preamble = 10; // 6 magic + 2 version + 2 header length
  const unpadded = preamble + dict.length + 1; // + '\n'
  const headerLength = dict.length + 1 + ((64 - (unpadded % 64)) % 64);
  if (headerLength > 0xffff) throw new CompasEnsembleError("OPTIONS_INVALID", `An npy header of ${headerLength} bytes does not fit .npy version 1.0 (at most 65535).`);
  const out = new Uint8Array(preamble + headerLength + data.byteLength);
  out.set([0x93, ...Buffer.from("NUMPY", "latin1"), 1, 0]);
  new DataView(out.buffer).setUint16(8, headerLength, true);
  out.set(Buffer.from(dict.padEnd(headerLength - 1, " ") + "\n", "latin1"), preamble);
  out.set(data, preamble + headerLength);
  return out;
}

/** Raw bytes of a typed array (the machine is little-endian, like every platform Node runs on). */
function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Encodes strings as NumPy fixed-width unicode ('<U<width>', UTF-32LE, zero-padded).
 * @param values - strings
 * @param minWidth - lower bound on the width in characters
 */
export function encodeNpyStrings(values: readonly string[], minWidth = 1): Uint8Array {
  const codePoints = values.map((v) => Array.from(v, (ch) => ch.codePointAt(0) as number));
  const width = codePoints.reduce((w, cps) => Math.max(w, cps.length), Math.max(1, minWidth));
  const data = new Uint32Array(values.length * width);
  codePoints.forEach((cps, i) => data.set(cps, i * width));
  return encodeNpy(`<U${width}`, [values.length], bytesOf(data));
}

const DESCR: [new (n: number) => ArrayBufferView, string][] = [
  [Float64Array, "<f8"],
  [BigUint64Array, "<u8"],
  [BigInt64Array, "<i8"],
  [Int32Array, "<i4"],
  [Uint8Array, "|u1"],
];

/**
 * Encodes a 1-D typed array as .npy.
 * @param a - Float64Array, BigUint64Array, BigInt64Array, Int32Array or Uint8Array
 */
export function encodeNpyTyped(a: ArrayBufferView & { length: number }): Uint8Array {
  const descr = DESCR.find(([ctor]) => a instanceof ctor)?.[1];
  if (descr === undefined) throw new CompasEnsembleError("OPTIONS_INVALID", `A ${a.constructor.name} has no .npy dtype; give a Float64Array, BigUint64Array, BigInt64Array, Int32Array or Uint8Array.`);
  return encodeNpy(descr, [a.length], bytesOf(a));
}

function encodeMatrix(rows: readonly Float64Array[], width: number): Uint8Array {
  const flat = new Float64Array(rows.length * width);
  rows.forEach((r, i) => flat.set(r, i * width));
  return encodeNpy("<f8", [rows.length, width], bytesOf(flat));
}

/**
 * Writes an SBI dataset as NumPy files in `dir` (created if needed): `theta.npy` (n_runs x 5
 * float64), `x.npy` (n_runs x d float64), `run_id.npy` and `n_systems.npy` (per run), one
 * `dco_<column>.npy` per DCO column (strings as fixed-width unicode, at least '<U7'),
 * `star_forming_mass.npy`, `m1_min.npy`, `m1_max.npy`, `m2_min.npy` (per run), the rates
 * (`rates_z.npy`, `rates_<T>.npy` n_runs x n_z, `rates_combined_theta.npy`,
 * `rates_combined_runs.npy`, `rates_combined_<T>.npy`) unless switched off, and
 * `columns.json` naming the columns of theta and x, every file with dtype and units, the
 * bins, the spin model, the rates options and the provenance. The files are written into a
 * sibling temporary folder that then replaces `dir`, so a crash never leaves a mix of two
 * datasets; `dir` must be new, empty, or an earlier npy dataset (see `assertNpyTarget`).
 * @param dataset - the dataset to write
 * @param dir - output directory
 */
export async function writeSbiNpy(dataset: SbiDataset, dir: string): Promise<void> {
  assertNpyTarget(dir);
  const target = resolve(dir);
  mkdirSync(dirname(target), { recursive: true });
  const partial = tempPathFor(target);
  mkdirSync(partial);
  try {
    writeNpyFiles(dataset, partial);
    replaceDirectory(partial, target);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
}

/** `format` in the columns.json of an npy dataset: how an earlier dataset is recognised. */
const NPY_FORMAT = "compas-ensemble-sbi-npy";

/**
 * Refuses an npy output directory that holds anything but an earlier npy dataset: the
 * directory is replaced as a whole, so whatever else is in it would be lost.
 * @param dir - the output directory
 * @throws CompasEnsembleError OUTPUT_PATH_REFUSED naming the directory
 */
export function assertNpyTarget(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) {
    throw new CompasEnsembleError("OUTPUT_PATH_REFUSED", `${dir} exists and is not a directory, but the npy format writes a directory of .npy files.`, {
      hint: "Give --out a new or empty directory for --format npy.",
    });
  }
  const names = readdirSync(dir);
  if (names.length === 0 || isNpyDataset(dir, names)) return;
  throw new CompasEnsembleError(
    "OUTPUT_PATH_REFUSED",
    `${dir} is not empty and is not an npy dataset written by compas-ensemble (no columns.json of format ${NPY_FORMAT} with only .npy files beside it), so it is not replaced.`,
    { hint: "Give --out a new or empty directory for --format npy, or move the folder's content elsewhere first." },
  );
}

function isNpyDataset(dir: string, names: readonly string[]): boolean {
  if (!names.includes("columns.json")) return false;
  const onlyOurs = names.every((n) => (n === "columns.json" || /^[A-Za-z0-9_]+\.npy$/.test(n)) && statSync(join(dir, n)).isFile());
  if (!onlyOurs) return false;
  try {
    return (JSON.parse(readFileSync(join(dir, "columns.json"), "utf8")) as { format?: unknown }).format === NPY_FORMAT;
  } catch {
    return false;
  }
}

/**
 * Puts `from` in the place of `to`. A directory cannot be renamed over a non-empty one, so an
 * existing `to` is first moved aside and removed only once `from` is in place (and put back
 * if that fails).
 */
function replaceDirectory(from: string, to: string): void {
  const link = lstatOrNull(to);
  if (link === null || (link.isDirectory() && readdirSync(to).length === 0)) {
    renameSync(from, to);
    return;
  }
  const aside = tempPathFor(to);
  mkdirSync(aside);
  renameSync(to, join(aside, "dataset"));
  try {
    renameSync(from, to);
  } catch (err) {
    renameSync(join(aside, "dataset"), to);
    rmSync(aside, { recursive: true, force: true });
    throw err;
  }
  rmSync(aside, { recursive: true, force: true });
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function writeNpyFiles(dataset: SbiDataset, dir: string): void {
  // Written one by one so that only one encoded column is held besides the dataset.
  const write = (name: string, bytes: Uint8Array) => writeFileSync(join(dir, name), bytes);
  write("theta.npy", encodeMatrix(dataset.theta, dataset.thetaColumns.length));
  write("x.npy", encodeMatrix(dataset.x, dataset.xColumns.length));
  write("run_id.npy", encodeNpyStrings(dataset.runIds));
  write("n_systems.npy", encodeNpyTyped(BigInt64Array.from(dataset.nSystems, BigInt)));
  const dco: { column: string; file: string; dtype: string; units: string }[] = [];
  for (const { name: column, values, units } of sbiDcoColumns(dataset)) {
    const bytes = Array.isArray(values)
      ? encodeNpyStrings(values as string[], MIN_DCO_STRING_WIDTH)
      : encodeNpyTyped(values as ArrayBufferView & { length: number });
    const file = `dco_${column}.npy`;
    write(file, bytes);
    dco.push({ column, file, dtype: npyDescr(bytes), units });
  }
  const mass = dataset.runMass;
  const perRun: Record<string, Float64Array> = {
    star_forming_mass: mass.starFormingMass,
    m1_min: mass.m1Min,
    m1_max: mass.m1Max,
    m2_min: mass.m2Min,
  };
  for (const [name, values] of Object.entries(perRun)) write(`${name}.npy`, encodeNpyTyped(values));
  const columns = {
    format: NPY_FORMAT,
    format_version: 2,
    theta: dataset.thetaColumns,
    x: dataset.xColumns,
    runs: {
      run_id: "run_id.npy",
      n_systems: "n_systems.npy",
      ...Object.fromEntries(Object.keys(perRun).map((name) => [name, { file: `${name}.npy`, dtype: "<f8", units: "Msol" }])),
    },
    dco,
    rates_files: writeRates(dataset, write),
    bins: dataset.bins,
    merging_only: dataset.mergingOnly,
    spin_model: dataset.spinModel,
    rates: dataset.rates.record,
    provenance: dataset.provenance,
  };
  writeFileSync(join(dir, "columns.json"), `${JSON.stringify(columns, null, 2)}\n`);
}

/** Writes the rates files; returns what columns.json says about them (null when rates are off). */
function writeRates(d: SbiDataset, write: (name: string, bytes: Uint8Array) => void): Record<string, unknown> | null {
  const { z, perRun, combined } = d.rates;
  if (z === null || perRun === null || combined === null) return null;
  const nz = z.length;
  const files: Record<string, unknown> = {};
  write("rates_z.npy", encodeNpyTyped(z));
  files.z = { file: "rates_z.npy", shape: [nz], dtype: "<f8", units: "-" };
  for (const type of RATE_DCO_TYPES) {
    write(`rates_${type}.npy`, encodeMatrix(perRun[type], nz));
    files[type] = { file: `rates_${type}.npy`, shape: [d.runIds.length, nz], dtype: "<f8", units: RATE_UNITS };
  }
  const nGroups = combined.theta.length;
  write("rates_combined_theta.npy", encodeMatrix(combined.theta.map((t) => Float64Array.from(t)), combined.columns.length));
  files.combined_theta = { file: "rates_combined_theta.npy", shape: [nGroups, combined.columns.length], dtype: "<f8", columns: combined.columns };
  const width = combined.runs.reduce((w, r) => Math.max(w, r.length), 0);
  const members = new Int32Array(nGroups * width).fill(-1);
  combined.runs.forEach((r, i) => members.set(r, i * width));
  write("rates_combined_runs.npy", encodeNpy("<i4", [nGroups, width], bytesOf(members)));
  files.combined_runs = { file: "rates_combined_runs.npy", shape: [nGroups, width], dtype: "<i4", padding: -1 };
  for (const type of RATE_DCO_TYPES) {
    write(`rates_combined_${type}.npy`, encodeMatrix(combined[type], nz));
    files[`combined_${type}`] = { file: `rates_combined_${type}.npy`, shape: [nGroups, nz], dtype: "<f8", units: RATE_UNITS };
  }
  return files;
}

/** The descr written into a .npy header (read back so columns.json cannot disagree with the file). */
function npyDescr(npy: Uint8Array): string {
  const header = Buffer.from(npy.subarray(10, 10 + new DataView(npy.buffer, npy.byteOffset).getUint16(8, true))).toString("latin1");
  return /'descr': '([^']+)'/.exec(header)?.[1] ?? "";
}
