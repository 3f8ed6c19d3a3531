import { availableParallelism } from "node:os";
import { resolveCompasBinary } from "../compas/probe.js";
import { MEASURED_SECONDS_PER_BINARY, PROFILE_NAMES, PROFILES, type ProfileName } from "../compas/profiles.js";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { expandSelection, type GridSelection, selectGrid } from "../grid/expand.js";
import type { GridSpec } from "../grid/presets.js";
import type { GridPoint } from "../grid/schema.js";
import { formatBytes as bytes, formatHours as hours } from "../util/format.js";
import { makespan, type TaskGroup } from "./_schedule.js";
import { measuredSizeModel, runBytes, type SizeModel } from "./size.js";
import { defaultCacheDir } from "./calibration-cache.js";
import { cachedCalibration, calibrate, DEFAULT_CALIBRATION_BINARIES, isPilotFor, type Calibration } from "./calibrate.js";
import { predictRunSizes, type PredictedRun } from "./pilot.js";
import { adaptiveSpec, type AdaptiveOptions } from "../plan/adaptive.js";
import type { AdaptiveSpec } from "../plan/schema.js";
import { instancePrice, PRICE_TABLE, type PriceTable } from "./prices.js";

/** Where the ensemble would run. */
export type EstimateTarget =
  /** This machine; `cores` defaults to the available cores. */
  | { kind: "local"; cores?: number }
  /** `count` EC2 instances of one type (SSH-EC2 executor), one COMPAS process per vCPU. */
  | { kind: "ec2"; instanceType: string; count?: number }
  /** AWS Batch with up to `vcpus` vCPUs at once; priced per vCPU-hour of `instanceType` (default c7i.large). */
  | { kind: "batch"; vcpus: number; instanceType?: string }
  /** A Slurm allocation of `cores` cores; cost is reported in core-hours. */
  | { kind: "slurm"; cores: number };

/** Calibration settings of {@link estimateEnsemble}. */
export interface EstimateCalibrationOptions {
  /** Binaries in the calibration run, split over the grid's corners. Default 200. */
  binaries?: number;
  /** Folder of the calibration cache. Default ~/.cache/compas-ensemble. */
  cacheDir?: string;
  /** Measure again even when cached. */
  refresh?: boolean;
  /** Only use a cached calibration; never start COMPAS. */
  cachedOnly?: boolean;
}

/** Options of {@link estimateEnsemble}. */
export interface EstimateEnsembleOptions {
  /** The whole grid (counted, not expanded); or give `selection` or `points`. */
  grid?: GridSpec;
  /** A slice of a grid from {@link selectGrid} (counted, not expanded); wins over `grid`. */
  selection?: GridSelection;
  /** Grid points, e.g. a slice; wins over `selection` and `grid`. */
  points?: readonly GridPoint[];
  /** Binaries per run (grid point); leave out with `adaptive`. */
  nSystems?: number;
  /**
   * Adaptive runs (docs/adaptive.md): each run's N is predicted from the DCO counts of the
   * calibration at the grid's corners and priced; without them every run is priced at the cap.
   */
  adaptive?: AdaptiveOptions;
  /** Binaries per task; runs with more are chunked. Default nSystems. */
  systemsPerTask?: number;
  /** COMPAS flag profile. Default "default". */
  profile?: ProfileName;
  /** COMPAS binary to calibrate; default from COMPAS_BINARY, $COMPAS_ROOT_DIR/src/bin/COMPAS or PATH. */
  compasBinary?: string;
  /**
   * Time the binary with a short run at the grid's corners (cached per binary hash). When
   * false or absent, or with `cachedOnly`, a cached calibration of the binary is used if there
   * is one, else the constants measured with COMPAS v03.07.00.
   */
  calibrate?: boolean | EstimateCalibrationOptions;
  /** Where it would run. Default: this machine. */
  target?: EstimateTarget;
  /** Instance prices. Default {@link PRICE_TABLE}. */
  prices?: PriceTable;
  /** Trust the cached sha256 and probe of the binary (see probeCompas). Default true; false reads it afresh. */
  probeCache?: boolean;
  /** Environment for the binary lookup and calibration runs. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Stops a calibration run. */
  signal?: AbortSignal;
}

