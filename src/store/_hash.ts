import { createHash, type Hash } from "node:crypto";
import fsp, { type FileHandle } from "node:fs/promises";
import { Transform, type TransformCallback } from "node:stream";
import type { TransferResult } from "./types.js";

/** A pass-through stream that hashes (SHA-256 and MD5) and counts what flows through it. */
export class HashingStream extends Transform {
  private readonly digests = new Digests();

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.digests.update(chunk);
    cb(null, chunk);
  }

  /** Size and digests; call once, after the stream has finished. */
  result(): TransferResult {
    return this.digests.result();
  }
}

/** SHA-256 and MD5 of bytes fed in order, and their count. */
class Digests {
  private readonly sha = createHash("sha256");
  private readonly md5 = createHash("md5");
  private bytes = 0;

  update(chunk: Buffer): void {
    this.sha.update(chunk);
    this.md5.update(chunk);
    this.bytes += chunk.length;
  }

  result(): TransferResult {
    return { size: this.bytes, sha256: this.sha.digest("hex"), md5: this.md5.digest("hex") };
  }
}

/**
 * Bytes read at a time when a file is hashed or copied: a few reads per COMPAS output, and few
 * pages for the kernel to fault in again after each fork (every page the orchestrator writes
 * after starting a COMPAS faults once; 256 KiB instead of 1 MiB saved a tenth of its faults).
 */
const CHUNK_BYTES = 1 << 18;
/** Most buffers kept for reuse: one per transfer running at once is plenty. */
const MAX_SPARE_BUFFERS = 4;
// Read buffers are reused rather than allocated per file: a fresh megabyte is mapped anew each
// time and costs the process a page fault per 4 KiB page on first touch. The worker copies and
// hashes every COMPAS output, so on thousands of tasks those faults were the largest share of
// the orchestrator's own CPU (bench/orchestration.ts).
const spareBuffers: Buffer[] = [];

/**
 * Reads `file` once from start to end, hashing as it goes (SHA-256 and MD5, size), and hands
 * each chunk to `onChunk` before reading the next. The chunk's memory is reused afterwards:
 * `onChunk` must be done with it when its promise settles.
 * @param file - path of the file
 * @param onChunk - what else to do with each chunk (e.g. write it elsewhere)
 * @param signal - aborts between chunks
 */
async function readHashing(file: string, onChunk?: (chunk: Buffer) => Promise<void>, signal?: AbortSignal): Promise<TransferResult> {
  signal?.throwIfAborted();
  const digests = new Digests();
  const input = await fsp.open(file, "r");
  const buffer = spareBuffers.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
  try {
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      signal?.throwIfAborted();
      const chunk = buffer.subarray(0, bytesRead);
      digests.update(chunk);
      if (onChunk) await onChunk(chunk);
    }
    return digests.result();
  } finally {
    if (spareBuffers.length < MAX_SPARE_BUFFERS) spareBuffers.push(buffer);
    await input.close();
  }
}

/**
 * SHA-256 and MD5 of a file, read in chunks (big files never sit in memory).
 * @param file - path of the file
 * @param signal - aborts the read
 */
export function hashFile(file: string, signal?: AbortSignal): Promise<TransferResult> {
  return readHashing(file, undefined, signal);
}

/**
 * Copies `source` to `target` (created new: an existing target is an error) in one read of the
 * source, hashing on the way.
 * @param source - file to copy
 * @param target - path of the new file
 * @param signal - aborts between chunks
 */
export async function copyHashing(source: string, target: string, signal?: AbortSignal): Promise<TransferResult> {
  const output = await fsp.open(target, "wx");
  try {
    return await readHashing(source, (chunk) => writeAll(output, chunk), signal);
  } finally {
    await output.close();
  }
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  for (let done = 0; done < chunk.length; ) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
    done += bytesWritten;
  }
}

/**
 * SHA-256 and MD5 of an in-memory body.
 * @param body - the content
 */
export function hashBuffer(body: Buffer): TransferResult {
  const digest = (h: Hash): string => h.update(body).digest("hex");
  return { size: body.length, sha256: digest(createHash("sha256")), md5: digest(createHash("md5")) };
}
