import { createHash } from "node:crypto";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeCompas } from "../../src/compas/probe.js";
import { readFragments } from "../../src/store/fragments.js";
import { runEnsemble, type EnsembleEvent } from "../../src/ensemble/run.js";
import { HANDLE_KEY } from "../../src/store/keys.js";
import { isCompasEnsembleError } from "../../src/errors.js";
import { SshConnection } from "../../src/executors/ssh/_connection.js";
import { parseHosts } from "../../src/executors/ssh/hosts.js";
import { CTL_SCRIPT } from "../../src/executors/ssh/_remote-scripts.js";
import { SshExecutor, preflightHosts, reattachSshExecutor, shellQuote, type SshExecutorOptions } from "../../src/executors/ssh/index.js";
import { parseKnownHosts } from "../../src/executors/ssh/known-hosts.js";
import { ExecutorHandleSchema } from "../../src/executors/types.js";
import { expandGrid, sliceGrid, sparseGrid } from "../../src/grid/index.js";
import type { Fragment } from "../../src/manifest/schema.js";
import { LIBRARY_VERSION } from "../../src/version.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/types.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { isAlive, waitFor } from "../support/processes.js";
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { startSshdCluster, type SshdCluster, type SshdHost } from "../support/sshd.js";

const points = expandGrid(sparseGrid());

/** Jobs the executor created in one host's ensemble folder, with what their files say. */
function remoteJobs(host: SshdHost, ensembleId: string): { job: string; dir: string; task: string; pid?: number; exit?: string; revoked: boolean }[] {
  const out = [];
  {
    const jobs = join(host.remoteDir, ensembleId, "jobs");
    if (!existsSync(jobs)) return [];
    for (const job of readdirSync(jobs).sort()) {
      const dir = join(jobs, job);
      const read = (f: string): string | undefined => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8").trim() : undefined);
      const pid = read("pid");
      out.push({ job, dir, task: read("task") ?? "", ...(pid ? { pid: Number(pid) } : {}), ...(read("exit") !== undefined ? { exit: read("exit") } : {}), revoked: existsSync(join(dir, "revoked")) });
    }
  }
  return out;
}

/** COMPAS processes a host's workers started (from the scratch folders' compas.pid). */
function compasPids(host: SshdHost, ensembleId: string): number[] {
  const pids: number[] = [];
  {
    const scratch = join(host.remoteDir, ensembleId, "scratch");
    if (!existsSync(scratch)) return [];
    for (const d of readdirSync(scratch)) {
      const f = join(scratch, d, "compas.pid");
      if (existsSync(f)) pids.push(Number(readFileSync(f, "utf8").split(" ")[0]));
    }
  }
  return pids;
}

function successesPerTask(fragments: readonly Fragment[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const f of fragments) if (f.status === "success") m.set(f.task_id, (m.get(f.task_id) ?? 0) + 1);
  return m;
}

