import { availableParallelism } from "node:os";
import type * as H5 from "h5wasm";
import { CompasEnsembleError } from "../errors.js";
import { AXES, type Params } from "../grid/schema.js";
import { openH5Read } from "../hdf5/h5wasm.js";
import { allocateDcoTable, DCO_COLUMNS, type Channel, type DcoType } from "../physics/dco-table.js";
import type { SbiDcoTable, SpinModelRecord } from "../dataset/types.js";
import { countStates } from "./gather-store.js";
import type { ProvenanceData, RatesData, ReportDcoTable, ReportRun, ScienceData, StatusData } from "./types.js";
import { logKey } from "../store/keys.js";

/** What {@link gatherFromSbiFile} returns: the three sections' data. */
export interface GatheredSbi {
  status: StatusData;
  science: ScienceData | null;
  scienceEmptyReason: string | null;
  provenance: ProvenanceData;
}

const RATE_TYPES = ["BBH", "BHNS", "BNS"] as const;

/**
 * Gathers a report's data from an SBI dataset file written by `compas-ensemble extract`
 * (layout in docs/sbi-dataset.md). Every run in the file finished; the runs its provenance
 * lists as failed are shown as failed. Merger rates (`/rates_combined`), yields per solar mass
 * (`yield_per_msun_*` in x) and `a_final` are used when the file has them, and left out
 * otherwise (older files, or files built with rates switched off).
 * @param path - the SBI HDF5 file
 */
export async function gatherFromSbiFile(path: string): Promise<GatheredSbi> {
  const file = await openH5Read(path);
  try {
    if (stringAttr(file, "format") !== "compas-ensemble-sbi") {
      throw new CompasEnsembleError("METADATA_INVALID", `${path} is not an SBI dataset written by compas-ensemble (no format attribute "compas-ensemble-sbi").`, {
        hint: "Pass an ensemble output directory, or a dataset made by `compas-ensemble extract --out file.h5`.",
      });
    }
    const runIds = strings(file, "runs/run_id", path);
    const nSystems = Array.from(numbers(file, "runs/n_systems", path), Number);
    const theta = matrix(file, "theta", path);
    const x = matrix(file, "x", path);
    const params: Params[] = theta.rows.map((row) => paramsOf(row, theta.columns, path));
    const provenance = jsonAttr(file, "provenance") as Record<string, unknown> | null;
    const failedIds = Array.isArray(provenance?.failed_run_ids) ? (provenance.failed_run_ids as string[]) : [];

    const runs: ReportRun[] = runIds.map((run_id, i) => ({
      run_id,
      grid_index: i,
      params: params[i]!,
      state: "succeeded",
      seconds: null,
      attempts: 1,
      seed: NaN,
      nSystems: nSystems[i]!,
    }));
    for (const id of failedIds) {
      const p = paramsFromRunId(id);
      if (p) runs.push({ run_id: id, grid_index: runs.length, params: p, state: "failed", seconds: null, attempts: 0, seed: NaN, nSystems: NaN });
    }
    const status: StatusData = {
      kind: "sbi",
      source: path,
      ensembleId: null,
      runs,
      counts: countStates(runs),
      tasks: { total: runs.length, succeeded: runIds.length, failed: failedIds.length, pending: 0 },
      cpuHours: null,
      wallSeconds: null,
      etaSeconds: 0,
      concurrency: availableParallelism(),
      runningKnown: true,
      failures: failedIds.map((id) => ({ run_id: id, task_id: id, reason: "listed as failed in the ensemble's manifest", attempts: 0, logKey: logKey(id, "<k>") })),
      problems: [],
      invalidFragments: [],
    };

    const dco = readDco(file, path);
    const hasPerMsun = x.columns.some((c) => c.startsWith("yield_per_msun_"));
    const science: ScienceData = {
      runs: runIds.map((run_id, i) => ({ run_id, params: params[i]!, nSystems: nSystems[i]! })),
      x: x.rows,
      xColumns: x.columns,
      yieldUnit: hasPerMsun ? "Msol" : "binary",
      dco,
      mergingOnly: numberAttr(file, "merging_only") === 1,
      rates: readRates(file, path),
    };
    const spinModel = jsonAttr(file, "spin_model") as SpinModelRecord | null;
    const rates = stringAttr(file, "rates");
    const extra = [
      ...Object.entries(provenance ?? {})
        .filter(([k]) => k !== "failed_run_ids")
        .map(([label, value]) => ({ label: `dataset ${label}`, value: typeof value === "string" ? value : JSON.stringify(value) })),
      ...(rates ? [{ label: "rates parameters", value: rates }] : []),
      { label: "format_version", value: String(numberAttr(file, "format_version") ?? "?") },
    ];
    return {
      status,
      science: runIds.length > 0 ? science : null,
      scienceEmptyReason: runIds.length > 0 ? null : `${path} holds no run.`,
      provenance: {
        compas: null,
        libraryVersion: typeof provenance?.library_version === "string" ? provenance.library_version : null,
        profile: null,
        nSystemsPerRun: null,
        systemsPerTask: null,
        seedBase: null,
        exampleArgs: null,
        commonFlags: [],
        spinModel,
        extra,
      },
    };
  } finally {
    file.close();
  }
}

