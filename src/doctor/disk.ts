import { resolve } from "node:path";
import type { ProfileName } from "../compas/profiles.js";
import { measuredSizeModel, runBytes } from "../estimate/size.js";
import { formatBytes } from "../util/format.js";
import { diskOf } from "../util/disk.js";
import type { DoctorCheck } from "./types.js";

/** The planned run, as far as its disk needs go. */
export interface DiskCheckOptions {
  /** Output directory or s3:// URI. */
  output: string;
  runs: number;
  nSystems: number;
  systemsPerTask?: number;
  profile: ProfileName;
  /** Tasks at once: each holds one task's output in scratch until it is stored. */
  concurrency: number;
}

/**
 * Free space where the outputs go against the estimate for the planned grid and N (the
 * estimate's size model, src/estimate/size.ts), scratch of the running tasks included.
 * @param options - output, runs, N, profile and concurrency
 */
export function checkDisk(options: DiskCheckOptions): DoctorCheck {
  const model = measuredSizeModel(options.profile);
  const outputs = options.runs * runBytes(model, options.nSystems);
  const perTask = runBytes(model, Math.min(options.nSystems, options.systemsPerTask ?? options.nSystems));
  const scratch = Math.min(options.concurrency, options.runs * Math.ceil(options.nSystems / (options.systemsPerTask ?? options.nSystems))) * perTask;
  const what = `${options.runs} run(s) x ${options.nSystems} binaries (profile ${options.profile})`;
  if (/^s3:\/\//.test(options.output)) {
    return {
      name: "disk",
      status: "info",
      detail: `outputs go to ${options.output}: about ${formatBytes(outputs)} for ${what}; no local disk to check besides scratch (about ${formatBytes(scratch)})`,
      data: { output: options.output, needed_bytes: outputs, scratch_bytes: scratch },
    };
  }
  const path = resolve(options.output);
  const disk = diskOf(path);
  const needed = outputs + scratch;
  const data = { output: path, mount_point: disk.mountPoint, free_bytes: disk.freeBytes, needed_bytes: needed, outputs_bytes: outputs, scratch_bytes: scratch };
  if (disk.freeBytes === null) {
    return { name: "disk", status: "warn", detail: `cannot tell the free space of ${disk.mountPoint}; ${what} need about ${formatBytes(needed)}`, data };
  }
  const detail = `${formatBytes(disk.freeBytes)} free on ${disk.mountPoint} for ${path}; ${what} need about ${formatBytes(outputs)} plus ${formatBytes(scratch)} of scratch while tasks run`;
  if (disk.freeBytes >= needed) return { name: "disk", status: "ok", detail, data };
  return {
    name: "disk",
    status: "fail",
    detail,
    fix: `free ${formatBytes(needed - disk.freeBytes)} on ${disk.mountPoint}, choose another --output-dir (or s3://...), or run fewer points or binaries`,
    data,
  };
}
