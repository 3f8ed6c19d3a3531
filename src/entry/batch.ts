/**
 * `compas-ensemble/batch`: the AWS Batch executor (array jobs of `compas-ensemble worker`,
 * re-attachable from the store). docs/batch-executor.md.
 * @module batch
 */
export {
  BatchExecutor,
  reattachBatchExecutor,
  BatchHandleDataSchema,
  BatchJobRefSchema,
  BatchExecutorOptionsSchema,
  JobDefinitionSpecSchema,
  BATCH_LIMITS,
  checkEnvironment,
  resolveBatchOptions,
  jobDefinitionInput,
  SPEC_TAG,
  COMPAS_SHA256_TAG,
  batchStatusToTaskState,
  ApiRetrySchema,
  type BatchHandleData,
  type BatchJobRef,
  type BatchJobSummary,
  type BatchExecutorOptions,
  type JobDefinitionSpec,
  type ResolvedBatchExecutorOptions,
  type ResolvedJobDefinitionSpec,
  type ApiRetryOptions,
} from "../executors/batch/index.js";
