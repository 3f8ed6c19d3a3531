import { createHash, type Hash } from "node:crypto";
import fs from "node:fs";
import { Transform, Writable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { TransferResult } from "./types.js";

/** A pass-through stream that hashes (SHA-256 and MD5) and counts what flows through it. */
export class HashingStream extends Transform {
  private readonly sha = createHash("sha256");
  private readonly md5 = createHash("md5");
  private bytes = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.sha.update(chunk);
    this.md5.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  /** Size and digests; call once, after the stream has finished. */
  result(): TransferResult {
    return { size: this.bytes, sha256: this.sha.digest("hex"), md5: this.md5.digest("hex") };
  }
}

/**
 * SHA-256 and MD5 of a file, read as a stream (big files never sit in memory).
 * @param file - path of the file
 * @param signal - aborts the read
 */
export async function hashFile(file: string, signal?: AbortSignal): Promise<TransferResult> {
  const hasher = new HashingStream();
  await pipeline(fs.createReadStream(file), hasher, devNull(), signal ? { signal } : {});
  return hasher.result();
}

/**
 * SHA-256 and MD5 of an in-memory body.
 * @param body - the content
 */
export function hashBuffer(body: Buffer): TransferResult {
  const digest = (h: Hash): string => h.update(body).digest("hex");
  return { size: body.length, sha256: digest(createHash("sha256")), md5: digest(createHash("md5")) };
}

function devNull(): Writable {
  return new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });
}
