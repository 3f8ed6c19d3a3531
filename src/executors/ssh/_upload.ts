import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import { posix } from "node:path";
import { CompasEnsembleError } from "../../errors.js";
import { lastLines, type SshConnection } from "./_connection.js";
import { shellQuote } from "../../util/shell-quote.js";

/** Files and bytes sent to one host. */
export interface TransferCount {
  files: number;
  bytes: number;
}

/**
 * sha256 of a file on the host, or undefined when it does not exist or cannot be read.
 * @param conn - open connection
 * @param path - absolute path on the host
 * @param command - builds the remote command line from argv (e.g. with the remote environment)
 */
export async function remoteSha256(conn: SshConnection, path: string, command: (argv: readonly string[]) => string = shellQuote): Promise<string | undefined> {
  const r = await conn.exec(command(["sha256sum", "--", path]));
  return r.code === 0 ? /^([0-9a-f]{64})\b/.exec(r.stdout.trim())?.[1] : undefined;
}

/**
 * Copies a local file to `dest` on the host so that `dest` never holds anything but the whole,
 * checked file: SFTP to a temporary name beside it, sha256 on the host, then rename (atomic
 * within a folder). A failed copy or checksum removes the temporary file.
 * @param conn - open connection
 * @param local - local file
 * @param dest - absolute path on the host
 * @param sha256 - what the copy must hash to
 * @param count - incremented by the files and bytes sent
 * @param mode - file mode of the copy
 * @param command - builds remote command lines from argv (e.g. with the remote environment)
 */
export async function uploadVerified(
  conn: SshConnection,
  local: string,
  dest: string,
  sha256: string,
  count: TransferCount,
  mode = 0o644,
  command: (argv: readonly string[]) => string = shellQuote,
): Promise<void> {
  const dir = posix.dirname(dest);
  const tmp = posix.join(dir, `.${posix.basename(dest)}.tmp-${randomBytes(6).toString("hex")}`);
  await conn.run(command(["mkdir", "-p", "--", dir]), `creating ${dir}`);
  const sftp = await conn.sftp();
  const size = (await stat(local)).size;
  try {
    await new Promise<void>((resolve, reject) => sftp.fastPut(local, tmp, { mode }, (err) => (err ? reject(err) : resolve())));
    count.files++;
    count.bytes += size;
    const got = await remoteSha256(conn, tmp, command);
    if (got !== sha256) {
      throw new CompasEnsembleError(
        "SSH_HOST_UNREACHABLE",
        `The copy of ${posix.basename(local)} on host ${conn.host.name} has sha256 ${got?.slice(0, 12) ?? "(unreadable)"}, not ${sha256.slice(0, 12)}: it was damaged on the way or on the host's disk.`,
      );
    }
    await conn.run(command(["mv", "-f", "--", tmp, dest]), `moving the copy into place at ${dest}`);
  } catch (err) {
    await conn.exec(command(["rm", "-f", "--", tmp])).catch(() => undefined);
    if (err instanceof CompasEnsembleError) throw err;
    throw new CompasEnsembleError("SSH_HOST_UNREACHABLE", `Copying ${local} to ${dest} on host ${conn.host.name} failed: ${lastLines((err as Error).message)}.`, { cause: err });
  }
}
