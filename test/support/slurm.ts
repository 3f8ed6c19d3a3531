/**
 * A real one-node Slurm cluster on localhost for tests: Debian's slurm-wlm 22.05 daemons
 * (slurmctld, slurmd) with a private slurm.conf in a temporary folder, auth/none, no
 * accounting, free ports. Every Slurm command must get `env` (SLURM_CONF) to reach it.
 *
 * With SLURM_TEST_KEEP_LOGS=1 the daemons log at debug2 and stop() keeps the folder (its
 * path is printed), so the daemons' view of a rare failure can be read afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { delimiter, join } from "node:path";
import { waitFor } from "./processes.js";

/** Options of {@link startSlurm}. */
export interface SlurmClusterOptions {
  /** MaxArraySize of the cluster (largest array is 0..n-1). Default 1001 (Slurm's). */
  maxArraySize?: number;
  /** Seconds a finished job stays visible to squeue. Default 300: no purge during a test file. */
  minJobAge?: number;
}

/** A running test cluster. */
export interface SlurmCluster {
  /** Temporary folder holding the configuration, state, spool and logs. */
  dir: string;
  /** The slurm.conf path. */
  conf: string;
  /** The slurm.conf text (for reports). */
  confText: string;
  /** Environment entries every Slurm command needs. */
  env: { SLURM_CONF: string };
  /** Runs a Slurm client command against this cluster; throws on a non-zero exit. */
  run(command: string, args: readonly string[]): string;
  /** Raw job records of `squeue --json` (finished jobs included until MinJobAge). */
  jobs(): Record<string, unknown>[];
  /** The daemons' log tails, for failure messages. */
  logs(): string;
  /**
   * Waits until a requeued array element is held by Slurm (PENDING, reason BeginTime: the
   * requeue has finished) and lets it start at the next whole second instead of after
   * Slurm's hold of about two minutes.
   * @param element - `<array job id>_<index>`
   */
  releaseRequeued(element: string): Promise<void>;
  /** Cancels every job, stops both daemons, removes the folder. */
  stop(): Promise<void>;
}

/** True when the daemons' logs should be detailed and kept after stop(). */
const KEEP_LOGS = process.env.SLURM_TEST_KEEP_LOGS === "1";

const SLURM_SEARCH_PATH = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"];

function findBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), ...SLURM_SEARCH_PATH].filter(Boolean);
  const found = dirs.map((d) => join(d, name)).find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `${name} is not installed: the Slurm executor tests need a real Slurm. ` +
        "On Debian/Ubuntu: apt-get install -y slurmctld slurmd slurm-client (or the slurm-wlm metapackage).",
    );
  }
  return found;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts slurmctld and slurmd for one node (`localhost`, as many CPUs as this machine)
 * and resolves once `sinfo` shows the node idle. Throws (never skips) when Slurm is missing.
 * @param options - MaxArraySize and MinJobAge
 */
