import type { GetObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { isAbort } from "../util/abort.js";
import { withRetries } from "../util/retry.js";
import { hashBuffer, hashFile } from "./_hash.js";
import { writeStreamAtomically } from "./_local-files.js";
import { createS3Client, redact, type S3StoreOptions } from "./s3-client.js";
import { assertSafeKey, joinKey } from "./safe-keys.js";
import type { HeadOptions, Store, StoreEntry, StoreHead, TransferOptions, TransferResult } from "./types.js";

/** User metadata name (x-amz-meta-sha256) holding the hex SHA-256 of an object's content. */
export const SHA256_METADATA = "sha256";

/**
 * Splits `s3://bucket/prefix` into bucket and prefix (no leading or trailing '/').
 * @param uri - the S3 URI
 */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri.trim());
  const bucket = m?.[1];
  if (!m || bucket === undefined || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `Invalid S3 URI ${JSON.stringify(uri)}: expected s3://bucket or s3://bucket/prefix with a valid bucket name.`,
    );
  }
  const prefix = (m[2] ?? "").replace(/^\/+/, "").replace(/\/+$/, "");
  return { bucket, prefix };
}

/**
 * A store over `s3://bucket/prefix` (AWS S3 or an S3-compatible server). Region and
 * credentials come from the standard AWS chain; every request retries with backoff on
 * throttling, 5xx and network errors; file uploads go through multipart Upload and
 * record the content's SHA-256 as x-amz-meta-sha256.
 */
export class S3Store implements Store {
  readonly uri: string;
  /** Bucket name. */
  readonly bucket: string;
  /** Key prefix inside the bucket, without leading or trailing '/' ('' for the whole bucket). */
  readonly prefix: string;
  private readonly client: () => Promise<S3Client>;
  private readonly endpoint: string | undefined;
  private readonly forcePathStyle: boolean;
  private readonly maxAttempts: number;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly secrets: string[];

  /**
   * @param uri - `s3://bucket` or `s3://bucket/prefix`
   * @param options - endpoint, path style, region, retries, multipart tuning, credentials
   */
  constructor(uri: string, options: S3StoreOptions = {}) {
    const { bucket, prefix } = parseS3Uri(uri);
    this.bucket = bucket;
    this.prefix = prefix;
    this.uri = prefix === "" ? `s3://${bucket}` : `s3://${bucket}/${prefix}`;
    const cfg = createS3Client(options);
    this.client = cfg.client;
    this.endpoint = cfg.endpointForDisplay;
    this.forcePathStyle = cfg.forcePathStyle;
    this.maxAttempts = cfg.maxAttempts;
    this.partSize = cfg.partSize;
    this.queueSize = cfg.queueSize;
    this.secrets = cfg.secrets;
  }

  /** One line for logs: location, endpoint and retry policy; never a credential. */
  describe(): string {
    const where = this.endpoint === undefined ? "AWS" : this.endpoint;
    const style = this.forcePathStyle ? "path-style" : "virtual-hosted-style";
    const attempts = `${this.maxAttempts} attempt${this.maxAttempts === 1 ? "" : "s"}`;
    return `S3 ${this.uri} via ${where} (${style}, up to ${attempts} per request)`;
  }

