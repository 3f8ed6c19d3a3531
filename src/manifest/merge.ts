import { CompasEnsembleError } from "../errors.js";
import type { Params } from "../grid/schema.js";
import { compareStrings } from "../util/canonical-json.js";
import { errorText, fragmentLabel, outcomesByTask, relevantFragments, type TaskOutcome } from "./outcomes.js";
import type { Fragment, FragmentContext, Manifest, ManifestRun } from "./schema.js";
import type { Plan } from "../plan/schema.js";

/** Options for {@link mergeMetadata}. */
export interface MergeOptions {
  /**
   * Prefix for `output_file`: the ensemble directory (absolute) or `s3://bucket/prefix`.
   * The predecessor's loaders open `output_file` as it is, so give this when they will read
   * the manifest from elsewhere. Default: the store key as it is.
   */
  outputRoot?: string;
}

/** One run as the merge sees it, whether described by the plan or by fragment contexts. */
interface RunShape {
  run_id: string;
  grid_index: number;
  params: Params;
  seed: number | null;
  n_systems: number;
  output_key: string;
  /** One entry per chunk, in chunk order: the task id, if known. */
  chunks: { task_id: string | null; chunk_index: number }[];
}

/**
 * Derives `ensemble_metadata.json` from task fragments. Pure and deterministic: the result
 * depends only on the set of fragments (not their order or repetition) and the plan.
 * A task succeeds if any attempt succeeded; a run succeeds when every chunk task did, fails
 * when some task failed without a success, and is left out while it is still pending.
 * With a plan, only fragments of this ensemble's tasks count; without one, every fragment
 * needs its `context`.
 * @param fragments - fragments in any order, duplicates allowed
 * @param plan - the ensemble's plan (recommended)
 * @param options - see {@link MergeOptions}
 * @throws CompasEnsembleError METADATA_CONFLICT when two successes of one task disagree on
 *   provenance (output sha256, seed, arguments or COMPAS build), naming both fragments
 */
export function mergeMetadata(fragments: readonly Fragment[], plan?: Plan, options: MergeOptions = {}): Manifest {
  const { fragments: used, ignored } = relevantFragments(fragments, plan);
  const outcomes = outcomesByTask(used);
  const shapes = plan === undefined ? shapesFromContexts(used) : shapesFromPlan(plan);
  shapes.sort((a, b) => a.grid_index - b.grid_index || compareStrings(a.run_id, b.run_id));

  const runs: ManifestRun[] = [];
  let success = 0;
  let failed = 0;
  for (const shape of shapes) {
    const run = manifestRun(shape, outcomes, options);
    if (run === null) continue;
    runs.push(run);
    if (run.status === "success") success++;
    else failed++;
  }
  const summary = { runs: shapes.length, success, failed, pending: shapes.length - success - failed };

  if (plan !== undefined) {
    return {
      creation_time: plan.created_at,
      compas_binary: plan.compas.binary,
      n_systems_per_run: plan.n_systems_per_run,
      ensemble_id: plan.ensemble_id,
      library_version: plan.library_version,
      compas: plan.compas,
      profile: plan.profile,
      seed_base: plan.seed_base,
      systems_per_task: plan.systems_per_task,
      hdf5_chunk_size: plan.hdf5_chunk_size,
      summary,
      ignored_fragments: ignored,
      runs,
    };
  }
  const ordered = [...outcomes.values()].map((o) => o.decisive);
  const first = ordered[0];
  if (first === undefined) {
    throw new CompasEnsembleError("METADATA_INVALID", "There are no fragments to merge and no plan to describe the ensemble.", {
      hint: "Pass the plan (plan.json) to produce an empty manifest.",
    });
  }
  const ensembleIds = [...new Set(used.map((f) => f.ensemble_id))].sort(compareStrings);
  return {
    creation_time: used.map((f) => f.started_at).sort(compareStrings)[0] as string,
    compas_binary: first.compas.binary,
    n_systems_per_run: Math.max(...shapes.map((s) => s.n_systems)),
    ...(ensembleIds.length === 1 ? { ensemble_id: ensembleIds[0] } : { ensemble_ids: ensembleIds }),
    compas: first.compas,
    summary,
    ignored_fragments: 0,
    runs,
  };
}

function shapesFromPlan(plan: Plan): RunShape[] {
  const tasks = new Map(plan.tasks.map((t) => [t.task_id, t]));
  return plan.runs.map((r) => ({
    run_id: r.run_id,
    grid_index: r.grid_index,
    params: r.params,
    seed: r.seed,
    n_systems: r.n_systems,
    output_key: r.output_key,
    chunks: r.task_ids.map((id, i) => ({ task_id: id, chunk_index: tasks.get(id)?.chunk_index ?? i })),
  }));
}