/** Where the seconds per binary of an estimate come from. */
export interface CostBasis {
  source: "calibrated" | "cached-calibration" | "measured";
  /** Mean over the calibration corners, or the measured constant. */
  secondsPerBinary: number;
  /** Smallest and largest over the calibration corners. */
  secondsPerBinaryRange: [number, number];
  /** Seconds per task beyond its binaries (start-up, writing, upload); 0 when not calibrated. */
  taskOverheadSeconds: number;
  /** One sentence for people: what was measured where, or why the constants are used. */
  note: string;
  calibration?: Calibration;
}

/** Time, size and cost of the plan under one profile. */
export interface ProfileEstimate {
  profile: ProfileName;
  basis: CostBasis;
  /** Binaries x seconds per binary, in hours of one core. */
  compasCpuHours: number;
  /** Sum of task durations including per-task overhead: the core-/vCPU-hours a target bills. */
  taskHours: number;
  /** Bytes the runs leave in the output (merged COMPAS_Output.h5 files, detailed output). */
  outputBytes: number;
  /** Wall time on the target, from start of the first task to end of the last. */
  wallSeconds: number;
  /** USD on the target (ec2 and batch only). */
  costUsd?: { onDemand: number; spot: number };
}

/** The adaptive part of an estimate: the rule and each run's predicted N. */
export interface AdaptiveEstimate {
  target: AdaptiveSpec["target"];
  chunk: number;
  max: number;
  seedStride: number;
  /** Sum of the predicted N (also `binaries`). */
  predictedBinaries: number;
  /** Runs x the cap: what the ensemble would cost if every run hit it. */
  capBinaries: number;
  /** Runs predicted at the cap. */
  runsAtCap: number;
  runs: PredictedRun[];
}

/** What {@link estimateEnsemble} returns. */
export interface EnsembleEstimate extends ProfileEstimate {
  runs: number;
  tasks: number;
  nSystems: number;
  systemsPerTask: number;
  binaries: number;
  target: EstimateTarget & { slots: number; description: string };
  /** The price used for costUsd: per instance (ec2) or per vCPU (batch). */
  price?: { instanceType: string; per: "instance" | "vCPU"; onDemandPerHour: number; spotPerHour: number; date: string; region: string; source: string };
  /** With the predecessor profile: the same plan with the default profile, for comparison. */
  comparison?: ProfileEstimate;
  /** With `adaptive`: the predicted N per run (`nSystems` is then the cap). */
  adaptive?: AdaptiveEstimate;
  warnings: string[];
  notes: string[];
}

/**
 * Estimates an ensemble before it runs: tasks, COMPAS CPU-hours, output size, and wall time and
 * cost on a target (local cores, EC2 instances, AWS Batch vCPUs, Slurm cores). Seconds per
 * binary come from a calibration run of the user's own COMPAS binary (see {@link calibrate}),
 * else from the constants measured with COMPAS v03.07.00, with a note saying so.
 * @param options - see {@link EstimateEnsembleOptions}
 */