  async put(key: string, body: Buffer | string, options: TransferOptions = {}): Promise<void> {
    const name = this.objectName(key);
    const buf = typeof body === "string" ? Buffer.from(body) : body;
    try {
      const { PutObjectCommand } = await import("@aws-sdk/client-s3");
      await (await this.client()).send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: name,
          Body: buf,
          ContentLength: buf.length,
          Metadata: { [SHA256_METADATA]: hashBuffer(buf).sha256 },
        }),
        { abortSignal: options.signal },
      );
    } catch (err) {
      throw this.fail("write", key, err);
    }
  }

  async putFile(key: string, localPath: string, options: TransferOptions = {}): Promise<TransferResult> {
    const name = this.objectName(key);
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (options.signal?.aborted) onAbort();
      const sums = options.sha256
        ? { size: (await fs.promises.stat(localPath)).size, sha256: options.sha256 }
        : await hashFile(localPath, controller.signal);
      const { Upload } = await import("@aws-sdk/lib-storage");
      const upload = new Upload({
        client: await this.client(),
        partSize: this.partSize,
        queueSize: this.queueSize,
        leavePartsOnError: false,
        abortController: controller,
        params: {
          Bucket: this.bucket,
          Key: name,
          Body: fs.createReadStream(localPath),
          Metadata: { [SHA256_METADATA]: sums.sha256 },
        },
      });
      await upload.done();
      return sums;
    } catch (err) {
      throw this.fail("upload", key, err, localPath);
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  async get(key: string, options: TransferOptions = {}): Promise<Buffer> {
    const name = this.objectName(key);
    try {
      return await this.withBodyRetries(options.signal, async () => {
        const out = await this.getObject(name, options.signal);
        const body = Buffer.from(await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
        checkIntegrity(out, { size: body.length, sha256: hashBuffer(body).sha256 });
        return body;
      });
    } catch (err) {
      throw this.fail("read", key, err);
    }
  }

  async getFile(key: string, localPath: string, options: TransferOptions = {}): Promise<TransferResult> {
    const name = this.objectName(key);
    const target = path.resolve(localPath);
    try {
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      return await this.withBodyRetries(options.signal, async () => {
        const out = await this.getObject(name, options.signal);
        // The temporary file is renamed only after size and SHA-256 check out, so `target`
        // only ever holds a complete, verified copy.
        return await writeVerified(out, target, options.signal);
      });
    } catch (err) {
      throw this.fail("download", key, err, localPath);
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== null;
  }

  async head(key: string, _options: HeadOptions = {}): Promise<StoreHead | null> {
    const name = this.objectName(key);
    try {
      const { HeadObjectCommand } = await import("@aws-sdk/client-s3");
      const out = await (await this.client()).send(new HeadObjectCommand({ Bucket: this.bucket, Key: name }));
      const etag = out.ETag?.replace(/"/g, "");
      const sha256 = out.Metadata?.[SHA256_METADATA];
      const head: StoreHead = { size: out.ContentLength ?? 0 };
      if (etag !== undefined) head.etag = etag;
      if (sha256 !== undefined) head.sha256 = sha256;
      // A single-part upload's ETag is the MD5 of the content (not so for multipart or KMS).
      if (etag !== undefined && /^[0-9a-f]{32}$/.test(etag)) head.md5 = etag;
      return head;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.fail("inspect", key, err);
    }
  }

  async list(prefix = ""): Promise<StoreEntry[]> {
    const base = this.prefix === "" ? "" : `${this.prefix}/`;
    const out: StoreEntry[] = [];
    let token: string | undefined;
    try {
      const { ListObjectsV2Command } = await import("@aws-sdk/client-s3");
      const client = await this.client();
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token }),
        );
        for (const obj of page.Contents ?? []) {
          if (obj.Key === undefined || !obj.Key.startsWith(base)) continue;
          const key = obj.Key.slice(base.length);
          // Zero-byte keys ending in '/' are "folder" markers made by consoles, not data.
          if (key === "" || (key.endsWith("/") && (obj.Size ?? 0) === 0)) continue;
          out.push({ key, size: obj.Size ?? 0 });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (err) {
      throw this.fail("list", prefix, err);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const name = this.objectName(key);
    try {
      const { DeleteObjectCommand } = await import("@aws-sdk/client-s3");
      await (await this.client()).send(new DeleteObjectCommand({ Bucket: this.bucket, Key: name }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.fail("delete", key, err);
    }
  }

  private objectName(key: string): string {
    assertSafeKey(key, this.uri);
    return joinKey(this.prefix, key);
  }

  private async getObject(name: string, signal: AbortSignal | undefined): Promise<GetObjectCommandOutput> {
    const { GetObjectCommand } = await import("@aws-sdk/client-s3");
    return (await this.client()).send(new GetObjectCommand({ Bucket: this.bucket, Key: name }), { abortSignal: signal });
  }

  /**
   * The SDK retries each request, but not a body stream that breaks after the response
   * started; this loop re-fetches the object in that case, with the same backoff idea.
   */
  private async withBodyRetries<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    return withRetries(fn, { retries: this.maxAttempts - 1, baseDelayMs: 100, maxDelayMs: 5000, jitter: "equal", retryable: isBodyFailure, signal });
  }

  private fail(action: string, key: string, err: unknown, localPath?: string): CompasEnsembleError {
    const where = key === "" ? this.uri : `${this.uri} key ${JSON.stringify(key)}`;
    if (isCompasEnsembleError(err)) {
      if (err.code === "STORE_KEY_UNSAFE" || err.code === "OPTIONS_INVALID") return err;
      return new CompasEnsembleError(err.code, redact(`Could not ${action} ${where}: ${err.message}`, this.secrets), {
        cause: err,
        ...(err.hint ? { hint: err.hint } : {}),
      });
    }
    if (isAbort(err)) {
      return new CompasEnsembleError("CANCELLED", `Transfer of ${where} was aborted.`, { cause: err });
    }
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; code?: string };
    const status = e.$metadata?.httpStatusCode;
    const detail = `${e.name ?? "Error"}${status ? ` (HTTP ${status})` : ""}: ${e.message ?? String(err)}`;
    const local = localPath ? ` (local file ${localPath})` : "";
    const hint = hintFor(e.name ?? "", status, e.message ?? "", e.code);
    return new CompasEnsembleError("STORE_ACCESS", redact(`Could not ${action} ${where}${local}: ${detail}`, this.secrets), {
      cause: err,
      ...(hint ? { hint } : {}),
    });
  }
}

/** Raised inside the body retry loop when the received bytes do not match the object. */
class BodyMismatch extends Error {
  override readonly name = "BodyMismatch";
}

async function writeVerified(out: GetObjectCommandOutput, target: string, signal?: AbortSignal): Promise<TransferResult> {
  return writeStreamAtomically(out.Body as Readable, target, signal, (result) => checkIntegrity(out, result));
}

function checkIntegrity(out: GetObjectCommandOutput, got: { size: number; sha256: string }): void {
  if (out.ContentLength !== undefined && out.ContentLength !== got.size) {
    throw new BodyMismatch(`received ${got.size} bytes of ${out.ContentLength}`);
  }
  const expected = out.Metadata?.[SHA256_METADATA];
  if (expected !== undefined && expected !== got.sha256) {
    throw new BodyMismatch(`content SHA-256 ${got.sha256} differs from the stored x-amz-meta-sha256 ${expected}`);
  }
}

function isBodyFailure(err: unknown): boolean {
  if (err instanceof BodyMismatch) return true;
  const e = err as { $metadata?: unknown; code?: string; name?: string } | null;
  if (!e || e.$metadata !== undefined || isAbort(err)) return false;
  return ["ECONNRESET", "EPIPE", "ETIMEDOUT", "ERR_STREAM_PREMATURE_CLOSE", "ECONNABORTED"].includes(e.code ?? "")
    || e.name === "TimeoutError";
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

function hintFor(name: string, status: number | undefined, message: string, code?: string): string | undefined {
  if (name === "NoSuchBucket") return "Check the bucket name in the S3 URI.";
  if (name === "NoSuchKey") return "The object does not exist; check the key and prefix.";
  if (
    status === 403 ||
    ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "CredentialsProviderError"].includes(name)
  ) {
    return "Check the AWS credentials (environment, ~/.aws profile, instance role) and the bucket policy.";
  }
  if (/region is missing/i.test(message)) return "Set AWS_REGION (or a region option) for this bucket.";
  if (["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH"].includes(code ?? "")) {
    return "Check the endpoint URL and the network connection.";
  }
  if (status !== undefined && status >= 500) return "The S3 service kept failing after retries; try again later.";
  return undefined;
}
