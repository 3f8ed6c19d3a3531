import { spawn } from "node:child_process";
import { createWriteStream, existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Options of {@link runProcess}. */
export interface RunProcessOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here. */
  logPath: string;
  /** Written with the child's pid and start time, so a later run can find an orphan. */
  pidPath?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Called for each complete line of stdout and of stderr. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  onSpawn?: (pid: number) => void;
  /** How long a process group gets between SIGTERM and SIGKILL. Default 5000 ms. */
  killGraceMs?: number;
}

/** How a process ended. */
export interface ProcessOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** Spawn failure (ENOENT, EACCES), if any. */
  spawnError?: Error;
  /** Why the log could not be written (ENOSPC, EIO), if it could not; the process ran on. */
  logError?: Error;
  stdoutTail: string;
  stderrTail: string;
}

const TAIL_BYTES = 8192;

/**
 * Runs one process without a shell, in its own process group so that cancelling kills
 * everything it started, with stdout/stderr appended to a log and kept as short tails.
 * @param options - command, argv array, log and cancellation
 */
export function runProcess(options: RunProcessOptions): Promise<ProcessOutcome> {
  return new Promise((resolvePromise) => {
    const log = createWriteStream(options.logPath, { flags: "a" });
    let logError: Error | undefined;
    // A log that cannot be written (disk full) must not crash the caller through an
    // unhandled 'error' event; the caller decides what the lost log means.
    log.on("error", (err) => {
      logError ??= err;
    });
    const writeLog = (chunk: Buffer): void => {
      if (logError === undefined) log.write(chunk);
    };
    let stdoutTail = "";
    let stderrTail = "";
    const partial = { stdout: "", stderr: "" };
    const splitLines = (stream: "stdout" | "stderr", text: string): void => {
      if (!options.onLine) return;
      const lines = (partial[stream] + text).split("\n");
      partial[stream] = lines.pop() ?? "";
      for (const line of lines) options.onLine(line, stream);
    };
    let timedOut = false;
    let aborted = false;
    let spawnError: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;

    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });

    const killGroup = (): void => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      signalGroup(child.pid, "SIGTERM");
      killTimer ??= setTimeout(() => child.pid !== undefined && signalGroup(child.pid, "SIGKILL"), options.killGraceMs ?? 5000);
    };
    const onAbort = (): void => {
      aborted = true;
      killGroup();
    };

    child.on("spawn", () => {
      if (child.pid === undefined) return;
      if (options.pidPath) writePidFile(options.pidPath, child.pid);
      options.onSpawn?.(child.pid);
      if (options.signal?.aborted) onAbort();
    });
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
      timeoutTimer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, options.timeoutMs);
    }

    child.stdout.on("data", (chunk: Buffer) => {
      writeLog(chunk);
      const text = chunk.toString("utf8");
      stdoutTail = (stdoutTail + text).slice(-TAIL_BYTES);
      splitLines("stdout", text);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      writeLog(chunk);
      const text = chunk.toString("utf8");
      stderrTail = (stderrTail + text).slice(-TAIL_BYTES);
      splitLines("stderr", text);
    });
    child.on("error", (err) => {
      spawnError = err;
    });
    child.on("close", (exitCode, signal) => {
      clearTimeout(killTimer);
      clearTimeout(timeoutTimer);
      options.signal?.removeEventListener("abort", onAbort);
      for (const stream of ["stdout", "stderr"] as const) if (partial[stream]) options.onLine?.(partial[stream], stream);
      // The group may still hold grandchildren that outlived the leader.
      if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
      // end() calls back once the log is flushed, or at once with an error when it failed.
      log.end((err?: Error | null) => {
        if (err && !logError) logError = err;
        resolvePromise({ exitCode, signal, timedOut, aborted, spawnError, logError, stdoutTail, stderrTail });
      });
    });
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone: nothing to stop.
  }
}

// /proc/<pid>/stat field 22 is the start time in clock ticks since boot: with the pid it
// identifies a process for certain, so a recycled pid is never killed by mistake.
function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function writePidFile(path: string, pid: number): void {
  try {
    const start = processStartTime(pid) ?? "";
    // Synchronous on purpose: the file must exist before the orchestrator can die.
    writeFileSync(path, `${pid} ${start}\n`);
  } catch {
    // A missing pid file only weakens orphan cleanup; the run itself is unaffected.
  }
}

/**
 * Kills COMPAS process groups left behind by an orchestrator that died (SIGKILL, power loss):
 * every `<scratchRoot>/<dir>/compas.pid` whose process is still the one recorded.
 * @param scratchRoot - folder holding per-task scratch folders
 * @returns pids that were killed
 */
export function killOrphans(scratchRoot: string): number[] {
  const killed: number[] = [];
  for (const { pid } of liveScratchProcesses(scratchRoot)) {
    signalGroup(pid, "SIGKILL");
    killed.push(pid);
  }
  return killed;
}

/**
 * COMPAS processes of this machine that are still running in a scratch root: every
 * `<scratchRoot>/<dir>/compas.pid` whose process is still the one recorded (same pid and start
 * time). `dir` is the scratch folder's name, `<task_id>.a<attempt>.<random>`.
 * @param scratchRoot - folder holding per-task scratch folders
 */
export function liveScratchProcesses(scratchRoot: string): { dir: string; pid: number }[] {
  if (!existsSync(scratchRoot)) return [];
  const live: { dir: string; pid: number }[] = [];
  for (const entry of readdirSync(scratchRoot)) {
    const pidPath = join(scratchRoot, entry, "compas.pid");
    let text: string;
    try {
      text = readFileSync(pidPath, "utf8");
    } catch {
      // No pid file yet, or the task finished and removed its folder in between.
      continue;
    }
    const [pidText, start] = text.trim().split(" ");
    const pid = Number(pidText);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const now = processStartTime(pid);
    if (now !== null && (start === undefined || start === "" || now === start)) live.push({ dir: entry, pid });
  }
  return live;
}