export async function estimateEnsemble(options: EstimateEnsembleOptions): Promise<EnsembleEstimate> {
  // Estimating needs only the number of runs; points are built only for a calibration.
  const selection = options.points ? undefined : (options.selection ?? (options.grid ? selectGrid(options.grid) : undefined));
  const runs = options.points?.length ?? (selection ? selection.end - selection.start : undefined);
  if (runs === undefined) throw new CompasEnsembleError("OPTIONS_INVALID", "estimateEnsemble needs a grid or points; pass one of them.");
  if (runs === 0) throw new CompasEnsembleError("GRID_INVALID", "The grid has no points to plan; check the slice or the grid file.");
  let built: readonly GridPoint[] | undefined;
  const points = (): readonly GridPoint[] => (built ??= options.points ?? expandSelection(selection!));
  const profile = options.profile ?? "default";
  if (!(PROFILE_NAMES as readonly string[]).includes(profile)) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `Profile ${JSON.stringify(profile)} is not one of ${PROFILE_NAMES.join(", ")}.`);
  }
  const spec = options.adaptive ? adaptiveSpec(options.adaptive) : undefined;
  if (spec && options.nSystems !== undefined) {
    throw new CompasEnsembleError("OPTIONS_INVALID", "nSystems (--n-systems) cannot be combined with adaptive (--target-dcos): an adaptive run's size is set by chunk and max.");
  }
  if (spec && options.systemsPerTask !== undefined) {
    throw new CompasEnsembleError("OPTIONS_INVALID", "systemsPerTask (--systems-per-task) does not apply to adaptive runs: their tasks are the chunks (--chunk).");
  }
  if (!spec && options.nSystems === undefined) {
    throw new CompasEnsembleError("OPTIONS_INVALID", "estimateEnsemble needs nSystems (--n-systems) or adaptive (--target-dcos); pass one of them.");
  }
  const n = spec ? spec.max : positiveInt(options.nSystems!, "nSystems (--n-systems)");
  const perTask = spec ? spec.chunk : Math.min(n, positiveInt(options.systemsPerTask ?? n, "systemsPerTask (--systems-per-task)"));
  const prices = options.prices ?? PRICE_TABLE;
  const target = resolveTarget(options.target ?? { kind: "local" }, prices);

  const { bases, hint } = await costBases(options, points, profile === "predecessor" ? ["predecessor", "default"] : ["default"], spec !== undefined);
  // Every run's size: the fixed N, or the N predicted from the pilot (the main profile's calibration).
  const prediction = spec ? predictRunSizes(points(), spec, pilotOf(bases.get(profile)!.calibration, points())) : undefined;
  const sizes = prediction ? prediction.runs.map((r) => r.nSystems) : undefined;
  const taskSizes = sizes ? groupSizes(sizes, perTask) : chunkSizes(n, perTask).map((g) => ({ ...g, count: runs * g.count }));
  const tasks = taskSizes.reduce((k, g) => k + g.count, 0);
  const binaries = sizes ? sizes.reduce((a, b) => a + b, 0) : runs * n;
  const estimate = (p: ProfileName): ProfileEstimate => {
    const basis = bases.get(p)!;
    const groups: TaskGroup[] = taskSizes.map((g) => ({ seconds: basis.taskOverheadSeconds + g.size * basis.secondsPerBinary, count: g.count }));
    const taskSeconds = groups.reduce((a, g) => a + g.count * g.seconds, 0);
    const wallSeconds = makespan(groups, target.slots);
    const model = sizeModel(p, basis);
    return {
      profile: p,
      basis,
      compasCpuHours: (binaries * basis.secondsPerBinary) / 3600,
      taskHours: taskSeconds / 3600,
      outputBytes: sizes ? sizes.reduce((a, k) => a + runBytes(model, k), 0) : runs * runBytes(model, n),
      wallSeconds,
      ...costOf(target, prices, wallSeconds, taskSeconds),
    };
  };
  const main = estimate(profile);
  const comparison = profile === "predecessor" ? estimate("default") : undefined;

  const warnings: string[] = [];
  if (comparison) {
    warnings.push(
      `${PROFILES.predecessor.warning} For this plan: ${hours(main.compasCpuHours)} CPU-hours and ${bytes(main.outputBytes)} ` +
        `with 'predecessor' against ${hours(comparison.compasCpuHours)} CPU-hours and ${bytes(comparison.outputBytes)} with 'default'.`,
    );
  }
  if (tasks < target.slots && !spec) {
    // As many chunks per run as fit the slots in one round, never more.
    const split = Math.ceil(n / Math.max(1, Math.floor(target.slots / runs)));
    warnings.push(
      `Only ${tasks} task(s) for ${target.slots} slots: ${target.slots - tasks} would stay idle. ` +
        (split < n ? `Split runs into chunks, e.g. systemsPerTask ${split} (--systems-per-task ${split}).` : "Use a smaller target."),
    );
  }
  const notes = [main.basis.note, ...(prediction?.notes ?? [])];
  if (comparison) notes.push(comparison.basis.note);
  if (hint) notes.push(hint);
  if (perTask < 1000) {
    const floor = bytes(sizeModel(profile, main.basis).floorBytes);
    notes.push(`Every COMPAS_Output.h5 is at least ~${floor} (Run_Details and one preallocated 1000-row chunk per column), however few binaries it holds.`);
  }
  if (target.kind === "ec2" || target.kind === "batch") {
    notes.push(`Prices: ${prices.source}.`);
    notes.push("Wall time and cost exclude instance start-up, container pulls and queue waits.");
    const p = instancePrice(target.kind === "ec2" ? target.instanceType : (target.instanceType ?? "c7i.large"), prices);
    if (p.smt) notes.push("This instance type has two vCPUs per physical core: one COMPAS per vCPU runs slower than on a core of its own, so expect longer times than estimated.");
  }
  if (target.kind === "slurm") notes.push("Slurm: taskHours is the core-hours charged to your allocation; queue wait is not included.");

  return {
    ...main,
    runs,
    tasks,
    nSystems: n,
    systemsPerTask: perTask,
    binaries,
    target,
    ...priceInfo(target, prices),
    ...(comparison ? { comparison } : {}),
    ...(spec && prediction
      ? {
          adaptive: {
            target: spec.target,
            chunk: spec.chunk,
            max: spec.max,
            seedStride: spec.seed_stride,
            predictedBinaries: binaries,
            capBinaries: runs * spec.max,
            runsAtCap: prediction.runs.filter((r) => r.atCap).length,
            runs: prediction.runs,
          },
        }
      : {}),
    warnings,
    notes,
  };
}

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new CompasEnsembleError("OPTIONS_INVALID", `${what} ${v} is not a whole number >= 1.`);
  return v;
}

