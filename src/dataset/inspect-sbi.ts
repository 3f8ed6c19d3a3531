import { statSync } from "node:fs";
import type * as H5 from "h5wasm";
import { RATE_DCO_TYPES, type RateDcoType } from "../physics/rates/run-rates.js";
import { openH5Read } from "../hdf5/h5wasm.js";

/** Value of the `format` root attribute of an SBI dataset written by writeSbiHdf5. */
const SBI_FORMAT = "compas-ensemble-sbi";

/** One run of an SBI file as {@link inspectSbi} shows it. */
export interface InspectSbiRun {
  run_id: string;
  metallicity: number;
  /** Msol; null in a format_version 1 file. */
  starFormingMass: number | null;
  /** Single-metallicity merger rate today, Gpc^-3 yr^-1; null without rates. */
  rateZ0: Record<RateDcoType, number> | null;
}

/** One metallicity group of an SBI file as {@link inspectSbi} shows it. */
export interface InspectSbiGroup {
  /** alpha_ce, lambda_ce, kick_sigma, mass_transfer_fa. */
  theta: number[];
  /** Run ids, by ascending metallicity. */
  runs: string[];
  /** Merger rate today combined over metallicity, Gpc^-3 yr^-1. */
  rateZ0: Record<RateDcoType, number>;
}

/** What {@link inspectSbi} returns. */
export interface InspectSbiResult {
  path: string;
  bytes: number;
  formatVersion: number;
  nRuns: number;
  nDco: number;
  runs: InspectSbiRun[];
  groups: InspectSbiGroup[];
  /** The `rates` root attribute (every rates parameter), or null when absent. */
  rates: Record<string, unknown> | null;
}

/**
 * Whether an HDF5 file is an SBI dataset written by this library (root attribute `format`).
 * @param path - an HDF5 file
 */
export async function isSbiFile(path: string): Promise<boolean> {
  const file = await openH5Read(path);
  try {
    return file.attrs.format?.value === SBI_FORMAT;
  } finally {
    file.close();
  }
}

/**
 * Summarises an SBI dataset (`compas-ensemble extract --out sbi.h5`): runs, DCOs, each run's
 * star-forming mass and merger rates at z = 0, and each metallicity group's combined rate at
 * z = 0 (docs/rates.md). Reads only the first column of the rate matrices.
 * @param path - the SBI HDF5 file
 */
export async function inspectSbi(path: string): Promise<InspectSbiResult> {
  const file = await openH5Read(path);
  try {
    const dataset = (name: string) => file.get(name) as H5.Dataset | null;
    const runIds = (dataset("runs/run_id")?.value as string[] | null) ?? [];
    const nRuns = runIds.length;
    const theta = dataset("theta");
    const columns = (theta?.attrs.columns?.value as string[] | undefined) ?? [];
    const zColumn = columns.indexOf("metallicity");
    const metallicity = theta !== null && zColumn >= 0 && nRuns > 0 ? Array.from(theta.slice([[0, nRuns], [zColumn, zColumn + 1]]) as Float64Array) : [];
    const mass = dataset("runs/star_forming_mass")?.value as Float64Array | null | undefined;
    const z = dataset("rates/z")?.value as Float64Array | null | undefined;
    const atZero = (name: string, rows: number): number[] | null => {
      const ds = dataset(name);
      if (ds === null || !z || z[0] !== 0 || rows === 0) return rows === 0 && ds !== null ? [] : null;
      return Array.from(ds.slice([[0, rows], [0, 1]]) as Float64Array);
    };
    const byType = (prefix: string, rows: number) => {
      const cols = RATE_DCO_TYPES.map((t) => atZero(`${prefix}/${t}`, rows));
      return cols.every((c) => c !== null) ? (cols as number[][]) : null;
    };
    const perRun = byType("rates", nRuns);
    const runs: InspectSbiRun[] = runIds.map((run_id, i) => ({
      run_id,
      metallicity: metallicity[i] ?? Number.NaN,
      starFormingMass: mass ? (mass[i] as number) : null,
      rateZ0: perRun ? rateRecord(perRun, i) : null,
    }));
    const groupTheta = dataset("rates_combined/theta");
    const nGroups = groupTheta?.shape?.[0] ?? 0;
    const members = dataset("rates_combined/runs");
    const width = members?.shape?.[1] ?? 0;
    const flatMembers = members && nGroups > 0 && width > 0 ? (members.value as Int32Array) : new Int32Array(0);
    const flatTheta = groupTheta && nGroups > 0 ? (groupTheta.value as Float64Array) : new Float64Array(0);
    const combined = byType("rates_combined", nGroups);
    const groups: InspectSbiGroup[] = [];
    for (let g = 0; g < nGroups && combined !== null; g++) {
      const ids = Array.from(flatMembers.subarray(g * width, (g + 1) * width)).filter((r) => r >= 0);
      groups.push({
        theta: Array.from(flatTheta.subarray(g * 4, g * 4 + 4)),
        runs: ids.map((r) => runIds[r] ?? String(r)),
        rateZ0: rateRecord(combined, g),
      });
    }
    const ratesText = file.attrs.rates?.value;
    return {
      path,
      bytes: statSync(path).size,
      formatVersion: Number(file.attrs.format_version?.value ?? 0),
      nRuns,
      nDco: dataset("dco/run_index")?.shape?.[0] ?? 0,
      runs,
      groups,
      rates: typeof ratesText === "string" ? (JSON.parse(ratesText) as Record<string, unknown>) : null,
    };
  } finally {
    file.close();
  }
}

function rateRecord(columns: number[][], i: number): Record<RateDcoType, number> {
  return Object.fromEntries(RATE_DCO_TYPES.map((t, k) => [t, (columns[k] as number[])[i] as number])) as Record<RateDcoType, number>;
}