describe("the SSH executor against real sshd hosts", () => {
  let s3: S3rverHandle;
  let cluster: SshdCluster;

  beforeAll(async () => {
    s3 = await startS3rver();
    // The hosts' own environment holds the S3 credentials (as an instance role would);
    // the executor never sends them.
    cluster = await startSshdCluster({
      hosts: 2,
      setEnv: { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, AWS_REGION: "us-east-1" },
    });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    await s3?.stop();
  });

  function executorOptions(extra: Partial<SshExecutorOptions> & { env?: Record<string, string> } = {}): SshExecutorOptions {
    const { env, ...rest } = extra;
    return {
      hosts: cluster.hosts.map((h) => ({ name: h.name, host: h.host, port: h.port, user: h.user, slots: 1, remoteDir: h.remoteDir })),
      knownHostsFile: cluster.knownHostsFile,
      identityFile: cluster.identityFile,
      agent: false,
      remoteCommand: cluster.remoteCommand,
      remoteNode: cluster.node,
      compasBinary: cluster.compasBinary,
      remoteEnv: { ...cluster.remoteEnv, S3_ENDPOINT: s3.endpoint, ...env },
      pollMs: 200,
      retryBackoffMs: 10,
      ...rest,
    };
  }

  async function s3Output(name: string): Promise<Store> {
    const bucket = await s3.createBucket();
    return openStore(`s3://${bucket}/${name}`, s3.storeOptions());
  }

  it("runs a 4-point grid over two hosts straight into S3, each task exactly once, streaming progress", async () => {
    const store = await s3Output("grid");
    const events: EnsembleEvent[] = [];
    const started = Date.now();
    const summary = await runEnsemble({
      points: sliceGrid(points, 0, 4),
      nSystems: 10,
      compasBinary: fakeCompasPath(),
      output: store,
      executor: new SshExecutor(executorOptions()),
      onEvent: (e) => events.push(e),
    });
    console.log(`SSH executor: grid of 4 points x 10 binaries over 2 hosts (1 slot each) into S3 in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(summary.runs).toEqual({ total: 4, succeeded: 4, failed: 0, pending: 0 });
    const { fragments } = await readFragments(store);
    expect([...successesPerTask(fragments).values()]).toEqual([1, 1, 1, 1]);
    expect(new Set(events.flatMap((e) => (e.type === "task-started" ? [e.where] : [])))).toEqual(new Set(["host-a", "host-b"]));
    expect(events.filter((e) => e.type === "task-finished")).toHaveLength(4);
    expect(events.some((e) => e.type === "log" && /preflight host-b: ok: .*compas-ensemble .*COMPAS 03\.07\.00/.test(e.message))).toBe(true);
    // The handle says where everything is and holds no secret.
    const handle = ExecutorHandleSchema.parse(JSON.parse((await store.get(HANDLE_KEY)).toString("utf8")));
    const text = JSON.stringify(handle);
    expect(text).not.toContain(S3RVER_CREDENTIALS.secretAccessKey);
    expect(Object.values(handle.data.placement as Record<string, string>).sort()).toEqual(["host-a", "host-a", "host-b", "host-b"]);
    // Nothing is left running on the hosts once every task is done.
    for (const h of cluster.hosts) {
      await waitFor(() => h.userProcesses().length === 0, `no processes of ${h.user} left`, 20_000);
    }
  }, 180_000);

  it("keeps running while detached; after a worker is killed, a re-attached executor reruns it and brings outputs home over SFTP", async () => {
    // A local-directory store: results stay on the hosts until an orchestrator is attached.
    const out = mkdtempSync(join(tmpdir(), "ssh-sftp-"));
    const [a, b] = cluster.hosts as [SshdHost, SshdHost];
    const detached = await runEnsemble({
      points: sliceGrid(points, 0, 2),
      nSystems: 11,
      compasBinary: fakeCompasPath(),
      output: out,
      executor: new SshExecutor(executorOptions({ env: { FAKE_COMPAS_DELAY_MS: "150" } })),
      detach: true,
    });
    expect(detached.runs.pending).toBe(2);
    const id = detached.ensembleId;
    // Nobody is attached now. Kill host-a's worker in the middle of its task: its COMPAS
    // (own process group) is orphaned and no fragment is written.
    await waitFor(() => compasPids(a, id).some(isAlive), "COMPAS running on host-a", 60_000);
    const killed = remoteJobs(a, id).find((j) => j.pid !== undefined && j.exit === undefined)!;
    const orphan = compasPids(a, id).find(isAlive)!;
    process.kill(killed.pid!, "SIGKILL");
    // Its runner stops the orphan before recording the exit code, so a rerun of the task on
    // this host never shares the scratch folder with it.
    await waitFor(() => remoteJobs(a, id).find((j) => j.job === killed.job)!.exit !== undefined, "the killed job's exit code", 30_000);
    expect(isAlive(orphan)).toBe(false);
    // Host-b finishes its task alone: the ensemble goes on without the laptop.
    const jobB = remoteJobs(b, id)[0]!;
    await waitFor(() => remoteJobs(b, id)[0]!.exit === "0", "host-b's worker done", 60_000);
    expect(existsSync(join(jobB.dir, "store", "fragments", `${jobB.task}.a1.json`))).toBe(true);
    expect(existsSync(join(out, "fragments"))).toBe(false);

    // Another process reads handle.json from the store and rebuilds the executor; status
    // brings host-b's finished result home (fragment last) without starting anything.
    const handle = ExecutorHandleSchema.parse(JSON.parse(readFileSync(join(out, HANDLE_KEY), "utf8")));
    const executor = reattachSshExecutor(handle, { ...executorOptions(), hosts: undefined });
    const before = await executor.status(handle);
    expect(before.find((s) => s.taskId === jobB.task)?.state).toBe("succeeded");
    expect(before.find((s) => s.taskId === killed.task)?.state).not.toBe("succeeded");
    const events: string[] = [];
    const final = await executor.wait(handle, { onEvent: (e) => events.push(e.type) });
    expect(final.map((s) => s.state)).toEqual(["succeeded", "succeeded"]);
    expect(isAlive(orphan)).toBe(false);
    expect(events).toContain("task-finished");
    // The killed job was seen as dead and its task ran again as a new job, exactly once.
    const jobs = [...remoteJobs(a, id), ...remoteJobs(b, id)];
    expect(jobs.filter((j) => j.task === killed.task)).toHaveLength(2);
    // The rerun was never taken for dead itself (that would revoke it and drop its result).
    expect(jobs.filter((j) => j.task === killed.task && j.job !== killed.job).map((j) => [j.exit, j.revoked])).toEqual([["0", false]]);
    const { fragments } = await readFragments(openStore(out));
    expect([...successesPerTask(fragments).values()]).toEqual([1, 1]);
    for (const f of fragments) {
      // What arrived is what the worker hashed on the host; logs and Run_Details came too.
      expect(sha256Of(join(out, f.output!.key))).toBe(f.output!.sha256);
      expect(existsSync(join(out, "logs", `${f.task_id}.a${f.attempt}.log`))).toBe(true);
      expect(existsSync(join(out, "runs", f.run_id, "COMPAS_Output", "Run_Details"))).toBe(true);
    }
    // The per-job store copies on the hosts are removed once their results are home.
    for (const j of jobs) expect(existsSync(join(j.dir, "store"))).toBe(false);
  }, 180_000);

  it("moves the tasks of a host that died to the other host, and revokes its stale queue when it comes back", async () => {
    const store = await s3Output("hostdeath");
    const [a, b] = cluster.hosts as [SshdHost, SshdHost];
    const events: EnsembleEvent[] = [];
    let id = "";
    const run = runEnsemble({
      points: sliceGrid(points, 0, 4),
      nSystems: 12,
      compasBinary: fakeCompasPath(),
      output: store,
      executor: new SshExecutor(executorOptions({ hostTimeoutMs: 1500, env: { FAKE_COMPAS_DELAY_MS: "150" } })),
      onEvent: (e) => {
        events.push(e);
        if (e.type === "plan") id = e.plan.ensemble_id;
      },
    });
    try {
      // Host-b has one task running and one queued when it dies.
      await waitFor(() => id !== "" && compasPids(b, id).some(isAlive), "COMPAS running on host-b", 90_000);
      const before = remoteJobs(b, id);
      expect(before).toHaveLength(2);
      const running = before.find((j) => j.pid !== undefined)!;
      const queued = before.find((j) => j.pid === undefined)!;
      b.kill();
      await waitFor(() => events.some((e) => e.type === "log" && e.message.includes("host-b has not answered")), "host-b given up", 30_000);
      // The host comes back (rebooted: nothing of it runs) while the ensemble goes on.
      await b.start();
      const summary = await run;
      expect(summary.runs).toEqual({ total: 4, succeeded: 4, failed: 0, pending: 0 });
      const { fragments } = await readFragments(store);
      expect([...successesPerTask(fragments).values()]).toEqual([1, 1, 1, 1]);
      expect(events.some((e) => e.type === "log" && e.message.includes("host-b answers again"))).toBe(true);
      // Neither of host-b's jobs from before its death ran again: the dead one never got an
      // exit code, the queued one was revoked before any runner of host-b could take it.
      const after = remoteJobs(b, id);
      expect(after.find((j) => j.job === running.job)!.exit).toBeUndefined();
      expect(after.find((j) => j.job === queued.job)).toMatchObject({ revoked: true });
      expect(after.find((j) => j.job === queued.job)!.pid).toBeUndefined();
      // Both of its tasks were finished by other jobs.
      for (const task of [running.task, queued.task]) expect(fragments.some((f) => f.task_id === task && f.status === "success")).toBe(true);
    } finally {
      if (!b.pid()) await b.start();
      await run.catch(() => undefined);
    }
  }, 180_000);

  it("refuses an unknown or changed host key with SSH_HOST_KEY naming the host and how to add the key", async () => {
    const [a, b] = cluster.hosts as [SshdHost, SshdHost];
    const onlyA = join(cluster.dir, "known_hosts.only-a");
    writeFileSync(onlyA, `[127.0.0.1]:${a.port} ${a.hostKeyLine}\n`);
    const err = await runEnsemble({
      points: sliceGrid(points, 0, 1),
      nSystems: 10,
      compasBinary: fakeCompasPath(),
      output: mkdtempSync(join(tmpdir(), "ssh-key-")),
      executor: new SshExecutor(executorOptions({ knownHostsFile: onlyA })),
    }).catch((e: unknown) => e);
    expect(isCompasEnsembleError(err, "SSH_HOST_KEY")).toBe(true);
    expect((err as Error).message).toContain("host-b");
    expect((err as Error).message).toContain(`ssh-keyscan -p ${b.port} -t ssh-ed25519 127.0.0.1 >> ${onlyA}`);

    // A pinned key that is not the host's is refused too, before any command is sent.
    const [hostB] = parseHosts([{ name: "host-b", host: b.host, port: b.port, user: b.user, hostKey: a.hostKeyLine }]);
    const changed = await SshConnection.open(hostB!, { identityFile: cluster.identityFile, agent: false }, []).catch((e: unknown) => e);
    expect(isCompasEnsembleError(changed, "SSH_HOST_KEY")).toBe(true);
    expect((changed as Error).message).toMatch(/not the key pinned/);
    // The right pinned key (no known_hosts at all) is accepted.
    const [pinned] = parseHosts([{ name: "host-b", host: b.host, port: b.port, user: b.user, hostKey: b.hostKeyLine }]);
    const ok = await SshConnection.open(pinned!, { identityFile: cluster.identityFile, agent: false }, parseKnownHosts(""));
    ok.close();
  }, 60_000);

  it("reports preflight host by host, and passes hostile arguments to the host literally", async () => {
    const [a, b] = cluster.hosts as [SshdHost, SshdHost];
    const probe = await probeCompas(fakeCompasPath());
    const hosts = parseHosts([
      { name: "host-a", host: a.host, port: a.port, user: a.user, remoteDir: a.remoteDir },
      { name: "host-b", host: b.host, port: b.port, user: b.user, compasBinary: "/nonexistent/COMPAS" },
    ]);
    const reports = await preflightHosts(
      hosts,
      {
        plan: { library_version: LIBRARY_VERSION, compas: { binary: probe.binary, version: probe.version, sha256: probe.sha256 } },
        remoteCommand: cluster.remoteCommand,
        remoteNode: cluster.node,
        compasBinary: cluster.compasBinary,
        remoteEnv: cluster.remoteEnv,
      },
      { knownHostsFile: cluster.knownHostsFile, identityFile: cluster.identityFile, agent: false },
    );
    expect(reports.map((r) => [r.host, r.ok])).toEqual([
      ["host-a", true],
      ["host-b", false],
    ]);
    expect(reports[0]!.slots).toBeGreaterThanOrEqual(1);
    const failed = reports[1]!.checks.filter((c) => !c.ok);
    expect(failed.map((c) => [c.check, c.code])).toEqual([["compas", "COMPAS_NOT_FOUND"]]);
    expect(failed[0]!.detail).toContain("/nonexistent/COMPAS");

    const hostile = ["'", "$(id)", "`id`", "a b", "\n;id\n", "\\", '"', "*", "~", "-n", ""];
    const conn = await SshConnection.open(hosts[0]!, { identityFile: cluster.identityFile, agent: false }, parseKnownHosts(readFileSync(cluster.knownHostsFile, "utf8")));
    try {
      const r = await conn.exec(shellQuote(["printf", "%s\\0", ...hostile]));
      expect(r.stdout.split("\0").slice(0, -1)).toEqual(hostile);
    } finally {
      conn.close();
    }
  }, 60_000);
});

describe("the host control script", () => {
  it("reports a job whose worker is not running as starting while its runner lives, and as dead once the runner is gone", async () => {
    // The windows between the runner's fork and the worker's exec, and between the worker's
    // end and the exit file, must not look like a lost worker: that queued the task twice.
    const dir = mkdtempSync(join(tmpdir(), "ssh-ctl-"));
    writeFileSync(join(dir, "ctl.sh"), CTL_SCRIPT);
    const job = join(dir, "jobs", "j1");
    mkdirSync(job, { recursive: true });
    writeFileSync(join(job, "task"), "t1\n");
    writeFileSync(join(job, "claim"), "");
    const gone = spawnSync("true");
    writeFileSync(join(job, "pid"), `${gone.pid}\n`);
    const runner = spawn("sh", ["-c", "sleep 60; :", "runner"], { stdio: "ignore" });
    try {
      writeFileSync(join(job, "runner"), `${runner.pid}\n`);
      const status = (): string => execFileSync("sh", ["ctl.sh", "status"], { cwd: dir, encoding: "utf8" }).split("\n")[0]!;
      expect(status()).toBe("S j1 t1 -");
      writeFileSync(join(job, "exit"), "0\n");
      expect(status()).toBe("E j1 t1 - 0");
      rmSync(join(job, "exit"));
      runner.kill("SIGKILL");
      await waitFor(() => !isAlive(runner.pid!), "the stand-in runner gone", 10_000);
      expect(status()).toBe("D j1 t1 -");
    } finally {
      runner.kill("SIGKILL");
    }
  });
});

function sha256Of(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}
