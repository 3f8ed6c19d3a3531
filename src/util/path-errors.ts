import { type Stats, statSync } from "node:fs";
import path from "node:path";
import { CompasEnsembleError } from "../errors.js";

/** What the caller was doing with a path the user named, for the message. */
export interface PathUse {
  /** The thing and its path as the user knows it, e.g. `ensemble directory /data/run1`. */
  what: string;
  /** Whether it was being read or written (permission messages differ). */
  access: "read" | "write";
}

/**
 * Turns Node's error for a path the user named into a one-sentence PATH_UNUSABLE error when
 * the cause is the path itself (a file where a directory is needed, no permission, a
 * read-only file system, a directory where a file is needed), so the user sees which path to
 * fix instead of a raw `EEXIST: file already exists, mkdir ...`. Anything else (ENOSPC, EIO,
 * ...) is a failure while running, not bad input: it returns undefined and the caller keeps
 * its own error.
 * @param err - what a node:fs call threw
 * @param use - what the path was being used as, and how
 */
export function pathError(err: unknown, use: PathUse): CompasEnsembleError | undefined {
  // Node's system errors also carry `dest` for two-path calls (rename, link).
  const e = err as (NodeJS.ErrnoException & { dest?: string }) | null;
  if (e === null || typeof e !== "object" || typeof e.code !== "string") return undefined;
  const failed = typeof e.path === "string" ? path.resolve(e.path) : undefined;
  const make = (problem: string, hint: string) =>
    new CompasEnsembleError("PATH_UNUSABLE", `Cannot ${use.access === "read" ? "read" : "write to"} ${use.what}: ${problem}.`, {
      cause: err,
      hint,
    });
  switch (e.code) {
    case "EEXIST":
    case "ENOTDIR": {
      // mkdir over a file says EEXIST, anything beneath a file says ENOTDIR; either way some
      // component of the path is a file. EEXIST without one is a real conflict, not ours.
      const file = failed === undefined ? undefined : firstNonDirectory(failed);
      if (file === undefined) return undefined;
      return make(`${file} is a file, not a directory`, `Choose another path, or move ${file} out of the way.`);
    }
    case "EACCES":
    case "EPERM": {
      if (failed === undefined) return undefined;
      if (use.access === "read") {
        return make(`permission denied on ${failed}`, `Make ${failed} readable for this user (ls -l shows who may read it).`);
      }
      // Writes go through temporary files and renames, so what matters is the directory.
      const dir = nearestExisting(failed);
      return make(`${dir} is not writable by this user (permission denied)`, `Choose a location you can write to, or fix the permissions of ${dir}.`);
    }
    case "EROFS":
      return make(`${failed ?? "it"} is on a read-only file system`, "Choose a location on a writable file system.");
    case "EISDIR": {
      // rename() onto a directory names the directory as dest.
      const dir = typeof e.dest === "string" ? path.resolve(e.dest) : failed;
      return make(`${dir ?? "it"} is a directory, not a file`, "Give the path of a file, not of a directory.");
    }
    case "ENAMETOOLONG":
      return make("the path is too long for the file system", "Choose a shorter path.");
    case "ELOOP":
      return make(`${failed ?? "the path"} goes through a loop of symbolic links`, "Fix or remove the symbolic links on that path.");
    default:
      return undefined;
  }
}

/** The first component of `p` (from the root down) that exists and is not a directory. */
function firstNonDirectory(p: string): string | undefined {
  const parts = p.split(path.sep).filter(Boolean);
  let current = path.parse(p).root;
  for (const part of parts) {
    current = path.join(current, part);
    // stat, not lstat: a symbolic link counts as what it points to, as it did for the call.
    const stat = statOrNull(current);
    if (stat === null) return undefined;
    if (!stat.isDirectory()) return current;
  }
  return undefined;
}

/** `p` itself, or its deepest ancestor that exists. */
function nearestExisting(p: string): string {
  let current = p;
  while (statOrNull(current) === null) {
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}
