import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { CompasEnsembleError } from "../errors.js";
import type { Params } from "../grid/schema.js";
import { isWithin } from "../store/owned-paths.js";
import { ManifestSchema, type Manifest, type ManifestRun } from "../manifest/schema.js";
import { MANIFEST_KEY, runOutputKey } from "../store/keys.js";
import { isSafeKey } from "../store/safe-keys.js";
import { parseJsonDocument } from "../store/ensemble-files.js";
import { pathError } from "../util/path-errors.js";

const MANIFEST_FILE = MANIFEST_KEY;

/** One successful run, with its COMPAS output located on disk. */
export interface SourceRun {
  run_id: string;
  params: Params;
  /** Simulated binaries: the run's own `n_systems` if the manifest has it, else `n_systems_per_run`. */
  n_systems: number;
  /** Absolute path of the run's COMPAS_Output.h5. */
  output_path: string;
}

/** A manifest and its successful runs. */
export interface DatasetSource {
  /** Absolute path of the manifest. */
  manifestPath: string;
  /** The ensemble being read: the manifest's directory. */
  dir: string;
  manifest: Manifest;
  runs: SourceRun[];
  /** Runs the manifest lists as failed (left out of the dataset). */
  failedRunIds: string[];
  /** What the reader should know, each prefixed with its run id (an output read from outside the ensemble). */
  warnings: string[];
}

/**
 * Reads an ensemble's manifest and locates the COMPAS output of every successful run.
 *
 * Outputs are looked for inside the ensemble being read first, so that a copied ensemble
 * never reads the original's files: at the run's `output_key` (this library's manifests),
 * at `output_file` when it is relative or lies inside the manifest's directory, at the tail of
 * an absolute `output_file` from the run's folder on (`runs/<run_id>/...` or `<run_id>/...`,
 * where a copy of the predecessor's layout has it), then at
 * `<manifest dir>/runs/<run_id>/COMPAS_Output/COMPAS_Output.h5`. Only when none of those
 * exists is an `output_file` outside the ensemble read, with a warning. A path naming a
 * directory is searched for `COMPAS_Output.h5` and `COMPAS_Output/COMPAS_Output.h5`.
 * @param source - a manifest file, or an output directory containing `ensemble_metadata.json`
 */
export function readDatasetSource(source: string): DatasetSource {
  const manifestPath = locateManifest(source);
  const manifest = parseManifest(manifestPath);
  const dir = dirname(manifestPath);
  const seen = new Set<string>();
  const runs: SourceRun[] = [];
  const warnings: string[] = [];
  for (const run of manifest.runs) {
    if (run.status !== "success") continue;
    if (seen.has(run.run_id)) {
      throw new CompasEnsembleError(
        "METADATA_CONFLICT",
        `Manifest ${manifestPath} lists run ${run.run_id} as successful more than once.`,
        { hint: "Rebuild the manifest from the task fragments, or remove the duplicate entry." },
      );
    }
    seen.add(run.run_id);
    const { run_id: _runId, ...params } = run.params;
    runs.push({
      run_id: run.run_id,
      params,
      n_systems: runSystems(run as Record<string, unknown>, manifest.n_systems_per_run, manifestPath),
      output_path: locateOutput(dir, run, manifestPath, warnings),
    });
  }
  const failedRunIds = manifest.runs.filter((r) => r.status !== "success").map((r) => r.run_id);
  return { manifestPath, dir, manifest, runs, failedRunIds, warnings };
}

function locateManifest(source: string): string {
  const path = resolve(source);
  if (!existsSync(path)) {
    throw new CompasEnsembleError("METADATA_INVALID", `Ensemble source ${path} does not exist.`, {
      hint: `Pass an ensemble output directory or its ${MANIFEST_FILE}.`,
    });
  }
  if (!statSync(path).isDirectory()) return path;
  const inside = join(path, MANIFEST_FILE);
  if (!existsSync(inside)) {
    throw new CompasEnsembleError("METADATA_INVALID", `Directory ${path} has no ${MANIFEST_FILE}.`, {
      hint: "Pass the ensemble's output directory (where the manifest is written), or the manifest file itself.",
    });
  }
  return inside;
}

function parseManifest(path: string): Manifest {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw pathError(cause, { what: `manifest ${path}`, access: "read" }) ?? new CompasEnsembleError("STORE_ACCESS", `Cannot read manifest ${path}.`, { cause });
  }
  return parseJsonDocument(text, ManifestSchema, `Manifest ${path}`, "a valid manifest");
}

function runSystems(run: Record<string, unknown>, perRun: number, manifestPath: string): number {
  const own = run.n_systems;
  if (own === undefined) return perRun;
  if (typeof own === "number" && Number.isInteger(own) && own > 0) return own;
  throw new CompasEnsembleError(
    "METADATA_INVALID",
    `Manifest ${manifestPath}: run ${String(run.run_id)} has n_systems ${JSON.stringify(own)}; expected a positive integer.`,
  );
}

function locateOutput(dir: string, run: ManifestRun, manifestPath: string, warnings: string[]): string {
  const runId = run.run_id;
  const outputKey = (run as Record<string, unknown>).output_key;
  const file = run.output_file;
  const candidates: string[] = [];
  if (typeof outputKey === "string" && isSafeKey(outputKey)) candidates.push(join(dir, ...outputKey.split("/")));
  let outside: string | null = null;
  // An s3:// output_file names no local file; the store layout below is where a sync puts it.
  if (file !== undefined && file !== "" && !/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) {
    const path = resolve(dir, file);
    if (isWithin(dir, path)) candidates.push(path);
    else {
      candidates.push(...tailsInside(dir, path, runId));
      outside = path;
    }
  }
  candidates.push(join(dir, ...runOutputKey(runId).split("/")));
  const tried: string[] = [];
  const found = firstFile(candidates, tried);
  if (found !== null) return found;
  if (outside !== null) {
    const there = firstFile([outside], tried);
    if (there !== null) {
      warnings.push(
        `${runId}: its output is not inside the ensemble ${dir}, so ${there}, named by the manifest, was read instead; copy it into the ensemble to make the copy self-contained.`,
      );
      return there;
    }
  }
  throw new CompasEnsembleError(
    "OUTPUT_INCOMPLETE",
    `COMPAS output of run ${runId} (manifest ${manifestPath}) not found; tried ${[...new Set(tried)].join(", ")}.`,
    { hint: "Sync the run outputs next to the manifest (runs/<run_id>/COMPAS_Output/COMPAS_Output.h5), or fix output_file." },
  );
}

function firstFile(candidates: readonly string[], tried: string[]): string | null {
  for (const candidate of candidates) {
    for (const path of expand(candidate)) {
      tried.push(path);
      if (existsSync(path) && statSync(path).isFile()) return path;
    }
  }
  return null;
}

/**
 * Where a copy of the ensemble keeps an output that the manifest names by an absolute path
 * elsewhere: the path from the run's folder (or its parent folder) on, under `dir`.
 */
function tailsInside(dir: string, path: string, runId: string): string[] {
  const parts = path.split(sep);
  const at = parts.lastIndexOf(runId);
  if (at < 1) return [];
  return [join(dir, ...parts.slice(at - 1)), join(dir, ...parts.slice(at))];
}

/** A path, or the places COMPAS_Output.h5 can sit under it when it names a directory. */
function expand(path: string): string[] {
  if (existsSync(path) && statSync(path).isDirectory()) {
    return [join(path, "COMPAS_Output.h5"), join(path, "COMPAS_Output", "COMPAS_Output.h5")];
  }
  return [path];
}