function shapesFromContexts(fragments: readonly Fragment[]): RunShape[] {
  const byRun = new Map<string, { ctx: FragmentContext; from: Fragment; chunks: Map<number, Fragment> }>();
  const sorted = [...fragments].sort((a, b) => compareStrings(a.task_id, b.task_id) || a.attempt - b.attempt);
  for (const f of sorted) {
    const ctx = f.context;
    if (ctx === undefined) {
      throw new CompasEnsembleError(
        "METADATA_INVALID",
        `Fragment ${fragmentLabel(f)} has no context (grid index, params, chunking), so it cannot be merged without the plan.`,
        { hint: "Merge with the ensemble's plan.json." },
      );
    }
    const seen = byRun.get(f.run_id);
    if (seen === undefined) {
      byRun.set(f.run_id, { ctx, from: f, chunks: new Map([[ctx.chunk_index, f]]) });
      continue;
    }
    const same =
      seen.ctx.grid_index === ctx.grid_index &&
      seen.ctx.n_chunks === ctx.n_chunks &&
      seen.ctx.run_output_key === ctx.run_output_key &&
      JSON.stringify(seen.ctx.params) === JSON.stringify(ctx.params);
    if (!same) {
      throw new CompasEnsembleError(
        "METADATA_CONFLICT",
        `Fragments ${fragmentLabel(seen.from)} and ${fragmentLabel(f)} describe run ${f.run_id} differently (grid index, params, chunking or output key).`,
        { hint: "They come from different plans; merge each ensemble with its own plan.json." },
      );
    }
    if (!seen.chunks.has(ctx.chunk_index)) seen.chunks.set(ctx.chunk_index, f);
  }
  return [...byRun.entries()].map(([runId, { ctx, chunks }]) => {
    const list = Array.from({ length: ctx.n_chunks }, (_, i) => ({ task_id: chunks.get(i)?.task_id ?? null, chunk_index: i }));
    return {
      run_id: runId,
      grid_index: ctx.grid_index,
      params: ctx.params,
      seed: chunks.get(0)?.seed ?? null,
      n_systems: [...chunks.values()].reduce((sum, f) => sum + f.n_systems, 0),
      output_key: ctx.run_output_key,
      chunks: list,
    };
  });
}

function manifestRun(shape: RunShape, outcomes: Map<string, TaskOutcome>, options: MergeOptions): ManifestRun | null {
  const found = shape.chunks.map((c) => ({ chunk: c, outcome: c.task_id === null ? undefined : outcomes.get(c.task_id) }));
  const decided = found.flatMap((x) => (x.outcome === undefined ? [] : [x.outcome]));
  const failures = decided.filter((o) => o.status === "failed");
  const allSucceeded = decided.length === shape.chunks.length && failures.length === 0;
  if (!allSucceeded && failures.length === 0) return null;
  const status = allSucceeded ? "success" : "failed";

  const timestamp = decided.map((o) => o.decisive.finished_at).sort(compareStrings).at(-1) as string;
  // With one chunk the task's own output is the run's file; chunked runs point at the merge.
  const single = shape.chunks.length === 1 ? decided[0]?.decisive.output?.key : undefined;
  const outputKey = status === "success" && single !== undefined ? single : shape.output_key;
  const run: ManifestRun = {
    run_id: shape.run_id,
    params: { ...shape.params, run_id: shape.run_id },
    output_file: resolveOutput(outputKey, options.outputRoot),
    status,
    timestamp,
  };
  if (status === "failed") {
    const latest = failures
      .map((o) => o.decisive)
      .sort(
        (a, b) => compareStrings(a.finished_at, b.finished_at) || a.attempt - b.attempt || compareStrings(a.task_id, b.task_id),
      )
      .at(-1) as Fragment;
    run.error = errorText(latest);
  }
  const successOutputs = decided.flatMap((o) => (o.status === "success" && o.decisive.output !== null ? [o.decisive.output] : []));
  Object.assign(run, {
    grid_index: shape.grid_index,
    seed: shape.seed,
    n_systems: shape.n_systems,
    n_chunks: shape.chunks.length,
    output_key: shape.output_key,
    attempts: decided.reduce((sum, o) => sum + o.attempts.length, 0),
    duration_s: decided.reduce((sum, o) => sum + o.decisive.duration_s, 0),
    hosts: [...new Set(decided.map((o) => o.decisive.host))].sort(compareStrings),
    ...(status === "success" && shape.chunks.length === 1 && successOutputs[0] !== undefined
      ? { output_bytes: successOutputs[0].bytes, output_sha256: successOutputs[0].sha256 }
      : {}),
    tasks: found.map(({ chunk, outcome }) => taskEntry(chunk, outcome)),
  });
  return run;
}

function taskEntry(chunk: { task_id: string | null; chunk_index: number }, o: TaskOutcome | undefined): Record<string, unknown> {
  if (o === undefined) return { task_id: chunk.task_id, chunk_index: chunk.chunk_index, status: "pending", attempts: 0 };
  const f = o.decisive;
  return {
    task_id: o.task_id,
    chunk_index: chunk.chunk_index,
    status: o.status,
    attempt: f.attempt,
    attempts: o.attempts.length,
    host: f.host,
    seed: f.seed,
    n_systems: f.n_systems,
    argv: f.argv,
    compas_version: f.compas.version,
    compas_sha256: f.compas.sha256,
    library_version: f.library_version,
    started_at: f.started_at,
    finished_at: f.finished_at,
    duration_s: f.duration_s,
    output: f.output,
    error: o.status === "failed" ? errorText(f) : null,
  };
}

function resolveOutput(key: string, root: string | undefined): string {
  if (root === undefined || root === "") return key;
  return `${root.replace(/\/+$/, "")}/${key.replace(/^\/+/, "")}`;
}
