/** One object in a store listing. */
export interface StoreEntry {
  /** Relative '/'-separated key, exactly as the store holds it (it may be unsafe: check it). */
  key: string;
  /** Size in bytes. */
  size: number;
}

/** What a store knows about one object without reading it. */
export interface StoreHead {
  /** Size in bytes. */
  size: number;
  /** The S3 ETag without quotes (absent for local files). */
  etag?: string;
  /** Hex SHA-256 of the content, when the store keeps or computed it. */
  sha256?: string;
  /** Hex MD5 of the content, when known (a single-part S3 ETag, or computed locally). */
  md5?: string;
}

/** Options for {@link Store.head}. */
export interface HeadOptions {
  /**
   * Compute the checksums if the store does not keep them (a local file is hashed once,
   * then cached by size and mtime). S3 objects report what their metadata holds.
   */
  checksum?: boolean;
  /**
   * With `checksum`: hash a local file again even when a cached checksum is still valid by
   * size, mtime and inode, to catch a change in place that kept those (bit rot, `touch -r`).
   * S3 objects report what their metadata holds either way.
   */
  fresh?: boolean;
}

/** Checksums of a file that was just written or read in full. */
export interface TransferResult {
  /** Bytes transferred. */
  size: number;
  /** Hex SHA-256 of the content. */
  sha256: string;
  /** Hex MD5 of the content (absent when the caller supplied the SHA-256 and it was not recomputed). */
  md5?: string;
}

/** Options for writes and reads that may take a while. */
export interface TransferOptions {
  /** Aborts the transfer; a partial download never replaces the destination file. */
  signal?: AbortSignal;
  /** The content's SHA-256 if the caller already knows it (saves a pass over a big file). */
  sha256?: string;
}

/**
 * The one small interface over a local directory and `s3://bucket/prefix`.
 * Keys are relative '/'-separated paths; unsafe keys (absolute, `..`, backslash, NUL) are
 * refused with STORE_KEY_UNSAFE by every method that reads or writes an object.
 */
export interface Store {
  /** Where the store is, for messages (`/abs/dir` or `s3://bucket/prefix`); never secret. */
  readonly uri: string;
  /** One line for logs: kind, location, endpoint; never a credential. */
  describe(): string;
  /** Writes a small object in one request (atomically for local stores). */
  put(key: string, body: Buffer | string, options?: TransferOptions): Promise<void>;
  /** Uploads a local file (multipart on S3 for big files), storing its SHA-256. */
  putFile(key: string, localPath: string, options?: TransferOptions): Promise<TransferResult>;
  /** Reads a whole object into memory. */
  get(key: string, options?: TransferOptions): Promise<Buffer>;
  /**
   * Streams an object to `localPath` (parent directories are created) through a temporary
   * file renamed at the end; the destination never holds a partial or unverified copy.
   */
  getFile(key: string, localPath: string, options?: TransferOptions): Promise<TransferResult>;
  /** True when the object exists. */
  exists(key: string): Promise<boolean>;
  /** Size and checksums of an object, or null when it does not exist. */
  head(key: string, options?: HeadOptions): Promise<StoreHead | null>;
  /** Every object whose key starts with `prefix`, sorted by key (all pages). */
  list(prefix?: string): Promise<StoreEntry[]>;
  /** Deletes an object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
}
