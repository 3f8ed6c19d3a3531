import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import type { SFTPWrapper } from "ssh2";
import { CompasEnsembleError } from "../../errors.js";
import type { Fragment } from "../../manifest/schema.js";
import { parseFragment, writeFragment } from "../../store/fragments.js";
import { FRAGMENTS_PREFIX, parseFragmentKey, PLAN_KEY } from "../../store/keys.js";
import type { Store } from "../../store/types.js";
import { isTempName } from "../../util/atomic-write.js";
import type { SshConnection } from "./_connection.js";

/**
 * Brings one job's results home over SFTP: the job ran its worker against its own store
 * folder on the host (`<dir>/jobs/<job>/store`), so every file there except the plan and
 * the fragments copied in before it started is this job's output. Outputs and logs are
 * written first, then the new fragments, so a fragment in the local store always means its
 * output is there. An output whose sha256 differs from its fragment's is not accepted.
 * @param conn - connection to the host
 * @param remoteStore - the job's store folder on the host
 * @param store - the local store
 * @param taskId - the job's task
 * @param ensembleId - the plan's ensemble id
 * @returns the fragments brought home (none if the worker wrote none)
 */
export async function pullJobStore(conn: SshConnection, remoteStore: string, store: Store, taskId: string, ensembleId: string): Promise<Fragment[]> {
  const sftp = await conn.sftp();
  const fragmentKeys = (await readdir(sftp, posix.join(remoteStore, FRAGMENTS_PREFIX.slice(0, -1))))
    .filter((e) => e.isFile)
    .map((e) => `${FRAGMENTS_PREFIX}${e.name}`)
    .filter((key) => parseFragmentKey(key)?.taskId === taskId);
  const fresh: { key: string; fragment: Fragment }[] = [];
  for (const key of fragmentKeys) {
    if (await store.exists(key)) continue;
    const checked = parseFragment(key, (await readFile(sftp, posix.join(remoteStore, key))).toString("utf8"));
    if (!("fragment" in checked) || checked.fragment.ensemble_id !== ensembleId) {
      throw new CompasEnsembleError("METADATA_INVALID", `Fragment ${key} of host ${conn.host.name} is not a fragment of task ${taskId} of ensemble ${ensembleId}.`, {
        key,
        host: conn.host.name,
        taskId,
      });
    }
    fresh.push({ key, fragment: checked.fragment });
  }
  if (fresh.length === 0) return [];

  const files = (await walk(sftp, remoteStore, "")).filter((k) => k !== PLAN_KEY && !k.startsWith(FRAGMENTS_PREFIX) && !k.startsWith(".") && !isTempName(posix.basename(k)));
  const expected = new Map(fresh.flatMap((f) => (f.fragment.output ? [[f.fragment.output.key, f.fragment.output.sha256] as const] : [])));
  const tmp = mkdtempSync(join(tmpdir(), "compas-ensemble-pull-"));
  try {
    let i = 0;
    for (const key of files) {
      const local = join(tmp, String(i++));
      await fastGet(sftp, posix.join(remoteStore, key), local);
      const want = expected.get(key);
      const put = await store.putFile(key, local);
      if (want !== undefined && put.sha256 !== want) {
        throw new CompasEnsembleError("STORE_ACCESS", `Output ${key} brought back from host ${conn.host.name} has sha256 ${put.sha256.slice(0, 12)}, not the ${want.slice(0, 12)} its fragment records.`, {
          key,
          host: conn.host.name,
          taskId,
        });
      }
      rmSync(local, { force: true });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  fresh.sort((a, b) => a.fragment.attempt - b.fragment.attempt);
  for (const f of fresh) await writeFragment(store, f.fragment);
  return fresh.map((f) => f.fragment);
}

/**
 * Writes files into a job's store folder on the host over SFTP.
 * @param conn - connection to the host
 * @param remoteStore - the job's store folder
 * @param files - store key and content of each file
 */
export async function pushFiles(conn: SshConnection, remoteStore: string, files: readonly { key: string; content: Buffer | string }[]): Promise<void> {
  if (files.length === 0) return;
  const sftp = await conn.sftp();
  for (const f of files) {
    await new Promise<void>((resolve, reject) => sftp.writeFile(posix.join(remoteStore, f.key), f.content, (err) => (err ? reject(sftpError(conn, err)) : resolve())));
  }
}

interface Entry {
  name: string;
  isFile: boolean;
  isDir: boolean;
}

function readdir(sftp: SFTPWrapper, path: string): Promise<Entry[]> {
  return new Promise((resolve, reject) =>
    sftp.readdir(path, (err, list) => {
      if (err) {
        // A folder that is not there holds nothing (e.g. no fragments yet).
        if ((err as Error & { code?: number }).code === 2) resolve([]);
        else reject(err);
        return;
      }
      resolve(list.map((e) => ({ name: e.filename, isFile: e.attrs.isFile(), isDir: e.attrs.isDirectory() })));
    }),
  );
}

async function walk(sftp: SFTPWrapper, root: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(sftp, rel ? posix.join(root, rel) : root)) {
    const key = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDir) out.push(...(await walk(sftp, root, key)));
    else if (e.isFile) out.push(key);
  }
  return out.sort();
}

function readFile(sftp: SFTPWrapper, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => sftp.readFile(path, (err, data) => (err ? reject(err) : resolve(data))));
}

function fastGet(sftp: SFTPWrapper, remote: string, local: string): Promise<void> {
  return new Promise((resolve, reject) => sftp.fastGet(remote, local, (err) => (err ? reject(err) : resolve())));
}

function sftpError(conn: SshConnection, err: Error): CompasEnsembleError {
  return new CompasEnsembleError("SSH_HOST_UNREACHABLE", `SFTP to host ${conn.host.name} failed: ${err.message}.`, { cause: err });
}