// Task sizes of runs of different N, each cut into chunks of perTask, counted over all runs.
function groupSizes(sizes: readonly number[], perTask: number): Array<{ size: number; count: number }> {
  const count = new Map<number, number>();
  for (const n of sizes) for (const g of chunkSizes(n, perTask)) count.set(g.size, (count.get(g.size) ?? 0) + g.count);
  return [...count].map(([size, c]) => ({ size, count: c }));
}

// A calibration serves as the pilot only when it was made at this grid's corners.
function pilotOf(c: Calibration | undefined, points: readonly GridPoint[]): Calibration | undefined {
  return c && isPilotFor(c, points) ? c : undefined;
}

// The chunks of one run: full chunks of perTask binaries and at most one smaller remainder.
function chunkSizes(n: number, perTask: number): Array<{ size: number; count: number }> {
  const full = { size: perTask, count: Math.floor(n / perTask) };
  return n % perTask === 0 ? [full] : [full, { size: n % perTask, count: 1 }];
}

function resolveTarget(t: EstimateTarget, prices: PriceTable): EnsembleEstimate["target"] {
  switch (t.kind) {
    case "local": {
      const cores = t.cores === undefined ? availableParallelism() : positiveInt(t.cores, "local cores (--cores)");
      return { ...t, cores, slots: cores, description: `this machine, ${cores} COMPAS process(es) at once` };
    }
    case "ec2": {
      const count = positiveInt(t.count ?? 1, "EC2 instance count (--instances)");
      const p = instancePrice(t.instanceType, prices);
      return { ...t, count, slots: count * p.vcpus, description: `${count} x ${t.instanceType} (${p.vcpus} vCPUs each, one COMPAS per vCPU)` };
    }
    case "batch": {
      const vcpus = positiveInt(t.vcpus, "Batch vCPUs (--vcpus)");
      const instanceType = t.instanceType ?? "c7i.large";
      instancePrice(instanceType, prices);
      return { ...t, vcpus, instanceType, slots: vcpus, description: `AWS Batch, up to ${vcpus} vCPUs (one task per vCPU)` };
    }
    case "slurm": {
      const cores = positiveInt(t.cores, "Slurm cores (--cores)");
      return { ...t, cores, slots: cores, description: `Slurm, ${cores} cores (one array task per core)` };
    }
    default:
      throw new CompasEnsembleError("OPTIONS_INVALID", `Target kind ${JSON.stringify((t as { kind: unknown }).kind)} is not one of local, ec2, batch, slurm.`);
  }
}

