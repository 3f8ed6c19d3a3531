import { mergeMetadata } from "../manifest/merge.js";
import { planIndex } from "../plan/plan-index.js";
import { runIsMerged } from "../plan/adaptive.js";
import type { Fragment, Manifest } from "../manifest/schema.js";
import type { Plan } from "../plan/schema.js";
import type { Store } from "../store/types.js";
import { writeManifest } from "../store/ensemble-files.js";
import { readFragments } from "../store/fragments.js";
import { mergeRun } from "./merge-runs.js";
import type { EnsembleEvent } from "./run.js";
import { verifiedSuccesses } from "./verify.js";

/**
 * Brings the ensemble's derived files up to date from its fragments: merges chunked runs
 * whose chunks all succeeded (and are not merged yet), then writes ensemble_metadata.json.
 * @param store - the ensemble's store
 * @param plan - its plan
 * @param emit - receives run-merged and warning events
 */
export async function finalizeEnsemble(
  store: Store,
  plan: Plan,
  emit: (e: EnsembleEvent) => void = () => {},
): Promise<{ manifest: Manifest }> {
  const { fragments } = await readFragments(store);
  const { successes, mergedRuns } = await verifiedSuccesses(store, plan, fragments);
  return { manifest: await mergeRunsAndWriteManifest(store, plan, fragments, successes, mergedRuns, emit) };
}

/**
 * Merges every chunked run whose chunks all succeeded, then writes the manifest of the
 * fragments as they stand (runs whose merge failed marked so): the end of an ensemble, and
 * of each wave of an adaptive one.
 * @param successes - verified successes by task id
 * @param mergedRuns - runs whose merged output is already verified
 * @returns the manifest written
 */
export async function mergeRunsAndWriteManifest(
  store: Store,
  plan: Plan,
  fragments: readonly Fragment[],
  successes: Map<string, Fragment>,
  mergedRuns: Set<string>,
  emit: (e: EnsembleEvent) => void,
): Promise<Manifest> {
  const merger = new RunMerger(store, plan, successes, mergedRuns, emit);
  await merger.mergeReady();
  await merger.idle();
  const manifest = mergeMetadata(fragments, plan, { outputRoot: store.uri });
  merger.markUnmerged(manifest);
  await writeManifest(store, manifest);
  return manifest;
}

/** Merges each chunked run as soon as its last chunk succeeds, one merge at a time. */
export class RunMerger {
  private chain: Promise<void> = Promise.resolve();
  private readonly failed = new Map<string, string>();
  private readonly merged: Set<string>;

  constructor(
    private readonly store: Store,
    private readonly plan: Plan,
    private readonly successes: Map<string, Fragment>,
    alreadyMerged: ReadonlySet<string>,
    private readonly emit: (e: EnsembleEvent) => void,
  ) {
    this.merged = new Set(alreadyMerged);
  }

  /** Queues merges of runs whose chunks were all done before this invocation. */
  async mergeReady(): Promise<void> {
    for (const run of this.plan.runs) if (runIsMerged(this.plan, run)) this.maybeMerge(run.run_id);
  }

  taskSucceeded(taskId: string): void {
    const task = planIndex(this.plan).tasks.get(taskId);
    const run = task && planIndex(this.plan).runs.get(task.run_id);
    if (run && runIsMerged(this.plan, run)) this.maybeMerge(run.run_id);
  }

  async idle(): Promise<void> {
    await this.chain;
  }

  /** A run whose merge failed is not a success, whatever its chunks say. */
  markUnmerged(manifest: Manifest): void {
    for (const run of manifest.runs) {
      const reason = this.failed.get(run.run_id);
      if (reason && run.status === "success") {
        run.status = "failed";
        run.error = `OUTPUT_INCOMPLETE: merging the chunks failed: ${reason}`;
      }
    }
  }

  private maybeMerge(runId: string): void {
    const run = planIndex(this.plan).runs.get(runId)!;
    // An adaptive run that may still grow is merged only once it has stopped.
    if (this.merged.has(runId) || run.open === true || !run.task_ids.every((id) => this.successes.has(id))) return;
    this.merged.add(runId);
    this.chain = this.chain.then(async () => {
      try {
        await mergeRun(this.store, this.plan, run, this.successes);
        this.emit({ type: "run-merged", runId });
      } catch (err) {
        this.failed.set(runId, (err as Error).message);
        this.emit({ type: "warning", message: `merging run ${runId} failed: ${(err as Error).message}` });
      }
    });
  }
}
