import { readFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { CompasEnsembleError } from "../errors.js";
import { canonicalJson, compareStrings } from "../util/canonical-json.js";
import { globFiles } from "./_glob.js";
import { writeJsonAtomic } from "../util/atomic-write.js";
import { MANIFEST_KEY } from "../store/keys.js";
import { realPathOf, refuseProtectedOutput } from "../store/owned-paths.js";
import { type Manifest, type ManifestRun, ManifestSchema } from "./schema.js";
import { parseJsonDocument } from "../store/ensemble-files.js";

/** Default pattern: the per-slice manifests of the older Python tool ("legacy"). */
export const LEGACY_PATTERN = "slice_*/ensemble_metadata.json";

/** Options of {@link mergeLegacyManifests} (the flags of `compas-ensemble merge-metadata`). */
export interface MergeLegacyOptions {
  /** Directory the pattern is relative to. */
  inputDir: string;
  /** Relative pattern, `*` within path segments; default {@link LEGACY_PATTERN}. */
  pattern?: string;
  /** Merged manifest path; default `<inputDir>/ensemble_metadata.json`. */
  output?: string;
  /** Validate and merge, print a summary, write nothing. */
  dryRun?: boolean;
  /** Where the dry-run summary goes, one line per call; default console.log. */
  print?: (line: string) => void;
  /** Clock for `merged_at`; default the system clock. */
  now?: () => Date;
}

/** What a merge found. */
export interface MergeLegacySummary {
  /** Number of manifests merged. */
  files: number;
  /** Their paths, in the order they were merged. */
  inputs: string[];
  /** Distinct runs after merging. */
  runs: number;
  success: number;
  failed: number;
  /** Run entries that repeated a run id already seen (retries, overlapping slices). */
  duplicates: number;
  /** The file written, or null on a dry run. */
  output: string | null;
  manifest: Manifest;
}

interface Entry {
  run: ManifestRun;
  file: string;
  index: number;
  order: number;
}

/**
 * Merges per-slice `ensemble_metadata.json` files (the older Python tool's, or this library's)
 * into one, like that tool's merge_metadata.py: runs merged by run_id, success beats failure, the
 * latest of two failures wins, and two successes with different output_file or params are an
 * error naming both files.
 * @param options - see {@link MergeLegacyOptions}
 * @throws CompasEnsembleError METADATA_INVALID naming the file and field of a bad manifest,
 *   or when nothing matches; METADATA_CONFLICT for conflicting successes or differing
 *   n_systems_per_run
 */
export async function mergeLegacyManifests(options: MergeLegacyOptions): Promise<MergeLegacySummary> {
  const pattern = options.pattern ?? LEGACY_PATTERN;
  const output = resolve(options.output ?? join(options.inputDir, MANIFEST_KEY));
  const matched = await globFiles(options.inputDir, pattern);
  if (matched.length === 0) {
    throw new CompasEnsembleError("METADATA_INVALID", `No file under ${options.inputDir} matches the pattern ${pattern}.`, {
      hint: "Check --input-dir and --pattern (the pattern is relative to the input directory).",
    });
  }
  // The result of an earlier merge, matched by a wide pattern, is what this merge replaces.
  const inputs: string[] = [];
  for (const f of matched) if (realPathOf(f) !== realPathOf(output) || !(await isMergeResult(f))) inputs.push(f);
  if (inputs.length === 0) {
    throw new CompasEnsembleError("METADATA_INVALID", `The only file under ${options.inputDir} that matches ${pattern} is the earlier merge result ${output}.`, {
      hint: "Check --input-dir and --pattern: they should match the slices' manifests.",
    });
  }
  // A slice folder holding an ensemble_metadata.json is an ensemble output; its files stay untouched.
  const ensembleDirs = inputs.filter((f) => basename(f) === MANIFEST_KEY).map((f) => dirname(f));
  refuseProtectedOutput(output, "--output", { inputs, ensembleDirs });
  const manifests: { file: string; m: Manifest }[] = [];
  for (const file of inputs) manifests.push({ file, m: await readManifestFile(file) });

  const byRun = new Map<string, Entry>();
  let duplicates = 0;
  let order = 0;
  for (const { file, m } of manifests) {
    m.runs.forEach((run, index) => {
      const entry: Entry = { run, file, index, order: order++ };
      const seen = byRun.get(run.run_id);
      if (seen === undefined) {
        byRun.set(run.run_id, entry);
        return;
      }
      duplicates++;
      // Keep the first appearance's position so the order stays that of the first slice.
      const winner = pick(seen, entry);
      if (winner !== seen) byRun.set(run.run_id, { ...winner, order: seen.order });
    });
  }

  const first = manifests[0] as { file: string; m: Manifest };
  for (const { file, m } of manifests) {
    if (m.n_systems_per_run !== first.m.n_systems_per_run) {
      throw new CompasEnsembleError(
        "METADATA_CONFLICT",
        `${first.file} has n_systems_per_run ${first.m.n_systems_per_run} but ${file} has ${m.n_systems_per_run}, so they belong to different ensembles.`,
        { hint: "Merge only the slices of one ensemble (narrow --pattern)." },
      );
    }
  }

  const runs = [...byRun.values()].sort(byGridIndexThenOrder).map((e) => e.run);
  const success = runs.filter((r) => r.status === "success").length;
  const binaries = [...new Set(manifests.map(({ m }) => m.compas_binary))];
  const manifest: Manifest = {
    creation_time: manifests.map(({ m }) => m.creation_time).sort(compareStrings)[0] as string,
    compas_binary: first.m.compas_binary,
    n_systems_per_run: first.m.n_systems_per_run,
    ...sharedExtras(manifests.map(({ m }) => m)),
    ...(binaries.length > 1 ? { compas_binaries: binaries } : {}),
    merged_at: (options.now ?? (() => new Date()))().toISOString(),
    merged_from: inputs.map((f) => relative(options.inputDir, f)),
    summary: { runs: runs.length, success, failed: runs.length - success },
    runs,
  };
  const summary: MergeLegacySummary = {
    files: inputs.length,
    inputs,
    runs: runs.length,
    success,
    failed: runs.length - success,
    duplicates,
    output: options.dryRun ? null : output,
    manifest,
  };
  if (options.dryRun) {
    const print = options.print ?? ((line: string) => console.log(line));
    print(
      `dry run: ${inputs.length} file(s), ${runs.length} run(s): ${success} success, ${runs.length - success} failed, ${duplicates} duplicate entr${duplicates === 1 ? "y" : "ies"}; would write ${output}`,
    );
    for (const r of runs) if (r.status === "failed") print(`failed: ${r.run_id}: ${r.error ?? "no error recorded"}`);
  } else {
    await writeJsonAtomic(output, manifest);
  }
  return summary;
}

async function isMergeResult(file: string): Promise<boolean> {
  try {
    return Array.isArray((JSON.parse(await readFile(file, "utf8")) as { merged_from?: unknown }).merged_from);
  } catch {
    return false;
  }
}

async function readManifestFile(file: string): Promise<Manifest> {
  const hint = "Fix or remove the file, or exclude it with --pattern.";
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new CompasEnsembleError("METADATA_INVALID", `The metadata file ${file} cannot be read.`, { cause: err, hint });
  }
  return parseJsonDocument(text, ManifestSchema, `The metadata file ${file}`, "a valid manifest", { hint });
}

