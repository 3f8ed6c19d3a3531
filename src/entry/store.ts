/**
 * `compas-ensemble/store`: where an ensemble lives (a local directory or
 * `s3://bucket/prefix`), the name of every key it has, reading and writing its files, and sync.
 * @module store
 */
export type { HeadOptions, Store, StoreEntry, StoreHead, TransferOptions, TransferResult } from "../store/types.js";
export { LocalStore } from "../store/local.js";
export { S3Store, SHA256_METADATA, parseS3Uri } from "../store/s3.js";
export {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PART_SIZE,
  DEFAULT_QUEUE_SIZE,
  S3StoreOptionsSchema,
  type S3Credentials,
  type S3StoreOptions,
} from "../store/s3-client.js";
export { openStore } from "../store/open.js";
export { sync, DEFAULT_SYNC_CONCURRENCY, type SyncOptions, type SyncProgress, type SyncSummary } from "../store/sync.js";
export { syncCommand, formatSyncSummary, type SyncCommandOptions } from "../cli/sync-command.js";
export { assertSafeKey, isSafeKey, keyToLocalPath, unsafeKeyReason } from "../store/safe-keys.js";
export {
  PLAN_KEY,
  MANIFEST_KEY,
  HANDLE_KEY,
  FRAGMENTS_PREFIX,
  LOGS_PREFIX,
  RUNS_PREFIX,
  CHUNKS_PREFIX,
  EXECUTOR_PREFIX,
  ARCHIVE_PREFIX,
  SCRATCH_DIR,
  LOCK_FILE,
  SYNC_STATE_FILE,
  ENSEMBLE_OWNED_ENTRIES,
  fragmentKey,
  parseFragmentKey,
  logKey,
  runOutputKey,
  chunkOutputKey,
  runDetailsKey,
  detailedOutputKey,
  mergeRecordKey,
  indexListKey,
  archiveKey,
} from "../store/keys.js";
export {
  readPlan,
  requirePlan,
  writePlan,
  readManifest,
  writeManifest,
  readHandle,
  writeHandle,
  readIndexList,
  writeIndexList,
  readMergeRecord,
  MergeRecordSchema,
  type MergeRecord,
} from "../store/ensemble-files.js";
export {
  readFragments,
  writeFragment,
  FragmentCache,
  type FragmentCacheOptions,
  type FragmentsRead,
  type InvalidFragmentFile,
} from "../store/fragments.js";
