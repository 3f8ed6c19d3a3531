/**
 * `compas-ensemble/slurm`: the Slurm executor (job arrays of `compas-ensemble worker`,
 * followed through squeue and the store). docs/slurm-executor.md.
 * @module slurm
 */
export {
  SlurmExecutor,
  reattachSlurmExecutor,
  validateSlurmOptions,
  SlurmHandleDataSchema,
  type SlurmExecutorOptions,
  type SlurmHandleData,
} from "../executors/slurm/index.js";
