import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompasEnsembleError } from "../errors.js";
import { mergeChunkOutputs, mergeRunDetailsText } from "../hdf5/merge-chunks.js";
import type { Fragment } from "../manifest/schema.js";
import type { Plan, PlanRun } from "../plan/schema.js";
import { type MergeRecord, writeMergeRecord } from "../store/ensemble-files.js";
import { runDetailsKey } from "../store/keys.js";
import { LocalStore } from "../store/local.js";
import type { Store } from "../store/types.js";

/**
 * Merges the chunks of a run into the run's COMPAS_Output.h5 (rows in seed order) and its
 * Run_Details, records the merge, then deletes the chunk files. The record is written after
 * the merged file, so a crash in between only means merging again.
 * @param store - the ensemble's store
 * @param plan - the plan
 * @param run - the run, all of whose chunk tasks have succeeded
 * @param successes - the success fragment of each chunk task, by task id
 */
export async function mergeRun(
  store: Store,
  plan: Plan,
  run: PlanRun,
  successes: ReadonlyMap<string, Fragment>,
): Promise<MergeRecord> {
  const work = mkdtempSync(join(tmpdir(), "compas-merge-"));
  try {
    const chunkPaths: string[] = [];
    const detailTexts: string[] = [];
    for (const [i, taskId] of run.task_ids.entries()) {
      const fragment = successes.get(taskId);
      if (!fragment?.output) {
        throw new CompasEnsembleError("OUTPUT_INCOMPLETE", `Chunk ${taskId} of run ${run.run_id} has no successful output to merge.`, { taskId });
      }
      const local =
        store instanceof LocalStore ? await store.pathForRead(fragment.output.key) : null;
      const path = local ?? join(work, `c${i}.h5`);
      if (!local) await store.getFile(fragment.output.key, path);
      chunkPaths.push(path);
      const detailsKey = runDetailsKey(fragment.output.key);
      if (await store.exists(detailsKey)) detailTexts.push((await store.get(detailsKey)).toString("utf8"));
    }
    const merged = join(work, "COMPAS_Output.h5");
    await mergeChunkOutputs(chunkPaths, merged, { hdf5ChunkSize: plan.hdf5_chunk_size });
    const put = await store.putFile(run.output_key, merged);
    if (detailTexts.length === run.task_ids.length) {
      await store.put(runDetailsKey(run.output_key), mergeRunDetailsText(detailTexts));
    }
    const record: MergeRecord = {
      run_id: run.run_id,
      ensemble_id: plan.ensemble_id,
      chunks: run.task_ids.map((id) => ({ task_id: id, sha256: successes.get(id)!.output!.sha256 })),
      output: { key: run.output_key, bytes: put.size, sha256: put.sha256 },
      merged_at: new Date().toISOString(),
    };
    await writeMergeRecord(store, record);
    for (const taskId of run.task_ids) {
      const key = successes.get(taskId)!.output!.key;
      await store.delete(key);
      await store.delete(runDetailsKey(key));
    }
    return record;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
