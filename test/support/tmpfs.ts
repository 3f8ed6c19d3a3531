import { execFileSync } from "node:child_process";
import { mkdtempSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Runs `fn` with a fresh tmpfs of `sizeBytes` mounted on a temporary folder: a real file
 * system that really fills up (ENOSPC), without touching the machine's disks. Unmounted
 * afterwards whatever `fn` did (lazily if a process still holds a file in it).
 * Mounting needs root, as the SSH tests do; CI runs as root.
 * @param sizeBytes - size of the file system
 * @param fn - receives the mount point
 */
export async function withTmpfs<T>(sizeBytes: number, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "ce-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0755`, "tmpfs", dir], { stdio: "pipe" });
  } catch (err) {
    rmdirSync(dir);
    const detail = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim();
    throw new Error(`Could not mount a tmpfs on ${dir} (${detail}); the full-disk tests need root (CI runs as root).`);
  }
  try {
    return await fn(dir);
  } finally {
    try {
      execFileSync("umount", [dir], { stdio: "pipe" });
    } catch {
      execFileSync("umount", ["--lazy", dir], { stdio: "pipe" });
    }
    rmdirSync(dir);
  }
}
