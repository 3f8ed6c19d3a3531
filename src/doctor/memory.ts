import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, freemem, tmpdir } from "node:os";
import { join } from "node:path";
import { buildCompasArgs, withOutput } from "../compas/argv.js";
import { compasEnv } from "../compas/env.js";
import type { ProfileName } from "../compas/profiles.js";
import { runProcess } from "../worker/process.js";
import type { GridPoint } from "../grid/schema.js";
import { formatBytes } from "../util/format.js";
import type { DoctorCheck } from "./types.js";

/** Peak RSS of one COMPAS process, measured with COMPAS v03.07.00 (upper end of 80-120 MB; 538 MB with detailed output). */
export const ASSUMED_PEAK_RSS: Record<ProfileName, number> = { default: 120e6, predecessor: 538e6 };
/** Memory kept free beyond the measured peaks: other grid points can need a little more. */
export const MEMORY_HEADROOM = 1.25;

/** Outcome of one measured COMPAS run. */
export interface RssProbe {
  /** Highest VmHWM seen, bytes; null when the process never could be sampled. */
  peakBytes: number | null;
  exitCode: number | null;
  signal: string | null;
  stderrTail: string;
  seconds: number;
}

function vmHwm(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Runs COMPAS on a few binaries and records its peak resident memory. VmHWM (the kernel's
 * high-water mark of the process's RSS) is read at every progress line COMPAS prints and every
 * 20 ms, so only growth in the last moments before exit can be missed.
 * @param binary - COMPAS
 * @param args - COMPAS arguments (without output flags)
 * @param env - environment for COMPAS (GSL variables are removed)
 */
export async function measurePeakRss(binary: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<RssProbe> {
  const dir = mkdtempSync(join(tmpdir(), "compas-ensemble-doctor-"));
  let pid: number | undefined;
  let peak: number | null = null;
  const sample = (): void => {
    if (pid === undefined) return;
    const v = vmHwm(pid);
    if (v !== null && (peak === null || v > peak)) peak = v;
  };
  const timer = setInterval(sample, 20);
  const started = Date.now();
  try {
    const outcome = await runProcess({
      command: binary,
      args: withOutput(args, join(dir, "out")),
      cwd: dir,
      env: compasEnv(env),
      logPath: join(dir, "compas.log"),
      timeoutMs: 300_000,
      onSpawn: (p) => {
        pid = p;
        sample();
      },
      onLine: (_line, stream) => {
        if (stream === "stdout") sample();
      },
    });
    return {
      peakBytes: peak,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      stderrTail: (outcome.spawnError?.message ?? outcome.stderrTail).trim(),
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    clearInterval(timer);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Memory this machine can give to new processes: MemAvailable, capped by a cgroup v2 limit
 * (a container's memory.max) when there is one.
 */
export function availableMemory(): number {
  let available = freemem();
  try {
    const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
    if (m) available = Number(m[1]) * 1024;
  } catch {
    // not Linux: os.freemem() it is
  }
  try {
    const max = readFileSync("/sys/fs/cgroup/memory.max", "utf8").trim();
    if (/^\d+$/.test(max)) {
      const current = Number(readFileSync("/sys/fs/cgroup/memory.current", "utf8").trim());
      available = Math.min(available, Math.max(0, Number(max) - current));
    }
  } catch {
    // no cgroup v2 limit
  }
  return available;
}

/** What the memory check needs. */
export interface MemoryCheckOptions {
  binary?: string;
  /** Grid point for the probe run. */
  point: GridPoint;
  profile: ProfileName;
  extraFlags: readonly string[];
  allowInertAxes?: boolean;
  /** Binaries in the probe run; 0 skips it and assumes {@link ASSUMED_PEAK_RSS}. */
  probeSystems: number;
  /** --concurrency if given; default the core count. */
  concurrency?: number;
  env: NodeJS.ProcessEnv;
}

/**
 * Cores and memory against --concurrency: one COMPAS process is measured on a few binaries
 * and the check says how many fit in the memory available (with 25% headroom).
 * @param options - binary, grid point, flags and concurrency
 */
export async function checkMemory(options: MemoryCheckOptions): Promise<DoctorCheck> {
  const cores = availableParallelism();
  const concurrency = options.concurrency ?? cores;
  const available = availableMemory();
  let peak = ASSUMED_PEAK_RSS[options.profile];
  let how = `assumed ${formatBytes(peak)} per COMPAS process (measured with COMPAS v03.07.00, profile ${options.profile})`;
  let measured = false;
  if (options.binary && options.probeSystems > 0) {
    const args = buildCompasArgs(options.point, { nSystems: options.probeSystems, seed: 0 }, { profile: options.profile, extraFlags: options.extraFlags, allowInertAxes: options.allowInertAxes });
    const probe = await measurePeakRss(options.binary, args, options.env);
    if (probe.exitCode !== 0) {
      const why = probe.signal ? `killed by ${probe.signal}` : `exit ${probe.exitCode}`;
      return {
        name: "memory",
        status: "fail",
        detail: `a probe run of ${options.probeSystems} binaries (${options.point.run_id}) failed (${why}): ${probe.stderrTail.split("\n").slice(-2).join(" | ") || "no message"}`,
        fix: "run that COMPAS command by hand (compas-ensemble command --index 0) to see why; every task would fail the same way",
        data: { cores, concurrency, available_bytes: available, probe_exit: probe.exitCode, probe_signal: probe.signal },
      };
    }
    if (probe.peakBytes !== null) {
      peak = probe.peakBytes;
      measured = true;
      how = `one COMPAS process peaked at ${formatBytes(peak)} resident (${options.probeSystems} binaries of ${options.point.run_id}, ${probe.seconds.toFixed(1)} s)`;
    }
  }
  const fit = Math.max(0, Math.floor(available / (peak * MEMORY_HEADROOM)));
  const given = options.concurrency !== undefined ? `--concurrency ${concurrency}` : `the default concurrency (${cores}, one per core)`;
  const detail = `${how}; ${formatBytes(available)} available: ${fit} fit with ${Math.round((MEMORY_HEADROOM - 1) * 100)}% headroom; ${cores} core(s)`;
  const data = { cores, concurrency, available_bytes: available, peak_rss_bytes: peak, peak_measured: measured, fit };
  if (concurrency > fit) {
    return {
      name: "memory",
      status: "fail",
      detail: `${detail}; ${given} would run out of memory`,
      fix: fit > 0 ? `use --concurrency ${Math.min(fit, cores)} or less, or free memory` : "free memory, or run on a machine with more",
      data,
    };
  }
  if (concurrency > cores) {
    return {
      name: "memory",
      status: "warn",
      detail: `${detail}; ${given} is more than the cores: each COMPAS process is single-threaded, so the extra ones only share them`,
      fix: `use --concurrency ${Math.min(cores, fit)} for the same speed`,
      data,
    };
  }
  return { name: "memory", status: "ok", detail: `${detail}; ${given} fits`, data };
}