export async function startSlurm(options: SlurmClusterOptions = {}): Promise<SlurmCluster> {
  const slurmctld = findBinary("slurmctld");
  const slurmd = findBinary("slurmd");
  for (const client of ["sbatch", "squeue", "scancel", "scontrol", "sinfo"]) findBinary(client);
  const pluginDir = "/usr/lib/x86_64-linux-gnu/slurm-wlm";
  if (existsSync(pluginDir) && !existsSync(join(pluginDir, "auth_none.so"))) {
    throw new Error(`${pluginDir}/auth_none.so is missing: this Slurm build cannot run without munge; the test setup needs auth/none.`);
  }

  const dir = mkdtempSync(join(tmpdir(), "slurm-test-"));
  for (const sub of ["state", "spool", "log"]) mkdirSync(join(dir, sub));
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  const cpus = availableParallelism();
  // slurmd refuses a node that claims more memory than it has; half is always safe.
  const memoryMb = Math.floor(totalmem() / 2 ** 20 / 2);
  const confText = [
    `ClusterName=cetest${process.pid}`,
    "SlurmctldHost=localhost",
    `SlurmctldPort=${ctldPort}`,
    `SlurmdPort=${dPort}`,
    "SlurmUser=root",
    "SlurmdUser=root",
    "AuthType=auth/none",
    "CredType=cred/none",
    "MpiDefault=none",
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_CPU",
    "SchedulerType=sched/backfill",
    "AccountingStorageType=accounting_storage/none",
    "JobAcctGatherType=jobacct_gather/none",
    "JobCompType=jobcomp/none",
    `StateSaveLocation=${join(dir, "state")}`,
    `SlurmdSpoolDir=${join(dir, "spool")}`,
    `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
    `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
    `SlurmctldLogFile=${join(dir, "log", "slurmctld.log")}`,
    `SlurmdLogFile=${join(dir, "log", "slurmd.log")}`,
    `SlurmctldDebug=${KEEP_LOGS ? "debug2" : "info"}`,
    `SlurmdDebug=${KEEP_LOGS ? "debug2" : "info"}`,
    `MinJobAge=${options.minJobAge ?? 300}`,
    `MaxArraySize=${options.maxArraySize ?? 1001}`,
    "KillWait=5",
    "ReturnToService=2",
    `NodeName=localhost CPUs=${cpus} RealMemory=${memoryMb} State=UNKNOWN`,
    "PartitionName=debug Default=YES Nodes=localhost MaxTime=INFINITE State=UP",
    "",
  ].join("\n");
  const conf = join(dir, "slurm.conf");
  writeFileSync(conf, confText);
  const env = { SLURM_CONF: conf };
  const fullEnv = { ...process.env, ...env };

  const start = (binary: string, args: string[], log: string): ChildProcess => {
    const fd = openSync(join(dir, "log", log), "a");
    return spawn(binary, args, { env: fullEnv, stdio: ["ignore", fd, fd] });
  };
  const ctld = start(slurmctld, ["-D", "-f", conf], "slurmctld.out");
  const node = start(slurmd, ["-D", "-N", "localhost", "-f", conf], "slurmd.out");

  const logs = (): string =>
    ["slurmctld.out", "slurmd.out", "slurmctld.log", "slurmd.log"]
      .map((f) => join(dir, "log", f))
      .filter((f) => existsSync(f))
      .map((f) => `--- ${f}\n${readFileSync(f, "utf8").split("\n").slice(-15).join("\n")}`)
      .join("\n");

  const run = (command: string, args: readonly string[]): string => {
    const r = spawnSync(command, args, { env: fullEnv, encoding: "utf8", timeout: 30_000 });
    if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${r.status}): ${r.stderr || r.error?.message}`);
    return r.stdout;
  };

  const releaseRequeued = async (element: string): Promise<void> => {
    // squeue may already say REQUEUED while the old run is still COMPLETING; the hold begins
    // once slurmd has revoked the old run's credential and run the epilog.
    const held = (): boolean => {
      const record = run("scontrol", ["show", "job", "--oneliner", element]);
      return /(?:^|\s)JobState=PENDING\s/.test(record) && /(?:^|\s)Reason=BeginTime\s/.test(record);
    };
    await waitFor(held, `requeued job ${element} to be held until its begin time`, 60_000);
    // Not at once: slurmd refuses to launch a job whose credential is not younger than the
    // job's last revocation, compared in whole seconds, which is why Slurm holds a requeued
    // batch job for the credential lifetime + 1 s (EligibleTime = requeue + 121 s). The
    // requeue revoked the old credential in some second T; a restart whose credential is
    // made in T too is refused ("Killing non-startable batch JobId=N: Job credential revoked"
    // in slurmctld.log, "Job N already killed, do not launch batch job" in slurmd.log) and
    // the element ends FAILED with exit 1, never restarted. A plain StartTime=now right here
    // sometimes let the scheduler start it within T. The element is held, so T is this
    // second or earlier (the daemons and this process share one clock); once the clock has
    // left this second, StartTime=now is after T. (StartTime=now+1 is safe too, but the
    // update's own scheduling pass then finds the job not yet eligible and it waits for the
    // next backfill pass, up to 30 s.)
    const heldIn = Math.floor(Date.now() / 1000);
    await waitFor(() => Math.floor(Date.now() / 1000) > heldIn, "the clock to leave the second in which the requeue finished", 5_000);
    run("scontrol", ["update", `JobId=${element}`, "StartTime=now"]);
  };

  const stop = async (): Promise<void> => {
    try {
      const ids = run("squeue", ["--noheader", "--format=%A"]).split("\n").map((s) => s.trim()).filter(Boolean);
      if (ids.length > 0) {
        run("scancel", [...new Set(ids)]);
        await waitFor(() => run("squeue", ["--noheader", "--states=RUNNING,COMPLETING,PENDING"]).trim() === "", "the test cluster's jobs to end", 30_000);
      }
    } catch {
      // A cluster that no longer answers has nothing left to cancel.
    }
    for (const child of [node, ctld]) {
      child.kill("SIGTERM");
      if (!(await exited(child, 10_000))) {
        child.kill("SIGKILL");
        await exited(child, 5_000);
      }
    }
    if (KEEP_LOGS) process.stderr.write(`Slurm test cluster kept (SLURM_TEST_KEEP_LOGS=1): ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitFor(
      () => {
        if (ctld.exitCode !== null || node.exitCode !== null) throw new Error(`a Slurm daemon exited at start:\n${logs()}`);
        const r = spawnSync("sinfo", ["--noheader", "--format=%T"], { env: fullEnv, encoding: "utf8", timeout: 5_000 });
        return r.status === 0 && r.stdout.trim() === "idle";
      },
      "the test Slurm node to become idle",
      30_000,
    );
  } catch (err) {
    const message = `${(err as Error).message}\n${logs()}`;
    await stop();
    throw new Error(message);
  }

  return {
    dir,
    conf,
    confText,
    env,
    run,
    jobs: () => (JSON.parse(run("squeue", ["--json"])) as { jobs: Record<string, unknown>[] }).jobs,
    logs,
    releaseRequeued,
    stop,
  };
}
