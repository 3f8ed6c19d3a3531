import { randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HashingStream } from "./_hash.js";
import type { TransferResult } from "./types.js";

/** Suffix of temporary files; listings skip them, so a killed transfer leaves no phantom key. */
export const PARTIAL_SUFFIX = ".compas-part";

/**
 * A temporary path next to `target`, so the final rename stays on one file system.
 * @param target - the file that will eventually be replaced
 */
export function tempPathFor(target: string): string {
  // Keep the name well under 255 bytes however long the target's name is.
  const base = path.basename(target).slice(0, 100);
  return path.join(path.dirname(target), `.${base}.${randomBytes(6).toString("hex")}${PARTIAL_SUFFIX}`);
}

/**
 * Streams `source` into `target` via a temporary file renamed at the end, hashing on the
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
  const tmp = tempPathFor(target);
  const hasher = new HashingStream();
  let result: TransferResult;
  try {
    await pipeline(source, hasher, fs.createWriteStream(tmp, { flags: "wx" }), signal ? { signal } : {});
    result = hasher.result();
    verify?.(result);
    await fsp.rename(tmp, target);
  } catch (err) {
    source.destroy();
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  return result;
}

/**
 * Writes a buffer to `target` via a temporary file renamed at the end.
 * @param body - the content
 * @param target - final path (its directory must exist)
 */
export async function writeBufferAtomically(body: Buffer, target: string): Promise<void> {
  const tmp = tempPathFor(target);
  try {
    await fsp.writeFile(tmp, body, { flag: "wx" });
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}
