import { resolve } from "node:path";
import { CompasEnsembleError } from "../errors.js";
import { refuseProtectedOutput } from "../store/owned-paths.js";
import { pathError } from "../util/path-errors.js";
import { buildSbiDataset, type BuildSbiDatasetOptions } from "../dataset/build.js";
import { readDatasetSource } from "../dataset/source.js";
import { parseSpinModelFlag } from "./spin-model-flag.js";
import type { SpinModelInput } from "../physics/spins.js";
import { writeSbiHdf5 } from "../dataset/write-h5.js";
import { assertNpyTarget, writeSbiNpy } from "../dataset/write-npy.js";
import { sbiParquetPaths, writeSbiParquet } from "../dataset/write-parquet.js";
import { SBI_FORMATS, type SbiFormat } from "../dataset/types.js";

export { SBI_FORMATS, type SbiFormat };


/**
 * Options of {@link extractCommand}, one per CLI flag: where to read and write, and the
 * dataset options of {@link BuildSbiDatasetOptions} (their flags: `--merging-only`, `--no-verify`,
 * `--n-systems-from-output`, the rates flags of parseRatesFlags), with the spin model also
 * accepted as `--spin-model` text.
 */
export interface ExtractCommandOptions
  extends Pick<BuildSbiDatasetOptions, "mergingOnly" | "bins" | "rates" | "libraryVersion" | "verify" | "nSystemsFromOutput" | "onRun"> {
  /** Ensemble output directory or its ensemble_metadata.json. */
  source: string;
  /** Output file (h5, parquet) or directory (npy). */
  out: string;
  /** Default: from the extension of `out` (.parquet, .h5/.hdf5), else h5. */
  format?: SbiFormat | string;
  /** `--spin-model` text (see {@link parseSpinModelFlag}) or a model object. */
  spinModel?: string | SpinModelInput;
}

/** What {@link extractCommand} wrote, for the CLI's report. */
export interface ExtractCommandResult {
  format: SbiFormat;
  /** Files (or the directory, for npy) written. */
  paths: string[];
  nRuns: number;
  nDco: number;
  /** Length of each run's summary vector x. */
  xLength: number;
  /** Runs the manifest lists as failed (not in the dataset). */
  failedRunIds: string[];
  /**
   * Warnings: the source's (an output read from outside the ensemble, outputs that could not
   * be verified), then the extraction's, each prefixed with its run id (e.g. a run without BSE_RLOF).
   */
  warnings: string[];
  /** Metallicity groups combined over Z, and runs whose group has one metallicity; null when rates are off. */
  rateGroups: { combined: number; runsNotCombined: number } | null;
}

/**
 * What `compas-ensemble extract <dir|manifest> --out <file> [--format h5|parquet|npy]
 * [--spin-model ...] [--merging-only] [rates flags]` does: builds the SBI dataset (with the
 * star-forming masses and merger rates of docs/rates.md) and writes it.
 * @param options - the command's arguments and flags
 */
export async function extractCommand(options: ExtractCommandOptions): Promise<ExtractCommandResult> {
  const format = resolveFormat(options.format, options.out);
  const spinModel = typeof options.spinModel === "string" ? parseSpinModelFlag(options.spinModel) : options.spinModel;
  const src = readDatasetSource(options.source);
  const out = resolve(options.out);
  // Refused before the (long) extraction, so a wrong --out costs nothing.
  const protect = { inputs: [src.manifestPath, ...src.runs.map((r) => r.output_path)], ensembleDirs: [src.dir] };
  const targets = format === "parquet" ? Object.values(sbiParquetPaths(out)) : [out];
  for (const target of targets) refuseProtectedOutput(target, "--out", protect);
  if (format === "npy") assertNpyTarget(out);
  const sourceWarnings: string[] = [];
  const dataset = await buildSbiDataset(src, {
    ...(spinModel === undefined ? {} : { spinModel }),
    mergingOnly: options.mergingOnly ?? false,
    ...(options.bins === undefined ? {} : { bins: options.bins }),
    ...(options.rates === undefined ? {} : { rates: options.rates }),
    ...(options.libraryVersion === undefined ? {} : { libraryVersion: options.libraryVersion }),
    ...(options.verify === undefined ? {} : { verify: options.verify }),
    ...(options.nSystemsFromOutput === undefined ? {} : { nSystemsFromOutput: options.nSystemsFromOutput }),
    ...(options.onRun === undefined ? {} : { onRun: options.onRun }),
    onWarning: (w) => sourceWarnings.push(w),
  });
  let paths: string[];
  try {
    if (format === "h5") {
      await writeSbiHdf5(dataset, out);
      paths = [out];
    } else if (format === "parquet") {
      const written = await writeSbiParquet(dataset, out);
      paths = [written.dco, written.runs, ...(written.rates === undefined ? [] : [written.rates])];
    } else {
      await writeSbiNpy(dataset, out);
      paths = [out];
    }
  } catch (err) {
    // The writers work through temporary names; the user knows the path they gave.
    throw pathError(err, { what: `extract output ${out}`, access: "write" }) ?? err;
  }
  const warnings = [
    ...sourceWarnings,
    ...dataset.diagnostics.flatMap(({ run_id, diagnostics }) => {
      const list = (diagnostics as { warnings?: unknown } | null)?.warnings;
      return Array.isArray(list) ? list.map((w) => `${run_id}: ${String(w)}`) : [];
    }),
  ];
  return {
    format,
    paths,
    nRuns: dataset.runIds.length,
    nDco: dataset.dco.length,
    xLength: dataset.xColumns.length,
    failedRunIds: dataset.provenance.failed_run_ids ?? [],
    warnings,
    rateGroups:
      dataset.rates.combined === null
        ? null
        : {
            combined: dataset.rates.combined.theta.length,
            runsNotCombined: dataset.diagnostics.filter((d) => (d.diagnostics as { rates?: { not_combined_reason?: unknown } }).rates?.not_combined_reason).length,
          },
  };
}

function resolveFormat(format: string | undefined, out: string): SbiFormat {
  if (format === undefined) {
    if (/\.parquet$/i.test(out)) return "parquet";
    return "h5";
  }
  const f = format.toLowerCase() === "hdf5" ? "h5" : format.toLowerCase();
  if (!(SBI_FORMATS as readonly string[]).includes(f)) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `--format ${JSON.stringify(format)} is not one of ${SBI_FORMATS.join(", ")}.`, {
      hint: "Use --format h5 (HDF5 for h5py), parquet (for pandas) or npy (a directory of NumPy files).",
    });
  }
  return f as SbiFormat;
}
