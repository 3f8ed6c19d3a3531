import { z } from "zod";
import { CompasEnsembleError } from "../../errors.js";
import type { ExecutorHandle } from "../types.js";
import { describeZodError } from "../../util/zod-error.js";

/** One `sbatch --array` call of a submission. */
export const SlurmArraySchema = z.strictObject({
  /** Array job id printed by sbatch. */
  job_id: z.string().regex(/^\d+$/),
  /** Index list (store key `executor/index-lists/<name>.json`): element i runs its task i. */
  index_list: z.string().regex(/^[\w.-]+$/),
  /** Elements 0..size-1; together the arrays cover the handle's task_ids in order. */
  size: z.number().int().positive(),
});
/** One array of a submission. */
export type SlurmArray = z.infer<typeof SlurmArraySchema>;

/** `handle.data` of a Slurm submission: everything status/wait/cancel need, no secret. */
export const SlurmHandleDataSchema = z.strictObject({
  format: z.literal(1),
  /** Store URI the workers write to. */
  store: z.string().min(1),
  /** Name of the submission; prefix of its index lists and key of its cancel marker. */
  submission: z.string().regex(/^[\w.-]+$/),
  arrays: z.array(SlurmArraySchema).min(1),
  /** First attempt number of this submission, per task, where it is not 1. */
  first_attempt: z.record(z.string(), z.number().int().positive()),
  /** Folder of the slurm-%A_%a.out files. */
  log_dir: z.string(),
  /** SLURM_CONF the jobs were submitted with, so another process reaches the same cluster. */
  slurm_conf: z.string().optional(),
});
/** Parsed `handle.data`. */
export type SlurmHandleData = z.infer<typeof SlurmHandleDataSchema>;

/**
 * Reads and checks a Slurm handle.
 * @param handle - a handle from SlurmExecutor.submit (maybe read back from the store)
 */
export function slurmHandleData(handle: ExecutorHandle): SlurmHandleData {
  if (handle.kind !== "slurm") {
    throw new CompasEnsembleError("OPTIONS_INVALID", `The handle is of a ${handle.kind} submission, not a Slurm one; use the ${handle.kind} executor.`);
  }
  const parsed = SlurmHandleDataSchema.safeParse(handle.data);
  if (!parsed.success) {
    throw new CompasEnsembleError("METADATA_INVALID", `The Slurm handle is invalid (${describeZodError(parsed.error, "data")}).`, { cause: parsed.error });
  }
  const total = parsed.data.arrays.reduce((n, a) => n + a.size, 0);
  if (total !== handle.task_ids.length) {
    throw new CompasEnsembleError("METADATA_INVALID", `The Slurm handle's arrays hold ${total} elements but it lists ${handle.task_ids.length} tasks.`);
  }
  return parsed.data;
}

/** Where element `index` of array job `jobId` writes its stdout and stderr. */
export function elementLogPath(logDir: string, jobId: string, index: number): string {
  return `${logDir.replace(/\/+$/, "")}/slurm-${jobId}_${index}.out`;
}