function costOf(target: EnsembleEstimate["target"], prices: PriceTable, wallSeconds: number, taskSeconds: number): Pick<ProfileEstimate, "costUsd"> {
  if (target.kind === "ec2") {
    const p = instancePrice(target.instanceType, prices);
    // EC2 bills per second with a one-minute minimum, for every instance for the whole run.
    const h = (Math.max(60, wallSeconds) * (target.count ?? 1)) / 3600;
    return { costUsd: { onDemand: h * p.onDemand, spot: h * p.spot } };
  }
  if (target.kind === "batch") {
    const p = instancePrice(target.instanceType ?? "c7i.large", prices);
    const vcpuHours = taskSeconds / 3600;
    return { costUsd: { onDemand: (vcpuHours * p.onDemand) / p.vcpus, spot: (vcpuHours * p.spot) / p.vcpus } };
  }
  return {};
}

function priceInfo(target: EnsembleEstimate["target"], prices: PriceTable): Pick<EnsembleEstimate, "price"> {
  if (target.kind !== "ec2" && target.kind !== "batch") return {};
  const instanceType = target.kind === "ec2" ? target.instanceType : (target.instanceType ?? "c7i.large");
  const p = instancePrice(instanceType, prices);
  const div = target.kind === "batch" ? p.vcpus : 1;
  return {
    price: {
      instanceType,
      per: target.kind === "batch" ? "vCPU" : "instance",
      onDemandPerHour: p.onDemand / div,
      spotPerHour: p.spot / div,
      date: prices.date,
      region: prices.region,
      source: prices.source,
    },
  };
}

function sizeModel(profile: ProfileName, basis: CostBasis): SizeModel {
  const model = measuredSizeModel(profile);
  const c = basis.calibration;
  // A calibration file holds < 1000 binaries, so its size is this build's floor.
  if (c && c.output_file_bytes > 0) model.floorBytes = c.output_file_bytes;
  if (c && profile === "predecessor") model.detailedBytesPerBinary = c.detailed_bytes_per_binary;
  return model;
}

