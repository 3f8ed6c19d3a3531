import { availableParallelism } from "node:os";
import { inspectExecutable } from "../compas/elf.js";
import type { ProfileName } from "../compas/profiles.js";
import { CompasEnsembleError } from "../errors.js";
import { expandGrid } from "../grid/expand.js";
import { sparseGrid } from "../grid/presets.js";
import type { GridPoint } from "../grid/schema.js";
import { LIBRARY_VERSION } from "../version.js";
import { checkBuild, checkLibraries } from "./build.js";
import { checkCompas } from "./compas.js";
import { checkDisk } from "./disk.js";
import { checkMemory } from "./memory.js";
import { checkNode } from "./node.js";
import { checkPython } from "./python.js";
import type { DoctorCheck, DoctorReport } from "./types.js";

export { DoctorReportSchema, DoctorCheckSchema, DoctorStatusSchema, type DoctorReport, type DoctorCheck, type DoctorStatus } from "./types.js";

/** What the doctor checks against: the run you are about to start. */
export interface DoctorOptions {
  /** COMPAS path; else COMPAS_BINARY, $COMPAS_ROOT_DIR/src/bin/COMPAS, PATH (as `run`). */
  compasBinary?: string;
  /** Environment for the lookup, the probe run and Python; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Grid points of the planned run (default: the sparse grid); the first is used for the probe run. */
  points?: readonly GridPoint[];
  /** Binaries per grid point. Default 10,000. */
  nSystems?: number;
  /** Binaries per task, when runs are split into chunks. */
  systemsPerTask?: number;
  /** Output directory or s3:// URI. Default ./compas-ensemble-output. */
  output?: string;
  /** COMPAS flag profile. Default "default". */
  profile?: ProfileName;
  /** Extra COMPAS flags, as for `run`. */
  extraFlags?: readonly string[];
  allowInertAxes?: boolean;
  /** COMPAS processes at once. Default: the core count. */
  concurrency?: number;
  /** Python interpreter to check for h5py; default python3/python on PATH, then /usr/bin/python3. */
  python?: string;
  /** Binaries in the memory probe run. Default 10; 0 skips the run. */
  probeSystems?: number;
}

/**
 * Checks this machine for a run: Node, the COMPAS binary (where it was found, version,
 * sha256, the flags the library passes, -march=native, shared libraries), Python with h5py,
 * free disk against the estimate, and cores and memory against the concurrency (one COMPAS
 * process measured on a few binaries). Never throws for a failed check: `ok` is false and the
 * failing checks say what to do. Throws only for bad options.
 * @param options - the run to check for
 */
export async function doctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  const points = options.points ?? expandGrid(sparseGrid());
  const point = points[0];
  if (!point) throw new CompasEnsembleError("OPTIONS_INVALID", "The doctor was given an empty grid; give at least one grid point.");
  const profile = options.profile ?? "default";
  const nSystems = options.nSystems ?? 10_000;
  const extraFlags = options.extraFlags ?? [];
  const checks: DoctorCheck[] = [checkNode()];

  const compas = await checkCompas({ compasBinary: options.compasBinary, env, point, profile, extraFlags, allowInertAxes: options.allowInertAxes });
  checks.push(...compas.checks);
  if (compas.binary) {
    const info = await inspectExecutable(compas.binary);
    checks.push(checkBuild(compas.binary, info), await checkLibraries(compas.binary, info));
  } else {
    checks.push({ name: "build", status: "skip", detail: "no COMPAS binary to inspect" }, { name: "libraries", status: "skip", detail: "no COMPAS binary to inspect" });
  }
  checks.push(await checkPython({ python: options.python, env }));
  const concurrency = options.concurrency ?? availableParallelism();
  checks.push(
    checkDisk({ output: options.output ?? "./compas-ensemble-output", runs: points.length, nSystems, systemsPerTask: options.systemsPerTask, profile, concurrency }),
  );
  const runnable = compas.probe !== undefined && compas.checks.every((c) => c.status !== "fail");
  checks.push(
    await checkMemory({
      ...(runnable ? { binary: compas.binary } : {}),
      point,
      profile,
      extraFlags,
      allowInertAxes: options.allowInertAxes,
      probeSystems: runnable ? (options.probeSystems ?? 10) : 0,
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      env,
    }),
  );
  return { ok: checks.every((c) => c.status !== "fail"), library_version: LIBRARY_VERSION, checks };
}

const LABEL: Record<DoctorCheck["status"], string> = { ok: "ok  ", warn: "warn", fail: "FAIL", info: "info", skip: "skip" };

/**
 * The report as text: one line per check (`FAIL libraries  ...; fix: ...`) and a verdict.
 * @param report - from {@link doctor}
 */
export function formatDoctor(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = report.checks.map((c) => {
    const fix = c.fix && c.status !== "ok" ? `; fix: ${c.fix}` : "";
    return `${LABEL[c.status]}  ${c.name.padEnd(width)}  ${fix ? c.detail.replace(/\.$/, "") : c.detail}${fix}`;
  });
  const failed = report.checks.filter((c) => c.status === "fail").length;
  const warned = report.checks.filter((c) => c.status === "warn").length;
  lines.push(
    failed === 0
      ? `a run can start${warned ? ` (${warned} warning${warned > 1 ? "s" : ""})` : ""}`
      : `a run cannot start: ${failed} check${failed > 1 ? "s" : ""} failed`,
  );
  return lines.join("\n");
}
