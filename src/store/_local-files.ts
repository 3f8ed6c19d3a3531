import fs from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { replaceAtomically } from "../util/atomic-write.js";
import { copyHashing, HashingStream } from "./_hash.js";
import type { TransferResult } from "./types.js";

/**
 * Streams `source` into `target` through a temporary file renamed at the end, hashing on the
 * way; on any failure (including abort) the temporary file is removed and `target` is
 * left as it was.
 * @param source - the content
 * @param target - final path (its directory must exist)
 * @param signal - aborts the copy
 * @param verify - throws to reject the content before it replaces `target`
 */
export async function writeStreamAtomically(
  source: Readable,
  target: string,
  signal?: AbortSignal,
  verify?: (result: TransferResult) => void,
): Promise<TransferResult> {
  try {
    return await replaceAtomically(target, async (tmp) => {
      const hasher = new HashingStream();
      await pipeline(source, hasher, fs.createWriteStream(tmp, { flags: "wx" }), signal ? { signal } : {});
      const result = hasher.result();
      verify?.(result);
      return result;
    });
  } catch (err) {
    source.destroy();
    throw err;
  }
}

/**
 * Copies the file `source` to `target` through a temporary file renamed at the end, hashing
 * on the way; on any failure (including abort) the temporary file is removed and `target` is
 * left as it was.
 * @param source - path of the file to copy
 * @param target - final path (its directory must exist)
 * @param signal - aborts the copy
 */
export function copyFileAtomically(source: string, target: string, signal?: AbortSignal): Promise<TransferResult> {
  return replaceAtomically(target, (tmp) => copyHashing(source, tmp, signal));
}
