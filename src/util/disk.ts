import { statfsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DiskFullError } from "../errors.js";
import { formatBytes } from "./format.js";

// ENOSPC: no free blocks or inodes; EDQUOT: the user's quota is used up. Either way nothing
// more can be written there until someone frees space, so retrying is pointless.
const NO_SPACE_CODES: ReadonlySet<string> = new Set(["ENOSPC", "EDQUOT"]);

/**
 * True when the error, or an error in its `cause` chain, says a file system is full.
 * @param err - anything caught
 */
export function isNoSpace(err: unknown): boolean {
  let e = err;
  for (let depth = 0; e !== null && typeof e === "object" && depth < 10; depth++) {
    if (e instanceof DiskFullError) return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && NO_SPACE_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Where a path's file system is mounted, and how much of it is free for this user. */
export interface DiskInfo {
  /** The top folder of the file system holding the path (its mount point). */
  mountPoint: string;
  /** Bytes free for unprivileged writes; null when the file system cannot tell. */
  freeBytes: number | null;
}

/**
 * The mount point and free space of the file system holding `path` (or its nearest existing
 * parent). The mount point is the topmost parent on the same device, which works on every
 * POSIX system without parsing mount tables.
 * @param path - a file or folder, existing or not
 */
export function diskOf(path: string): DiskInfo {
  let p = resolve(path);
  for (;;) {
    try {
      statSync(p);
      break;
    } catch {
      if (dirname(p) === p) break;
      p = dirname(p);
    }
  }
  let mountPoint = p;
  try {
    const dev = statSync(p).dev;
    for (let parent = dirname(mountPoint); parent !== mountPoint && statSync(parent).dev === dev; parent = dirname(parent)) {
      mountPoint = parent;
    }
  } catch {
    // A parent we may not stat: the last one we could is the best answer we have.
  }
  let freeBytes: number | null = null;
  try {
    const fs = statfsSync(p);
    freeBytes = fs.bavail * fs.bsize;
  } catch {
    freeBytes = null;
  }
  return { mountPoint, freeBytes };
}

/**
 * The error for a write that found no space: names the path, the disk and what is free.
 * @param path - the folder or file that could not be written
 * @param doing - what was being written, e.g. "writing the log of task X"
 * @param cause - the ENOSPC/EDQUOT error
 */
export function diskFullError(path: string, doing: string, cause: unknown): DiskFullError {
  if (cause instanceof DiskFullError) return cause;
  const disk = diskOf(path);
  const free = disk.freeBytes === null ? "" : `, ${formatBytes(disk.freeBytes)} free`;
  return new DiskFullError(path, `No space left on the disk holding ${path} (mounted at ${disk.mountPoint}${free}) while ${doing}.`, {
    cause,
    hint: `Free space on ${disk.mountPoint}, then run the same command again: finished work is kept.`,
  });
}
