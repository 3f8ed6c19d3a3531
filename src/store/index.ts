export type { HeadOptions, Store, StoreEntry, StoreHead, TransferOptions, TransferResult } from "./types.js";
export { assertSafeKey, isSafeKey, keyToLocalPath, unsafeKeyReason } from "./safe-keys.js";
export { LocalStore } from "./local.js";
export { S3Store, SHA256_METADATA, parseS3Uri } from "./s3.js";
export {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PART_SIZE,
  DEFAULT_QUEUE_SIZE,
  S3StoreOptionsSchema,
  type S3Credentials,
  type S3StoreOptions,
} from "./s3-client.js";
export { SYNC_STATE_FILE } from "./keys.js";
export { openStore } from "./open.js";
export {
  DEFAULT_SYNC_CONCURRENCY,
  formatSyncSummary,
  sync,
  syncCommand,
  type SyncCommandOptions,
  type SyncOptions,
  type SyncProgress,
  type SyncSummary,
} from "./sync.js";