function pick(a: Entry, b: Entry): Entry {
  if (a.run.status === "success" && b.run.status === "success") {
    const what =
      a.run.output_file !== b.run.output_file ? "output_file" : canonicalJson(a.run.params) !== canonicalJson(b.run.params) ? "params" : null;
    if (what !== null) {
      throw new CompasEnsembleError(
        "METADATA_CONFLICT",
        `Run ${a.run.run_id} succeeded twice with different ${what}: ${a.file} (runs[${a.index}]) and ${b.file} (runs[${b.index}]).`,
        { hint: "Decide which output is the right one and remove the other entry before merging." },
      );
    }
    return a;
  }
  if (a.run.status !== b.run.status) return a.run.status === "success" ? a : b;
  return compareStrings(b.run.timestamp, a.run.timestamp) > 0 ? b : a;
}

function byGridIndexThenOrder(a: Entry, b: Entry): number {
  const ga = gridIndex(a.run);
  const gb = gridIndex(b.run);
  return ga - gb || a.order - b.order;
}

// Our manifests carry grid_index; the predecessor's run lists are in grid order per slice.
function gridIndex(run: ManifestRun): number {
  const g = (run as Record<string, unknown>).grid_index;
  return typeof g === "number" ? g : Number.POSITIVE_INFINITY;
}

const RECOMPUTED = new Set(["creation_time", "compas_binary", "n_systems_per_run", "runs", "summary", "merged_at", "merged_from", "compas_binaries", "ignored_fragments"]);

// Provenance fields of our own manifests survive a merge only when every input agrees on them.
function sharedExtras(manifests: readonly Manifest[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const first = manifests[0] as Record<string, unknown>;
  for (const key of Object.keys(first)) {
    if (RECOMPUTED.has(key)) continue;
    const value = canonicalJson(first[key]);
    if (manifests.every((m) => canonicalJson((m as Record<string, unknown>)[key]) === value)) out[key] = first[key];
  }
  return out;
}

/**
 * Former name of {@link LEGACY_PATTERN}.
 * @deprecated Use LEGACY_PATTERN; kept for one release.
 */
export const PREDECESSOR_PATTERN: string = LEGACY_PATTERN;
/**
 * Former name of {@link mergeLegacyManifests}.
 * @deprecated Use mergeLegacyManifests; kept for one release.
 */
export const mergePredecessorManifests: (options: MergeLegacyOptions) => Promise<MergeLegacySummary> = mergeLegacyManifests;
/**
 * Former name of {@link MergeLegacyOptions}.
 * @deprecated Use MergeLegacyOptions; kept for one release.
 */
export type MergePredecessorOptions = MergeLegacyOptions;
/**
 * Former name of {@link MergeLegacySummary}.
 * @deprecated Use MergeLegacySummary; kept for one release.
 */
export type MergePredecessorSummary = MergeLegacySummary;
