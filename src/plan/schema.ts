import { z } from "zod";
import { GridPointSchema, ParamsSchema } from "../grid/schema.js";
import { KeyNameSchema, StoreKeySchema } from "../store/safe-keys.js";

/** How the COMPAS binary that produced (or will produce) the outputs is identified. */
export const CompasIdentitySchema = z.strictObject({
  /** Absolute path of the binary on the machine that planned the ensemble. */
  binary: z.string(),
  /** What `COMPAS --version` printed, trimmed (e.g. "03.07.00"). */
  version: z.string(),
  /** sha256 of the binary file, hex. */
  sha256: z.string(),
});
/** The COMPAS build of an ensemble: path, version and sha256. */
export type CompasIdentity = z.infer<typeof CompasIdentitySchema>;

/** One task: one COMPAS process for one chunk of one run. */
export const TaskSchema = z.strictObject({
  /**
   * Stable id, `<run_id>` for an unchunked run, `<run_id>.c<chunk>` otherwise. It names the
   * task's fragments, logs and scratch folders, so it must be a safe file name (no '/', '..').
   */
  task_id: KeyNameSchema,
  run_id: KeyNameSchema,
  grid_index: z.number().int().nonnegative(),
  chunk_index: z.number().int().nonnegative(),
  n_chunks: z.number().int().positive(),
  /** Index of the chunk's first system within the run. */
  first_system: z.number().int().nonnegative(),
  n_systems: z.number().int().positive(),
  /** --random-seed of this task; system i of the task has SEED = seed + i. */
  seed: z.number().int().nonnegative(),
  /**
   * COMPAS arguments without the binary and without --output-path/--output-container,
   * which the worker adds for its own scratch folder.
   */
  args: z.array(z.string()),
  /** Store key of the task's own COMPAS_Output.h5 (the run's file when n_chunks is 1). */
  output_key: StoreKeySchema,
});
/** One task: one COMPAS process for one chunk of one run. */
export type Task = z.infer<typeof TaskSchema>;

/** One run (grid point) and the tasks that make it. */
export const PlanRunSchema = z.strictObject({
  run_id: KeyNameSchema,
  grid_index: z.number().int().nonnegative(),
  params: ParamsSchema,
  seed: z.number().int().nonnegative(),
  n_systems: z.number().int().positive(),
  task_ids: z.array(KeyNameSchema).min(1),
  /** Store key of the run's merged COMPAS_Output.h5. */
  output_key: StoreKeySchema,
});
/** One run (grid point) of a plan and its tasks. */
export type PlanRun = z.infer<typeof PlanRunSchema>;

/** The whole ensemble as plain data, written to the store before anything runs. */
export const PlanSchema = z.strictObject({
  schema_version: z.literal(1),
  /** sha256 of the plan's defining content (see planHash); identifies the ensemble. */
  ensemble_id: z.string(),
  created_at: z.string(),
  library_version: z.string(),
  compas: CompasIdentitySchema,
  profile: z.string(),
  n_systems_per_run: z.number().int().positive(),
  systems_per_task: z.number().int().positive(),
  seed_base: z.number().int().nonnegative(),
  hdf5_chunk_size: z.number().int().positive(),
  points: z.array(GridPointSchema),
  runs: z.array(PlanRunSchema),
  tasks: z.array(TaskSchema),
});
/** A plan: the whole ensemble as plain data. */
export type Plan = z.infer<typeof PlanSchema>;
