import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";
import { mergeChunkOutputs, mergeRunDetailsText } from "../hdf5/merge-chunks.js";
import type { Fragment, Plan, PlanRun } from "../manifest/schema.js";
import { LocalStore } from "../store/local.js";
import type { Store } from "../store/types.js";

/** Record of a run whose chunks were merged into one COMPAS_Output.h5. */
export const MergeRecordSchema = z.strictObject({
  run_id: z.string(),
  ensemble_id: z.string(),
  chunks: z.array(z.strictObject({ task_id: z.string(), sha256: z.string() })),
  output: z.strictObject({ key: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string() }),
  merged_at: z.string(),
});
/** Record of a merged run. */
export type MergeRecord = z.infer<typeof MergeRecordSchema>;

/** Store key of a run's merge record. */
export function mergeRecordKey(runId: string): string {
  return `runs/${runId}/merge.json`;
}

/**
 * Reads a run's merge record, or null when the run was not merged (or the record is unreadable,
 * in which case merging again is the safe answer).
 * @param store - the ensemble's store
 * @param runId - the run
 */
export async function readMergeRecord(store: Store, runId: string): Promise<MergeRecord | null> {
  const key = mergeRecordKey(runId);
  if (!(await store.exists(key))) return null;
  try {
    return MergeRecordSchema.parse(JSON.parse((await store.get(key)).toString("utf8")));
  } catch {
    return null;
  }
}

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
      if (!fragment?.output) throw new Error(`chunk ${taskId} of run ${run.run_id} has no successful output`);
      const local =
        store instanceof LocalStore ? await store.pathForRead(fragment.output.key) : null;
      const path = local ?? join(work, `c${i}.h5`);
      if (!local) await store.getFile(fragment.output.key, path);
      chunkPaths.push(path);
      const detailsKey = join(dirname(fragment.output.key), "Run_Details");
      if (await store.exists(detailsKey)) detailTexts.push((await store.get(detailsKey)).toString("utf8"));
    }
    const merged = join(work, "COMPAS_Output.h5");
    await mergeChunkOutputs(chunkPaths, merged, { hdf5ChunkSize: plan.hdf5_chunk_size });
    const put = await store.putFile(run.output_key, merged);
    if (detailTexts.length === run.task_ids.length) {
      await store.put(join(dirname(run.output_key), "Run_Details"), mergeRunDetailsText(detailTexts));
    }
    const record: MergeRecord = {
      run_id: run.run_id,
      ensemble_id: plan.ensemble_id,
      chunks: run.task_ids.map((id) => ({ task_id: id, sha256: successes.get(id)!.output!.sha256 })),
      output: { key: run.output_key, bytes: put.size, sha256: put.sha256 },
      merged_at: new Date().toISOString(),
    };
    await store.put(mergeRecordKey(run.run_id), JSON.stringify(record, null, 2) + "\n");
    for (const taskId of run.task_ids) {
      const key = successes.get(taskId)!.output!.key;
      await store.delete(key);
      await store.delete(join(dirname(key), "Run_Details"));
    }
    return record;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
