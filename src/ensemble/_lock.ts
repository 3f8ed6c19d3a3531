import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CompasEnsembleError } from "../errors.js";
import { diskFullError, isNoSpace } from "../util/disk.js";
import { LOCK_FILE } from "../store/keys.js";
import { pathError } from "../util/path-errors.js";


function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the ensemble directory for this process, so two orchestrators never run the same
 * tasks at once. A lock left by a dead process (killed with SIGKILL) is taken over.
 * @param dir - the ensemble directory
 * @returns a function that releases the lock
 */
export function acquireLock(dir: string): () => void {
  // The lock is the first thing written, so a directory that is a file or read-only is
  // reported here, naming the path the user gave.
  const unusable = (err: unknown): unknown => pathError(err, { what: `ensemble directory ${dir}`, access: "write" }) ?? err;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw unusable(err);
  }
  const path = join(dir, LOCK_FILE);
  for (let tries = 0; tries < 3; tries++) {
    let created = false;
    try {
      const fd = openSync(path, "wx");
      created = true;
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return () => rmSync(path, { force: true });
    } catch (err) {
      if (isNoSpace(err)) {
        // Our empty lock file would only confuse the next run.
        if (created) rmSync(path, { force: true });
        throw diskFullError(dir, "taking the lock of the ensemble", err);
      }
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw unusable(err);
      const holder = Number(readFileSafe(path).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new CompasEnsembleError(
          "ENSEMBLE_LOCKED",
          `${dir} is in use by another compas-ensemble process (pid ${holder}); wait for it or stop it first.`,
          { hint: `If that process is not compas-ensemble, delete ${path}.` },
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new CompasEnsembleError("ENSEMBLE_LOCKED", `Could not take the lock ${path}; another process keeps creating it.`, {
    hint: "Stop the other compas-ensemble process that works in this directory, then run the command again.",
  });
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