async function costBases(
  options: EstimateEnsembleOptions,
  points: () => readonly GridPoint[],
  profiles: ProfileName[],
  pilot: boolean,
): Promise<{ bases: Map<ProfileName, CostBasis>; hint?: string }> {
  const bases = new Map<ProfileName, CostBasis>();
  const settings: EstimateCalibrationOptions = typeof options.calibrate === "object" ? options.calibrate : {};
  const run = options.calibrate === true || (typeof options.calibrate === "object" && settings.cachedOnly !== true);
  let binary: string | undefined;
  try {
    binary = resolveCompasBinary({ compasBinary: options.compasBinary, env: options.env });
  } catch (err) {
    // An explicit path that is wrong is an error; no COMPAS at all is a reason to fall back.
    if (!isCompasEnsembleError(err, "COMPAS_NOT_FOUND") || options.compasBinary !== undefined) throw err;
  }
  const uncalibrated: ProfileName[] = [];
  for (const profile of profiles) {
    let calibration: Calibration | undefined;
    if (binary && run) {
      calibration = await calibrate({
        points: points(),
        profile,
        compasBinary: binary,
        binaries: settings.binaries ?? DEFAULT_CALIBRATION_BINARIES,
        cacheDir: settings.cacheDir,
        refresh: settings.refresh,
        probeCache: options.probeCache,
        pilot,
        env: options.env,
        signal: options.signal,
      });
    } else if (binary) {
      calibration = await cachedCalibration(binary, profile, settings.cacheDir ?? defaultCacheDir(options.env), options.probeCache);
    }
    if (!calibration) uncalibrated.push(profile);
    bases.set(profile, calibration ? calibratedBasis(calibration) : measuredBasis(profile));
  }
  if (uncalibrated.length === 0) return { bases };
  const hint = binary
    ? `${binary} has no cached calibration for profile ${uncalibrated.map((p) => `'${p}'`).join(" and ")}; ` +
      "calibrate it (calibrate: true, --calibrate) for times of your own build."
    : `No COMPAS binary was found${run ? ", so no calibration ran" : ""} (looked at --compas-binary, COMPAS_BINARY, ` +
      "$COMPAS_ROOT_DIR/src/bin/COMPAS and PATH); point to yours with --compas-binary or COMPAS_BINARY and pass --calibrate.";
  return { bases, hint };
}

function calibratedBasis(c: Calibration): CostBasis {
  const spbs = c.corners.map((k) => k.seconds_per_binary);
  return {
    source: c.cached ? "cached-calibration" : "calibrated",
    secondsPerBinary: c.seconds_per_binary,
    secondsPerBinaryRange: [Math.min(...spbs), Math.max(...spbs)],
    taskOverheadSeconds: c.task_overhead_s,
    note:
      `calibrated: ${c.binaries} binaries of profile '${c.profile}' at ${c.corners.length} grid corner(s) with COMPAS ${c.version} ` +
      `(${c.binary}, sha256 ${c.sha256.slice(0, 12)}) on ${c.cpu}, ${c.measured_at.slice(0, 10)}${c.cached ? `, from the cache ${c.cacheFile}` : ""}.`,
    calibration: c,
  };
}

function measuredBasis(profile: ProfileName): CostBasis {
  const spb = MEASURED_SECONDS_PER_BINARY[profile];
  return {
    source: "measured",
    secondsPerBinary: spb,
    secondsPerBinaryRange: [spb, spb],
    taskOverheadSeconds: 0,
    note:
      `not calibrated: ${spb} s per binary for profile '${profile}', measured with COMPAS v03.07.00 ` +
      "(optimised build, one core, Z = 0.0142); per-task start-up is not included.",
  };
}

/**
 * The estimate's former name.
 * @deprecated Use {@link estimateEnsemble}; kept for one release.
 */
export const planEnsemble: (options: EstimateEnsembleOptions) => Promise<EnsembleEstimate> = estimateEnsemble;
/**
 * Former name of {@link EstimateEnsembleOptions}.
 * @deprecated Use EstimateEnsembleOptions; kept for one release.
 */
export type PlanEnsembleOptions = EstimateEnsembleOptions;
/**
 * Former name of {@link EstimateCalibrationOptions}.
 * @deprecated Use EstimateCalibrationOptions; kept for one release.
 */
export type PlanCalibrationOptions = EstimateCalibrationOptions;
/**
 * Former name of {@link EstimateTarget}.
 * @deprecated Use EstimateTarget; kept for one release.
 */
export type PlanTarget = EstimateTarget;
/**
 * Former name of {@link EnsembleEstimate}.
 * @deprecated Use EnsembleEstimate; kept for one release.
 */
export type PlanEstimate = EnsembleEstimate;
