import { Command, Option } from "commander";
import { PROFILE_NAMES, type ProfileName } from "../compas/profiles.js";
import { CompasEnsembleError } from "../errors.js";
import { DEFAULT_CALIBRATION_BINARIES } from "../estimate/calibrate.js";
import type { EstimateTarget } from "../estimate/estimate.js";
import { addNoCacheOption } from "./_cache-option.js";
import { addAdaptiveOptions, type AdaptiveFlags, sizesFromFlags } from "./_adaptive-options.js";
import { addGridOptions, type GridFlags, selectionFromFlags, wholeNumber } from "./_grid-options.js";

const TARGETS = ["local", "ec2", "batch", "slurm"] as const;

interface EstimateFlags extends GridFlags, AdaptiveFlags {
  nSystems?: string;
  systemsPerTask?: string;
  profile: ProfileName;
  target: (typeof TARGETS)[number];
  cores?: string;
  instanceType?: string;
  instances?: string;
  vcpus?: string;
  calibrate?: boolean;
  calibrationBinaries: string;
  recalibrate?: boolean;
  cacheDir?: string;
  compasBinary?: string;
  json?: boolean;
  cache: boolean;
}

/**
 * `compas-ensemble estimate` (also `plan`, its former name, for one release): tasks, CPU-hours,
 * output size, wall time and cost of a grid on a target.
 */
export function estimateCommand(): Command {
  return addNoCacheOption(
    addAdaptiveOptions(
      addGridOptions(new Command("estimate").alias("plan").description("estimate tasks, CPU-hours, output size, wall time and cost before running")).option(
        "--n-systems <n>",
        "binaries per grid point (or the adaptive flags below)",
      ),
    ),
  )
    .option("--systems-per-task <n>", "split runs into chunks of this many binaries")
    .addOption(new Option("--profile <name>", "COMPAS flag profile").choices([...PROFILE_NAMES]).default("default"))
    .addOption(new Option("--target <kind>", "where it would run").choices([...TARGETS]).default("local"))
    .option("--cores <n>", "local: cores to use (default: all); slurm: cores of the allocation")
    .option("--instance-type <type>", "ec2: instance type; batch: type whose vCPU price to use (default c7i.large)")
    .option("--instances <k>", "ec2: number of instances", "1")
    .option("--vcpus <n>", "batch: vCPUs at once (the compute environment's maxvCpus)")
    .option("--calibrate", "time your COMPAS binary at the grid's corners first (cached per binary hash)")
    .option("--calibration-binaries <n>", "binaries in the calibration run", String(DEFAULT_CALIBRATION_BINARIES))
    .option("--recalibrate", "calibrate again even when the cache has this binary")
    .option("--cache-dir <dir>", "cache folder of calibrations and binary hashes (default ~/.cache/compas-ensemble)")
    .option("--compas-binary <path>", "COMPAS executable (else COMPAS_BINARY, $COMPAS_ROOT_DIR/src/bin/COMPAS, PATH)")
    .option("--json", "print the estimate as JSON")
    .action(async (flags: EstimateFlags, cmd: Command) => {
      const sizes = await sizesFromFlags(flags, flags.nSystems, cmd.getOptionValueSource("nSystems") === "cli");
      const [{ estimateEnsemble }, { formatEstimate }] = await Promise.all([import("../estimate/estimate.js"), import("./format-estimate.js")]);
      const calibrate = flags.calibrate || flags.recalibrate;
      if (calibrate && !flags.json) process.stderr.write("calibrating COMPAS at the grid's corners (or reading the cache)...\n");
      const plan = await estimateEnsemble({
        // Counted, not expanded: estimating a grid costs its axes, not its points.
        selection: selectionFromFlags(flags),
        ...(typeof sizes.nSystems === "number"
          ? { nSystems: sizes.nSystems }
          : { adaptive: { target: sizes.target!, chunk: sizes.nSystems.chunk, max: sizes.nSystems.max, seedStride: sizes.seedStride } }),
        systemsPerTask: flags.systemsPerTask === undefined ? undefined : wholeNumber(flags.systemsPerTask, "--systems-per-task", 1),
        profile: flags.profile,
        target: targetFromFlags(flags),
        compasBinary: flags.compasBinary,
        probeCache: flags.cache,
        // Without --calibrate a cached calibration of the binary is still used.
        calibrate: {
          cachedOnly: !calibrate,
          binaries: wholeNumber(flags.calibrationBinaries, "--calibration-binaries", 2),
          cacheDir: flags.cacheDir,
          refresh: flags.recalibrate,
        },
      });
      process.stdout.write(flags.json ? JSON.stringify(plan, null, 2) + "\n" : formatEstimate(plan));
    });
}

function targetFromFlags(flags: EstimateFlags): EstimateTarget {
  const misplaced = (flag: string, value: unknown, allowed: readonly string[]): void => {
    if (value !== undefined && !allowed.includes(flags.target)) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `${flag} does not apply to --target ${flags.target}; it is for --target ${allowed.join(" or ")}.`);
    }
  };
  misplaced("--cores", flags.cores, ["local", "slurm"]);
  misplaced("--instance-type", flags.instanceType, ["ec2", "batch"]);
  misplaced("--vcpus", flags.vcpus, ["batch"]);
  if (flags.instances !== "1") misplaced("--instances", flags.instances, ["ec2"]);
  const need = (flag: string, value: string | undefined): string => {
    if (value === undefined) throw new CompasEnsembleError("OPTIONS_INVALID", `--target ${flags.target} needs ${flag}.`);
    return value;
  };
  switch (flags.target) {
    case "local":
      return { kind: "local", ...(flags.cores === undefined ? {} : { cores: wholeNumber(flags.cores, "--cores", 1) }) };
    case "ec2":
      return { kind: "ec2", instanceType: need("--instance-type <type>", flags.instanceType), count: wholeNumber(flags.instances ?? "1", "--instances", 1) };
    case "batch":
      return {
        kind: "batch",
        vcpus: wholeNumber(need("--vcpus <n>", flags.vcpus), "--vcpus", 1),
        ...(flags.instanceType === undefined ? {} : { instanceType: flags.instanceType }),
      };
    case "slurm":
      return { kind: "slurm", cores: wholeNumber(need("--cores <n>", flags.cores), "--cores", 1) };
  }
}
