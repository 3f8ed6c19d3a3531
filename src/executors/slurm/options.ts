import { CompasEnsembleError } from "../../errors.js";
import type { S3StoreOptions } from "../../store/s3-client.js";
import type { Store } from "../../store/types.js";
import { EXECUTOR_DEFAULTS, type ExecutorOptions, timeoutSeconds } from "../options.js";

/**
 * Options of the Slurm executor; every field has a documented default. The shared ones
 * (compasBinary, taskTimeoutMs, pollIntervalMs, env, retries) mean what they mean for every
 * executor: `compasBinary` is COMPAS on the compute nodes, `retries` are reruns inside the
 * same job of a task whose failure is retryable, and `env` is set over this process's
 * environment for the Slurm commands, which pass it on to the jobs (sbatch's default
 * --export=ALL); SLURM_CONF, if set, is kept in the handle, nothing else is.
 */
export interface SlurmExecutorOptions extends ExecutorOptions {
  /** `sbatch --partition`. Default: the cluster's default partition. */
  partition?: string;
  /** `sbatch --account`. Default: the user's default account. */
  account?: string;
  /** `sbatch --time` per array task: minutes, `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]`. Default: the partition's. */
  timeLimit?: string;
  /** `sbatch --mem` per task, e.g. `2G`, `500M` (a bare number is megabytes). Default: the partition's. */
  memory?: string;
  /** `sbatch --cpus-per-task`. Default 1 (COMPAS is single-threaded). */
  cpusPerTask?: number;
  /** Array tasks running at once (`--array=...%N`), across all arrays of a submission. Default: no limit. */
  throttle?: number;
  /** Further sbatch options as argv words, e.g. `["--qos=long", "--constraint", "avx2"]`. */
  extraSbatchArgs?: readonly string[];
  /** How the compute nodes start the CLI. Default `["compas-ensemble"]` (on the nodes' PATH). */
  workerCommand?: readonly string[];
  /** Scratch folder on the compute nodes (`worker --scratch`). Default: the node's temp folder. */
  scratchDir?: string;
  /**
   * Kill COMPAS after this many seconds and record TASK_TIMEOUT.
   * @deprecated Use `taskTimeoutMs`; kept for one release.
   */
  taskTimeoutS?: number;
  /**
   * Folder for the jobs' stdout/stderr (`slurm-<array job>_<index>.out`); it must be visible
   * from the compute nodes. Default `<output>/logs/slurm` for a directory store, else the
   * current directory (Slurm's own default).
   */
  logDir?: string;
  /** `sbatch --job-name`. Default `ce-<first 8 characters of the ensemble id>`. */
  jobName?: string;
  /** Largest array (tasks per `sbatch --array`). Default: MaxArraySize from `scontrol show config`. */
  maxArraySize?: number;
  /** Store to read fragments from when re-attaching; default: opened from the handle's URI. */
  store?: Store;
  /** S3 options for opening the handle's store when re-attaching (endpoint, region). */
  storeOptions?: S3StoreOptions;
}

const TIME_LIMIT = /^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2}|UNLIMITED|INFINITE)$/i;
const MEMORY = /^\d+[KMGT]?$/i;
// sbatch options the executor sets itself: giving them again would break the job-task mapping.
const RESERVED = ["--array", "-a", "--wrap", "--parsable", "--output", "-o", "--error", "-e"];

/**
 * Checks the options once, so a typo fails before anything is submitted.
 * @param options - see {@link SlurmExecutorOptions}
 */
