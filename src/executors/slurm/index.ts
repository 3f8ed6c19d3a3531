/** The Slurm executor: job arrays of `compas-ensemble worker`, followed through squeue and the store. */
export { SlurmExecutor, reattachSlurmExecutor } from "./executor.js";
export { validateSlurmOptions, type SlurmExecutorOptions } from "./options.js";
export { SlurmHandleDataSchema, type SlurmHandleData } from "./handle.js";
