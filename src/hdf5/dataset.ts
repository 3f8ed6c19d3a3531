import { resolveRatesOptions, type RatesOptions } from "../physics/rates/options.js";
import { LIBRARY_VERSION } from "../version.js";
import { assembleSbiDataset, type AssembleRun } from "./dataset-assemble.js";
import { readDatasetSource } from "./dataset-source.js";
import type { SbiDataset } from "./dataset-types.js";
import { extractDcos } from "./dco.js";
import { samplingMissingError } from "./run-sampling.js";
import type { SpinModelInput } from "./spins.js";
import type { SummaryBins } from "./summary.js";

/** Options of {@link buildSbiDataset}. */
export interface BuildSbiDatasetOptions {
  /** Spin-magnitude model for every run; default bavera2021 with chi_natal 0. */
  spinModel?: SpinModelInput;
  /** Keep only DCOs with COMPAS's Merges_Hubble_Time flag in the DCO table (x is unaffected). */
  mergingOnly?: boolean;
  /** Histogram bin edges for x; quantities left out use the defaults. */
  bins?: Partial<SummaryBins>;
  /** Star-forming mass and merger-rate options (docs/rates.md); `{ enabled: false }` skips R(z). */
  rates?: RatesOptions;
  /** Library version recorded in the provenance; default the installed {@link LIBRARY_VERSION}. */
  libraryVersion?: string;
  /** Called after each run is extracted (for progress output). */
  onRun?: (done: number, total: number, runId: string) => void;
}

/**
 * Builds the SBI dataset of an ensemble: reads the manifest, extracts the DCOs of every
 * successful run (with the chosen spin model), stacks them with their run index, and computes
 * theta (the run's five parameters), the fixed-length summary vector x per run, each run's
 * star-forming mass and the merger rates (docs/rates.md). Nothing is returned unless every run
 * was read: a run whose Run_Details lacks the mass bounds fails with METADATA_INVALID.
 * See docs/sbi-dataset.md for what each column means.
 * @param source - ensemble output directory containing `ensemble_metadata.json`, or the manifest
 * @param options - spin model, merging-only, bins, rates options, library version, progress callback
 */
export async function buildSbiDataset(source: string, options: BuildSbiDatasetOptions = {}): Promise<SbiDataset> {
  // Bad rates options fail before any run is read.
  const rates = resolveRatesOptions(options.rates ?? {});
  const src = readDatasetSource(source);
  const runs: AssembleRun[] = [];
  let spinModel: SbiDataset["spinModel"] | undefined;
  for (const run of src.runs) {
    const extraction = await extractDcos(run.output_path, options.spinModel === undefined ? {} : { spinModel: options.spinModel });
    spinModel ??= extraction.spinModel;
    if (extraction.sampling.sampling === null) {
      throw samplingMissingError(`Run ${run.run_id} (${run.output_path})`, extraction.sampling.missing);
    }
    runs.push({
      run_id: run.run_id,
      params: run.params,
      n_systems: run.n_systems,
      table: extraction.table,
      sampling: extraction.sampling.sampling,
      diagnostics: {
        ...extraction.diagnostics,
        channels_known: extraction.channelsKnown,
        compas_version: extraction.compasVersion,
        output_path: run.output_path,
      },
    });
    options.onRun?.(runs.length, src.runs.length, run.run_id);
  }
  const manifest = src.manifest;
  return assembleSbiDataset(runs, {
    // With no run there is nothing to describe; assembleSbiDataset rejects that case.
    spinModel: spinModel ?? { name: "none", params: {}, constants: {} },
    mergingOnly: options.mergingOnly ?? false,
    bins: options.bins ?? {},
    rates,
    provenance: {
      library_version: options.libraryVersion ?? LIBRARY_VERSION,
      source: src.manifestPath,
      created_at: new Date().toISOString(),
      manifest_creation_time: manifest.creation_time,
      compas_binary: manifest.compas_binary,
      failed_run_ids: src.failedRunIds,
    },
  });
}
