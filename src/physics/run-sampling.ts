import { CompasEnsembleError } from "../errors.js";
import { resolveRatesOptions } from "./rates/options.js";
import { starFormingMass, starFormingMassPerBinary, type RunSampling } from "./rates/star-forming-mass.js";
import { runDetail } from "../hdf5/run-details.js";
import { ColumnReader } from "../hdf5/read.js";

/** Run_Details names of the options the star-forming mass depends on (docs/rates.md). */
export const SAMPLING_RUN_DETAILS = {
  imf: "initial-mass-function",
  massRatioDistribution: "mass-ratio-distribution",
  m1Min: "initial-mass-min",
  m1Max: "initial-mass-max",
  m2Min: "minimum-secondary-mass",
} as const;

/** A run's sampling as recorded in its Run_Details; `missing` names what the file lacks. */
export interface RecordedSampling {
  /** The sampling, when every value is recorded. */
  sampling: RunSampling | null;
  /** "Run_Details" when the group is absent, else the Run_Details names that are absent or of the wrong kind. */
  missing: string[];
}

/**
 * Reads the IMF, mass-ratio distribution and mass bounds a COMPAS run sampled with from its
 * own Run_Details group (never assumed: docs/rates.md).
 * @param reader - an open COMPAS_Output.h5
 */
export function readRunSampling(reader: ColumnReader): RecordedSampling {
  if (!reader.hasGroup("Run_Details")) return { sampling: null, missing: ["Run_Details"] };
  const missing: string[] = [];
  const text = (name: string) => {
    const v = runDetail(reader, name);
    if (typeof v !== "string" || v === "") missing.push(name);
    return typeof v === "string" ? v : "";
  };
  const number = (name: string) => {
    const v = runDetail(reader, name);
    if (typeof v !== "number") missing.push(name);
    return typeof v === "number" ? v : Number.NaN;
  };
  const sampling: RunSampling = {
    imf: text(SAMPLING_RUN_DETAILS.imf),
    massRatioDistribution: text(SAMPLING_RUN_DETAILS.massRatioDistribution),
    m1Min: number(SAMPLING_RUN_DETAILS.m1Min),
    m1Max: number(SAMPLING_RUN_DETAILS.m1Max),
    m2Min: number(SAMPLING_RUN_DETAILS.m2Min),
  };
  return { sampling: missing.length === 0 ? sampling : null, missing };
}

/**
 * The error for a run whose Run_Details cannot give its star-forming mass.
 * @param what - the run, as the message should name it (e.g. `run alpha1_... (path)`)
 * @param missing - from {@link readRunSampling}
 */
export function samplingMissingError(what: string, missing: readonly string[]): CompasEnsembleError {
  const lacks = missing[0] === "Run_Details" ? "has no Run_Details group" : `has no ${missing.join(", ")} in its Run_Details`;
  return new CompasEnsembleError("METADATA_INVALID", `${what} ${lacks}, so its star-forming mass cannot be computed.`, {
    hint: "COMPAS records every option in Run_Details; use the run's unmodified COMPAS_Output.h5 (or rerun it) so that its mass bounds are known.",
  });
}

/** Options of {@link runStarFormingMass}. */
export interface RunStarFormingMassOptions {
  /** Binary fraction in (0, 1]; default 0.7 (docs/rates.md). */
  fBin?: number;
  /** Binaries simulated; default Objects-Created from Run_Details. */
  nSystems?: number;
}

/** Result of {@link runStarFormingMass}. */
export interface RunStarFormingMass {
  /** Msol; NaN when the formula does not cover the run (see `problem`). */
  starFormingMass: number;
  /** Msol of star formation per simulated binary (m_rep); NaN likewise. */
  perBinary: number;
  nSystems: number;
  sampling: RunSampling;
  /** Why the star-forming mass is NaN, or null. */
  problem: string | null;
}

/**
 * Star-forming mass of one COMPAS run (docs/rates.md): m_rep from the mass bounds, IMF and
 * mass-ratio distribution in the file's own Run_Details, times the binaries simulated.
 * Errors: METADATA_INVALID when Run_Details or one of those options is missing,
 * HDF5_UNREADABLE for a file that cannot be read, OPTIONS_INVALID for a bad fBin or nSystems.
 * @param path - COMPAS_Output.h5
 * @param options - binary fraction and number of binaries
 */
export async function runStarFormingMass(path: string, options: RunStarFormingMassOptions = {}): Promise<RunStarFormingMass> {
  const { fBin } = resolveRatesOptions(options.fBin === undefined ? {} : { fBin: options.fBin }, { fBin: "fBin" });
  const reader = await ColumnReader.open(path);
  try {
    const { sampling, missing } = readRunSampling(reader);
    if (sampling === null) throw samplingMissingError(`COMPAS file ${path}`, missing);
    const created = runDetail(reader, "Objects-Created");
    const nSystems = options.nSystems ?? (typeof created === "number" ? created : Number.NaN);
    if (!(Number.isInteger(nSystems) && nSystems > 0)) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `nSystems ${nSystems} for ${path} is invalid: it must be a positive whole number of binaries.`, {
        hint: "Pass nSystems, or use a file whose Run_Details records Objects-Created.",
      });
    }
    const { mass, problem } = starFormingMass(sampling, nSystems, fBin);
    return { starFormingMass: mass, perBinary: problem === null ? starFormingMassPerBinary(sampling, fBin) : Number.NaN, nSystems, sampling, problem };
  } finally {
    reader.close();
  }
}
