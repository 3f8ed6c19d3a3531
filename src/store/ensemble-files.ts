import { z } from "zod";
import { CompasEnsembleError } from "../errors.js";
import { type ExecutorHandle, ExecutorHandleSchema } from "../executors/types.js";
import { type Manifest, ManifestSchema } from "../manifest/schema.js";
import { type Plan, PlanSchema } from "../plan/schema.js";
import { describeZodError } from "../util/zod-error.js";
import { asStore, locationOf } from "./fragments.js";
import { HANDLE_KEY, indexListKey, MANIFEST_KEY, mergeRecordKey, PLAN_KEY } from "./keys.js";
import type { Store } from "./types.js";

// The files of an ensemble other than fragments (src/store/fragments.ts), read and written
// through a Store: every reader validates and names the file and the field that is wrong;
// writers write what the library built, as pretty JSON with a trailing newline.

/**
 * The text of a JSON document as the store holds it: 2-space indent, trailing newline.
 * @param value - what
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/**
 * Writes a JSON document to the store (atomically on local stores).
 * @param store - the ensemble's store
 * @param key - where
 * @param value - what
 */
export async function putJson(store: Store, key: string, value: unknown): Promise<void> {
  await store.put(key, jsonText(value));
}

/**
 * Parses and validates the text of a JSON document: the one place where a plan, a manifest,
 * a handle or an index list that is not what it should be becomes one sentence naming the
 * file and the field.
 * @param text - the document
 * @param schema - zod schema of its content
 * @param where - the file as the user knows it (path or URI)
 * @param what - what it should be, for the message ("a compas-ensemble plan", "a valid manifest")
 * @param extra - the store key and a hint for the error, if known
 * @throws CompasEnsembleError METADATA_INVALID
 */
export function parseJsonDocument<S extends z.ZodType>(text: string, schema: S, where: string, what: string, extra: { key?: string; hint?: string } = {}): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CompasEnsembleError("METADATA_INVALID", `${where} is not valid JSON (${(cause as Error).message}).`, {
      cause,
      ...extra,
      hint: extra.hint ?? "Restore the file from a backup or fix it by hand.",
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new CompasEnsembleError("METADATA_INVALID", `${where} is not ${what}: ${describeZodError(parsed.error)}.`, { cause: parsed.error, ...extra });
  }
  return parsed.data;
}

/**
 * Reads a JSON document and validates it, with errors that name the file and the field.
 * @param store - where it is
 * @param key - its key
 * @param schema - zod schema of its content
 * @param what - what it is, for messages ("a compas-ensemble plan", "a manifest")
 * @returns the parsed value, or null when the key does not exist
 */
export async function readJson<S extends z.ZodType>(store: Store, key: string, schema: S, what: string): Promise<z.output<S> | null> {
  if (!(await store.exists(key))) return null;
  return parseJsonDocument((await store.get(key)).toString("utf8"), schema, locationOf(store, key), what, { key });
}

/**
 * Reads and validates the plan of an ensemble.
 * @param where - the ensemble's store, or its directory
 * @returns the plan, or null when there is none (a new ensemble)
 */
export async function readPlan(where: Store | string): Promise<Plan | null> {
  return readJson(asStore(where), PLAN_KEY, PlanSchema, "a compas-ensemble plan");
}

/**
 * Reads the plan of an ensemble that must exist: where there is none, the path given is not
 * an ensemble's output.
 * @param store - where the ensemble should be
 * @param options - how the user named the place (default the store's URI), and what to do
 * @throws CompasEnsembleError PLAN_MISSING when there is no plan.json
 */
export async function requirePlan(store: Store, options: { display?: string; hint?: string } = {}): Promise<Plan> {
  const plan = await readPlan(store);
  if (plan === null) {
    throw new CompasEnsembleError("PLAN_MISSING", `${options.display ?? store.uri} holds no plan.json, so it is not an ensemble output.`, {
      hint: options.hint ?? "Give the --output-dir of `compas-ensemble run`.",
      key: PLAN_KEY,
    });
  }
  return plan;
}

/**
 * Writes the plan of an ensemble (as buildPlan made it; it is validated when read).
 * @param where - the ensemble's store, or its directory
 * @param plan - the plan
 * @returns where it was written
 */
export async function writePlan(where: Store | string, plan: Plan): Promise<string> {
  const store = asStore(where);
  await putJson(store, PLAN_KEY, plan);
  return locationOf(store, PLAN_KEY);
}

/**
 * Reads and validates `ensemble_metadata.json` (this library's or the older tool's).
 * @param where - the ensemble's store, or its directory
 * @returns the manifest, or null when there is none
 */
export async function readManifest(where: Store | string): Promise<Manifest | null> {
  return readJson(asStore(where), MANIFEST_KEY, ManifestSchema, "a valid manifest");
}

/**
 * Writes `ensemble_metadata.json` (atomically on local stores).
 * @param where - the ensemble's store, or its directory
 * @param manifest - usually the result of mergeMetadata
 * @returns where it was written
 */
export async function writeManifest(where: Store | string, manifest: Manifest): Promise<string> {
  const store = asStore(where);
  await putJson(store, MANIFEST_KEY, manifest);
  return locationOf(store, MANIFEST_KEY);
}

/**
 * Reads the saved handle of the latest submission of a detached executor.
 * @param store - the ensemble's store
 * @returns the handle, or null when nothing was submitted by a detached executor
 */
export async function readHandle(store: Store): Promise<ExecutorHandle | null> {
  return readJson(store, HANDLE_KEY, ExecutorHandleSchema, "a saved executor handle");
}

/**
 * Saves the handle of a submission, so that any process can re-attach to it.
 * @param store - the ensemble's store
 * @param handle - what the executor's submit returned
 */
export async function writeHandle(store: Store, handle: ExecutorHandle): Promise<void> {
  await putJson(store, HANDLE_KEY, handle);
}

/**
 * Stores an index list: position i of a job array runs task `taskIds[i]`.
 * @param store - the ensemble's store
 * @param name - the list's name (unique per submission)
 * @param taskIds - tasks in array order
 */
export async function writeIndexList(store: Store, name: string, taskIds: readonly string[]): Promise<void> {
  await store.put(indexListKey(name), JSON.stringify(taskIds) + "\n");
}

/**
 * Reads an index list.
 * @param store - the ensemble's store
 * @param name - the list's name
 * @returns the task ids, or null when there is no such list
 */
export async function readIndexList(store: Store, name: string): Promise<string[] | null> {
  return readJson(store, indexListKey(name), z.array(z.string()), "an index list of task ids");
}

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
 * Writes a run's merge record (after the merged output, so a crash in between only means
 * merging again).
 * @param store - the ensemble's store
 * @param record - the record
 */
export async function writeMergeRecord(store: Store, record: MergeRecord): Promise<void> {
  await putJson(store, mergeRecordKey(record.run_id), record);
}
