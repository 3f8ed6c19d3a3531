import { CompasEnsembleError } from "../errors.js";
import { resolveRatesOptions, type RatesOptions } from "../physics/rates/options.js";
import { LIBRARY_VERSION } from "../version.js";
import { assembleSbiDataset, type AssembleRun } from "./assemble.js";
import { type DatasetSource, readDatasetSource, type SourceRun } from "./source.js";
import type { SbiDataset } from "./types.js";
import { verifySourceOutputs } from "./verify.js";
import { type DcoExtraction, extractDcos } from "../physics/dco.js";
import { samplingMissingError } from "../physics/run-sampling.js";
import type { SpinModelInput } from "../physics/spins.js";
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
  /**
   * Check every output's size and sha256 against its task's record before reading it
   * (default true; the CLI's `--no-verify` turns it off). Unrecorded outputs (a predecessor's
   * manifest) are read with a warning either way.
   */
  verify?: boolean;
  /**
   * Divide each run's yields by the number of binaries its COMPAS file says were simulated
   * (Run_Details `Objects-Created`) when that differs from the manifest, instead of refusing
   * the run with N_MISMATCH (the CLI's `--n-systems-from-output`).
   */
  nSystemsFromOutput?: boolean;
  /** Called after each run is extracted (for progress output). */
  onRun?: (done: number, total: number, runId: string) => void;
  /** Receives one sentence per thing the user should know that does not stop the dataset. */
  onWarning?: (message: string) => void;
}

/**
 * Builds the SBI dataset of an ensemble: reads the manifest, checks the outputs against their
 * records, extracts the DCOs of every successful run (with the chosen spin model), stacks them
 * with their run index, and computes theta (the run's five parameters) and the fixed-length
 * summary vector x per run, each run's yields divided by its number of simulated binaries
 * once the manifest and the COMPAS file agree on it, each run's star-forming mass and the
 * merger rates (docs/rates.md). Nothing is returned unless every run was read: a run whose
 * Run_Details lacks the mass bounds fails with METADATA_INVALID. See docs/sbi-dataset.md for
 * what each column means.
 * @param source - ensemble output directory containing `ensemble_metadata.json`, the manifest,
 *   or a source already read with readDatasetSource
 * @param options - spin model, merging-only, bins, rates options, verification, library version, callbacks
 * @throws CompasEnsembleError OUTPUT_CORRUPT when an output differs from its record,
 *   N_MISMATCH when a run's file holds another number of binaries than the manifest says
 */
export async function buildSbiDataset(source: string | DatasetSource, options: BuildSbiDatasetOptions = {}): Promise<SbiDataset> {
  // Bad rates options fail before any run is read.
  const rates = resolveRatesOptions(options.rates ?? {});
  const src = typeof source === "string" ? readDatasetSource(source) : source;
  const warn = options.onWarning ?? (() => {});
  for (const w of src.warnings) warn(w);
  const verified = options.verify === false ? false : await verifySourceOutputs(src, warn);
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
      n_systems: checkedSystems(run, extraction, options.nSystemsFromOutput ?? false, warn),
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
      outputs_verified: verified,
    },
  });
}

/**
 * The yields' denominator of a run: the manifest's N once the COMPAS file confirms it
 * (Run_Details `Objects-Created`, else the rows of BSE_System_Parameters, one per binary).
 */
function checkedSystems(run: SourceRun, extraction: DcoExtraction, fromOutput: boolean, warn: (message: string) => void): number {
  const { objectsCreated, systemRows } = extraction.systemsInFile;
  const inFile = objectsCreated ?? systemRows;
  const where = objectsCreated !== null ? "Run_Details Objects-Created" : "rows of BSE_System_Parameters";
  if (inFile === null) {
    warn(`${run.run_id}: ${run.output_path} records no number of binaries (no Run_Details Objects-Created, no BSE_System_Parameters), so the manifest's ${run.n_systems} could not be checked.`);
    return run.n_systems;
  }
  if (inFile === run.n_systems) return run.n_systems;
  if (fromOutput && inFile > 0) {
    warn(`${run.run_id}: the manifest says ${run.n_systems} binaries but ${run.output_path} holds ${inFile} (${where}); its yields are divided by ${inFile}.`);
    return inFile;
  }
  throw new CompasEnsembleError(
    "N_MISMATCH",
    `Run ${run.run_id}: the manifest says ${run.n_systems} binaries but its COMPAS output ${run.output_path} holds ${inFile} (${where}), so its yields would be wrong.`,
    {
      hint: "Check that the manifest belongs to these outputs; if the file is right, pass --n-systems-from-output (nSystemsFromOutput in the API) to divide by its count.",
    },
  );
}