export function validateSlurmOptions(options: SlurmExecutorOptions): void {
  const fail = (flag: string, message: string): never => {
    throw new CompasEnsembleError("OPTIONS_INVALID", `Slurm option ${flag}: ${message}`);
  };
  const whole = (flag: string, value: number | undefined, min: number): void => {
    if (value !== undefined && (!Number.isInteger(value) || value < min)) fail(flag, `${value} is not a whole number >= ${min}.`);
  };
  whole("--cpus-per-task", options.cpusPerTask, 1);
  whole("--throttle", options.throttle, 1);
  whole("--retries", options.retries, 0);
  whole("--task-timeout", options.taskTimeoutS, 1);
  whole("taskTimeoutMs", options.taskTimeoutMs, 1);
  whole("--max-array-size", options.maxArraySize, 1);
  whole("--poll-interval", options.pollIntervalMs, 1);
  if (options.timeLimit !== undefined && !TIME_LIMIT.test(options.timeLimit)) {
    fail("--time", `${JSON.stringify(options.timeLimit)} is not a Slurm time (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS).`);
  }
  if (options.memory !== undefined && !MEMORY.test(options.memory)) {
    fail("--mem", `${JSON.stringify(options.memory)} is not a Slurm memory size (a number with an optional K, M, G or T suffix).`);
  }
  for (const [flag, value] of [["--partition", options.partition], ["--account", options.account], ["--job-name", options.jobName]] as const) {
    if (value !== undefined && (value === "" || /[\0\n]/.test(value))) fail(flag, `${JSON.stringify(value)} is empty or contains a newline.`);
  }
  const extra = options.extraSbatchArgs ?? [];
  if (extra.length > 0 && !extra[0]!.startsWith("-")) {
    fail("--sbatch-arg", `the extra sbatch arguments must start with an option, not ${JSON.stringify(extra[0])} (sbatch would take it for the script).`);
  }
  for (const arg of extra) {
    if (arg.includes("\0")) fail("--sbatch-arg", "an argument contains a NUL byte.");
    const name = arg.startsWith("--") ? arg.split("=")[0]! : arg.slice(0, 2);
    if (RESERVED.includes(name)) fail("--sbatch-arg", `${name} is set by the executor (array, script and log files); remove it.`);
  }
  if (options.workerCommand !== undefined && options.workerCommand.length === 0) {
    fail("--worker-command", "the worker command is empty; give at least the program.");
  }
}

/** What one sbatch call submits. */
export interface SbatchRequest {
  /** Array size: indices 0..size-1. */
  size: number;
  jobName: string;
  /** `%A_%a` pattern of the job's stdout/stderr. */
  outputPattern: string;
  /** Array job this one waits for (`--dependency=afterany:`), to keep a throttle across arrays. */
  after?: string;
}

/**
 * The argv of one sbatch call (the script comes on stdin). Each value is its own word:
 * no shell ever parses it.
 * @param options - executor options
 * @param request - array size, names, dependency
 */
export function sbatchArgs(options: SlurmExecutorOptions, request: SbatchRequest): string[] {
  const throttle = options.throttle === undefined ? "" : `%${options.throttle}`;
  const args = [
    "--parsable",
    `--array=0-${request.size - 1}${throttle}`,
    `--job-name=${request.jobName}`,
    `--output=${request.outputPattern}`,
    `--cpus-per-task=${options.cpusPerTask ?? EXECUTOR_DEFAULTS.slurm.cpusPerTask}`,
  ];
  if (options.partition !== undefined) args.push(`--partition=${options.partition}`);
  if (options.account !== undefined) args.push(`--account=${options.account}`);
  if (options.timeLimit !== undefined) args.push(`--time=${options.timeLimit}`);
  if (options.memory !== undefined) args.push(`--mem=${options.memory}`);
  if (request.after !== undefined) args.push(`--dependency=afterany:${request.after}`);
  args.push(...(options.extraSbatchArgs ?? []));
  return args;
}

/**
 * The worker flags that follow `--plan` and `--index-list` in the batch script.
 * @param options - executor options
 */
export function workerArgs(options: SlurmExecutorOptions): string[] {
  const args: string[] = [];
  if (options.compasBinary !== undefined) args.push("--compas-binary", options.compasBinary);
  if (options.scratchDir !== undefined) args.push("--scratch", options.scratchDir);
  const timeoutMs = options.taskTimeoutMs ?? (options.taskTimeoutS === undefined ? undefined : options.taskTimeoutS * 1000);
  if (timeoutMs !== undefined) args.push("--task-timeout", String(timeoutSeconds(timeoutMs)));
  return args;
}
