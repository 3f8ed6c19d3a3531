import { z } from "zod";
import { ParamsSchema } from "../grid/schema.js";
import { CompasIdentitySchema } from "../plan/schema.js";
import { KeyNameSchema, StoreKeySchema } from "../store/safe-keys.js";

/** Rows per COMPAS group found in a checked output. */
export const RowCountsSchema = z.record(z.string(), z.number().int().nonnegative());

/** Where a finished task's output lives and what it holds. */
export const OutputInfoSchema = z.strictObject({
  key: StoreKeySchema,
  bytes: z.number().int().nonnegative(),
  sha256: z.string(),
  rows: RowCountsSchema,
});
/** Where a finished task's output lives and what it holds. */
export type OutputInfo = z.infer<typeof OutputInfoSchema>;

/** Why a task attempt failed. */
export const TaskErrorSchema = z.strictObject({
  code: z.string(),
  message: z.string(),
  exit_code: z.number().int().nullable().optional(),
  signal: z.string().nullable().optional(),
  stderr_tail: z.string().optional(),
  /** False when a retry cannot help (bad flag, bad input). */
  retryable: z.boolean(),
});
/** Why a task attempt failed. */
export type TaskError = z.infer<typeof TaskErrorSchema>;

/**
 * Where a task sits in its plan, copied into the fragment by the worker so that fragments
 * describe themselves and can be merged into a manifest when plan.json is not at hand.
 */
export const FragmentContextSchema = z.strictObject({
  grid_index: z.number().int().nonnegative(),
  params: ParamsSchema,
  chunk_index: z.number().int().nonnegative(),
  n_chunks: z.number().int().positive(),
  /** Store key of the run's (merged) COMPAS_Output.h5. */
  run_output_key: StoreKeySchema,
});
/** Where a task sits in its plan, as its fragment records it. */
export type FragmentContext = z.infer<typeof FragmentContextSchema>;

/** Written once per task attempt that ends, by the one worker that ran it. */
export const FragmentSchema = z.strictObject({
  schema_version: z.literal(1),
  ensemble_id: z.string(),
  task_id: KeyNameSchema,
  run_id: KeyNameSchema,
  attempt: z.number().int().positive(),
  status: z.enum(["success", "failed"]),
  host: z.string(),
  started_at: z.string(),
  finished_at: z.string(),
  duration_s: z.number().nonnegative(),
  seed: z.number().int().nonnegative(),
  n_systems: z.number().int().positive(),
  argv: z.array(z.string()),
  compas: CompasIdentitySchema,
  library_version: z.string(),
  output: OutputInfoSchema.nullable(),
  error: TaskErrorSchema.nullable(),
  /** Optional (added by the metadata module): needed only to merge without the plan. */
  context: FragmentContextSchema.optional(),
  /**
   * Earlier attempts of this task whose success this attempt replaces, because their output
   * was found missing or corrupt. A rerun's output differs (COMPAS records run times), so
   * without this the two successes would conflict.
   */
  supersedes: z.array(z.number().int().positive()).optional(),
});
/** The record of one finished task attempt. */
export type Fragment = z.infer<typeof FragmentSchema>;

/** One run in `ensemble_metadata.json`: the predecessor's fields plus provenance. */
export const ManifestRunSchema = z.looseObject({
  run_id: z.string(),
  params: ParamsSchema.extend({ run_id: z.string() }),
  /** Absent on the predecessor's failed runs, which it wrote without an output. */
  output_file: z.string().optional(),
  status: z.enum(["success", "failed"]),
  timestamp: z.string(),
  error: z.string().optional(),
});
/** One run in the manifest. */
export type ManifestRun = z.infer<typeof ManifestRunSchema>;

/** `ensemble_metadata.json`: a superset of the predecessor's format. */
export const ManifestSchema = z.looseObject({
  creation_time: z.string(),
  compas_binary: z.string(),
  n_systems_per_run: z.number().int().positive(),
  runs: z.array(ManifestRunSchema),
});
/** `ensemble_metadata.json`: the predecessor's format plus provenance. */
export type Manifest = z.infer<typeof ManifestSchema>;
