/** AWS Batch executor: array jobs of `compas-ensemble worker`, re-attachable from the store. */
export {
  BatchExecutor,
  reattachBatchExecutor,
  BatchHandleDataSchema,
  BatchJobRefSchema,
  type BatchHandleData,
  type BatchJobRef,
  type BatchJobSummary,
} from "./executor.js";
export {
  BatchExecutorOptionsSchema,
  JobDefinitionSpecSchema,
  BATCH_LIMITS,
  checkEnvironment,
  resolveBatchOptions,
  type BatchExecutorOptions,
  type JobDefinitionSpec,
  type ResolvedBatchExecutorOptions,
  type ResolvedJobDefinitionSpec,
} from "./options.js";
export { ensureJobDefinition, jobDefinitionInput, declaredCompasSha256, SPEC_TAG, COMPAS_SHA256_TAG, type ResolvedJobDefinition } from "./job-definition.js";
export { batchStatusToTaskState } from "./_states.js";
export { ApiRetrySchema, type ApiRetryOptions } from "./_backoff.js";