function dataset(file: H5.File, name: string): H5.Dataset | null {
  const d = file.get(name);
  return d && (d as H5.Dataset).shape !== undefined && "value" in d ? (d as H5.Dataset) : null;
}

function required(file: H5.File, name: string, path: string): H5.Dataset {
  const d = dataset(file, name);
  if (!d) {
    throw new CompasEnsembleError("HDF5_COLUMN_MISSING", `SBI dataset ${path} has no /${name}.`, {
      hint: "Rebuild it with `compas-ensemble extract`.",
    });
  }
  return d;
}

function strings(file: H5.File, name: string, path: string): string[] {
  const v = required(file, name, path).value;
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

function numbers(file: H5.File, name: string, path: string): ArrayLike<number | bigint> {
  return required(file, name, path).value as ArrayLike<number | bigint>;
}

function matrix(file: H5.File, name: string, path: string): { rows: Float64Array[]; columns: string[] } {
  const d = required(file, name, path);
  const [n, width] = d.shape as [number, number];
  const flat = Float64Array.from(d.value as ArrayLike<number>);
  const columns = columnsAttr(d);
  if (columns.length !== width) {
    throw new CompasEnsembleError("METADATA_INVALID", `SBI dataset ${path}: /${name} has ${width} columns but its columns attribute names ${columns.length}.`);
  }
  return { rows: Array.from({ length: n }, (_, i) => flat.slice(i * width, (i + 1) * width)), columns };
}

function columnsAttr(d: H5.Dataset): string[] {
  const v = d.attrs.columns?.value;
  return Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : [String(v)];
}

function paramsOf(row: Float64Array, columns: string[], path: string): Params {
  const out: Record<string, number> = {};
  for (const axis of AXES) {
    const i = columns.indexOf(axis);
    if (i < 0) throw new CompasEnsembleError("METADATA_INVALID", `SBI dataset ${path}: /theta has no column ${axis}.`);
    out[axis] = row[i]!;
  }
  return out as Params;
}

// Run ids have the predecessor's format (src/grid/expand.ts); failed runs are known only by id.
function paramsFromRunId(id: string): Params | null {
  const m = /^alpha([\d.]+)_lambda([\d.]+)_kick([\d.]+)_Z([\d.]+)_fa([\d.]+)$/.exec(id);
  if (!m) return null;
  const [alpha_ce, lambda_ce, kick_sigma, metallicity, mass_transfer_fa] = m.slice(1).map(Number) as [number, number, number, number, number];
  return { alpha_ce, lambda_ce, kick_sigma, metallicity, mass_transfer_fa };
}

function stringAttr(file: H5.File, name: string): string | null {
  const a = file.attrs[name];
  if (!a) return null;
  const v = a.value;
  return typeof v === "string" ? v : null;
}

function numberAttr(file: H5.File, name: string): number | null {
  const v = file.attrs[name]?.value;
  return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : null;
}

function jsonAttr(file: H5.File, name: string): unknown {
  const text = stringAttr(file, name);
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

// Columns format 2 added: read when present, so that files of format 1 still make a report.
const OPTIONAL_DCO_COLUMNS = ["a_final", "e_final"] as const;

function readDco(file: H5.File, path: string): ReportDcoTable {
  const runIndex = Int32Array.from(numbers(file, "dco/run_index", path) as ArrayLike<number>);
  const n = runIndex.length;
  const { a_final: _a, e_final: _e, ...rest } = allocateDcoTable(n);
  const table: ReportDcoTable = { ...rest, run_index: runIndex };
  for (const column of DCO_COLUMNS) {
    if ((OPTIONAL_DCO_COLUMNS as readonly string[]).includes(column)) continue;
    const d = required(file, `dco/${column}`, path);
    const v = d.value;
    if (column === "type") table.type = (v as string[]).map(String) as DcoType[];
    else if (column === "channel") table.channel = (v as string[]).map(String) as Channel[];
    else if (column === "seed") table.seed = BigUint64Array.from(v as ArrayLike<bigint>);
    else ((table as unknown as Record<string, Float64Array | Uint8Array>)[column]!).set(v as ArrayLike<number>);
  }
  for (const column of OPTIONAL_DCO_COLUMNS) {
    const d = dataset(file, `dco/${column}`);
    if (d) table[column] = Float64Array.from(d.value as ArrayLike<number>);
  }
  return table;
}

function readRates(file: H5.File, path: string): RatesData | null {
  const z = dataset(file, "rates/z");
  const theta = dataset(file, "rates_combined/theta");
  if (!z || !theta) return null;
  const zs = Float64Array.from(z.value as ArrayLike<number>);
  const groups = matrix(file, "rates_combined/theta", path);
  const combined = {} as RatesData["combined"];
  for (const type of RATE_TYPES) {
    const d = required(file, `rates_combined/${type}`, path);
    const flat = Float64Array.from(d.value as ArrayLike<number>);
    combined[type] = groups.rows.map((_, i) => flat.slice(i * zs.length, (i + 1) * zs.length));
  }
  return { z: zs, groups: groups.rows.map((row) => ({ theta: Array.from(row), columns: groups.columns })), combined };
}
