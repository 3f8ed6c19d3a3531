import { z } from "zod";
import { CompasEnsembleError } from "../errors.js";
import { describeZodError } from "../util/zod-error.js";

/**
 * The defaults every executor shares, written once: the options below, the CLI's help and the
 * executors' docs all take them from here.
 */
export const EXECUTOR_DEFAULTS = {
  /** Further attempts after a retryable failure (three attempts in all). */
  retries: 2,
  /** Wait before the first retry of a failed task; doubled for each further one. */
  retryBackoffMs: 2000,
  /** No wait between two attempts of a task is longer than this. */
  maxRetryBackoffMs: 60_000,
  /** How a detached executor's jobs start the CLI where they run. */
  workerCommand: ["compas-ensemble"] as readonly string[],
  /** How often a detached executor looks at its jobs, per executor. */
  pollIntervalMs: { ssh: 5000, batch: 30_000, slurm: 30_000 },
  ssh: {
    /** A host unreachable this long loses its unfinished tasks to the other hosts. */
    hostTimeoutMs: 120_000,
    /** Folder on each host (under its home) that holds `<ensemble id>/`. */
    remoteDir: ".compas-ensemble",
  },
  batch: {
    /** Name of a job definition registered for an image. */
    jobDefinitionName: "compas-ensemble",
    /** vCPUs per child: COMPAS is single-threaded. */
    vcpus: 1,
    /** Memory per child, MiB. */
    memoryMiB: 2048,
    /** Prefix of job names. */
    jobNamePrefix: "compas-ensemble",
  },
  slurm: {
    /** CPUs per array element: COMPAS is single-threaded. */
    cpusPerTask: 1,
  },
} as const;

/**
 * The options every executor names alike and that mean the same in all of them; each
 * executor's own options extend these. Times are in milliseconds everywhere.
 */
export const ExecutorOptionsSchema = z.object({
  /** COMPAS where the tasks run. Default: the plan's path. */
  compasBinary: z.string().min(1).optional(),
  /** Kill a task's COMPAS after this long (ms) and record TASK_TIMEOUT, which is retried. Default: no limit. */
  taskTimeoutMs: z.number().int().min(1).optional(),
  /** How often a detached executor looks at its jobs (ms); see {@link EXECUTOR_DEFAULTS} for each one's default. */
  pollIntervalMs: z.number().int().min(1).optional(),
  /**
   * Environment variables for the workers, set over the environment they start in (an
   * undefined value removes one where the executor can: local and Slurm). Remote workers
   * (SSH, Batch) refuse names that look like secrets.
   */
  env: z.record(z.string(), z.string().optional()).optional(),
  /** Further attempts after a retryable failure. Default {@link EXECUTOR_DEFAULTS}.retries. */
  retries: z.number().int().min(0).optional(),
});
/** The options every executor shares (input form, all optional). */
export type ExecutorOptions = z.input<typeof ExecutorOptionsSchema>;

/**
 * Checks the shared options of one executor, naming the executor and the option in the one
 * sentence of a bad value.
 * @param executor - e.g. "SSH", for the message
 * @param options - the executor's options (only the shared ones are checked here)
 */
export function checkExecutorOptions(executor: string, options: ExecutorOptions): void {
  const shared = Object.fromEntries(Object.keys(ExecutorOptionsSchema.shape).map((k) => [k, (options as Record<string, unknown>)[k]]));
  const parsed = ExecutorOptionsSchema.safeParse(shared);
  if (!parsed.success) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `An option of the ${executor} executor is invalid: ${describeZodError(parsed.error)}.`, { cause: parsed.error });
  }
}

/**
 * The environment a worker starts with: `base` with `env` set over it (undefined values remove).
 * @param base - the environment the worker would have anyway
 * @param env - the executor's `env` option
 */
export function withEnv(base: NodeJS.ProcessEnv, env: ExecutorOptions["env"]): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...base };
  for (const [k, v] of Object.entries(env ?? {})) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/**
 * The variables of `env` that are set, for workers that can only add variables (SSH, Batch).
 * @param env - the executor's `env` option
 */
export function definedEnv(env: ExecutorOptions["env"]): Record<string, string> {
  return Object.fromEntries(Object.entries(env ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
}

/**
 * Seconds of a millisecond timeout as the worker's `--task-timeout` takes them (whole, rounded up).
 * @param ms - the timeout in ms
 */
export function timeoutSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
