import { z } from "zod";
import { CompasEnsembleError } from "../../errors.js";
import type { S3StoreOptions } from "../../store/s3-client.js";
import { ApiRetrySchema } from "./_backoff.js";
import { describeZodError } from "../../util/zod-error.js";
import { EXECUTOR_DEFAULTS, ExecutorOptionsSchema } from "../options.js";

/** Batch's own limits, checked before a request is made. */
export const BATCH_LIMITS = {
  /** Array jobs hold 2 to 10,000 children. */
  maxArraySize: 10_000,
  minArraySize: 2,
  maxAttempts: 10,
  /** attemptDurationSeconds must be at least 60. */
  minTimeoutSeconds: 60,
} as const;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Anything a job's environment holds is readable by whoever may call DescribeJobs, so values
// that look like credentials are refused; AWS access goes through the job role instead.
const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY|API_KEY)/i;

const EnvironmentSchema = z.record(z.string(), z.string());

/** What to register when no existing job definition is named. */
export const JobDefinitionSpecSchema = z.strictObject({
  /** Job definition name; revisions are added under it. Default "compas-ensemble". */
  name: z.string().regex(NAME, "letters, digits, - and _ only, at most 128").default(EXECUTOR_DEFAULTS.batch.jobDefinitionName),
  /** Container image holding COMPAS, Node 20 and compas-ensemble (see examples/batch). */
  image: z.string().min(1),
  /** vCPUs per child. Default 1 (COMPAS is single-threaded). */
  vcpus: z.number().positive().default(EXECUTOR_DEFAULTS.batch.vcpus),
  /** Memory per child in MiB. Default 2048. */
  memoryMiB: z.number().int().min(4).default(EXECUTOR_DEFAULTS.batch.memoryMiB),
  /** IAM role the container runs as (S3 access to the ensemble's prefix). */
  jobRoleArn: z.string().min(1).optional(),
  /** Role ECS uses to pull the image and write logs (needed for private registries). */
  executionRoleArn: z.string().min(1).optional(),
  /** Environment baked into the definition (never secrets). */
  environment: EnvironmentSchema.optional(),
  /** Default per-attempt timeout of the definition (seconds, >= 60). */
  timeoutSeconds: z.number().int().min(BATCH_LIMITS.minTimeoutSeconds).optional(),
  /**
   * sha256 of the COMPAS binary inside the image (examples/batch/README.md shows how to read
   * it). Written as the definition's `compas-ensemble:compas-sha256` tag; a plan made with
   * another build is then refused before anything is submitted.
   */
  compasSha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits").optional(),
});
/** Input form of {@link JobDefinitionSpecSchema}. */
export type JobDefinitionSpec = z.input<typeof JobDefinitionSpecSchema>;
/** A spec with its defaults filled in. */
export type ResolvedJobDefinitionSpec = z.output<typeof JobDefinitionSpecSchema>;

/**
 * Options of the Batch executor (validated scalars; credentials and store options are
 * separate). The shared ones (compasBinary, taskTimeoutMs, pollIntervalMs, env, retries) mean
 * what they mean for every executor: `env` is set in every child (never secrets: use the job
 * role), `retries` are Batch's further attempts of a child (Spot reclaims included).
 */
export const BatchExecutorOptionsSchema = ExecutorOptionsSchema.extend({
  /** Job queue name or ARN. Needed to submit; a re-attached executor takes it from the handle. */
  jobQueue: z.string().min(1).optional(),
  /** Existing job definition: name, name:revision or ARN. */
  jobDefinition: z.string().min(1).optional(),
  /** Or a definition to register (an identical ACTIVE one is reused). */
  jobDefinitionSpec: JobDefinitionSpecSchema.optional(),
  /** AWS region; else the SDK chain (AWS_REGION, ~/.aws/config). */
  region: z.string().min(1).optional(),
  /** Batch endpoint (tests, VPC endpoints); else AWS_ENDPOINT_URL_BATCH or AWS's. */
  endpoint: z.url().optional(),
  /** How often wait() asks Batch. Default 30 s. */
  pollIntervalMs: z.number().int().min(1).default(EXECUTOR_DEFAULTS.pollIntervalMs.batch),
  /** Further attempts of a child (Spot reclaims and retryable worker failures). Default 2. */
  retries: z.number().int().min(0).max(BATCH_LIMITS.maxAttempts - 1).default(EXECUTOR_DEFAULTS.retries),
  /**
   * COMPAS time limit per task (ms, whole seconds are used): the worker kills COMPAS and
   * records TASK_TIMEOUT (retried); Batch's attemptDurationSeconds is set 10 minutes later as
   * a backstop.
   */
  taskTimeoutMs: z.number().int().min(1).optional(),
  /** How the container starts compas-ensemble. Default ["compas-ensemble"]. */
  workerCommand: z.array(z.string().min(1)).min(1).default([...EXECUTOR_DEFAULTS.workerCommand]),
  /** COMPAS path inside the container (--compas-binary); default the plan's path. */
  compasBinary: z.string().min(1).optional(),
  /** Scratch folder inside the container (--scratch); default the system temp folder. */
  scratchDir: z.string().min(1).optional(),
  /** Environment for every child (never secrets: use the job role). */
  env: EnvironmentSchema.default({}),
  /**
   * Attempts per child, the first included.
   * @deprecated Use `retries` (attempts - 1); kept for one release.
   */
  attempts: z.number().int().min(1).max(BATCH_LIMITS.maxAttempts).optional(),
  /**
   * COMPAS time limit per task in seconds.
   * @deprecated Use `taskTimeoutMs`; kept for one release.
   */
  timeoutSeconds: z.number().int().min(1).optional(),
  /**
   * Scratch folder inside the container.
   * @deprecated Use `scratchDir`; kept for one release.
   */
  scratch: z.string().min(1).optional(),
  /**
   * Extra environment for every child.
   * @deprecated Use `env`; kept for one release.
   */
  environment: EnvironmentSchema.optional(),
  /** Extra tags on submitted jobs (the ensemble id is always added). */
  tags: z.record(z.string(), z.string()).default({}),
  /** Prefix of job names. Default "compas-ensemble". */
  jobNamePrefix: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "letters, digits, - and _ only, at most 64")
    .default(EXECUTOR_DEFAULTS.batch.jobNamePrefix),
  /** Retries of throttled or failed API calls. */
  apiRetry: ApiRetrySchema.default(ApiRetrySchema.parse({})),
}).strict();

/** Options of {@link BatchExecutor}. */
export type BatchExecutorOptions = z.input<typeof BatchExecutorOptionsSchema> & {
  /** Static credentials (tests); leave unset for the default AWS credential chain. Never saved. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** How to open the ensemble's S3 store when re-attached (endpoint, region, credentials). */
  storeOptions?: S3StoreOptions;
};
/** Options with defaults filled in, under their current names. */
export type ResolvedBatchExecutorOptions = Omit<z.output<typeof BatchExecutorOptionsSchema>, "attempts" | "timeoutSeconds" | "scratch" | "environment">;

/**
 * Validates executor options, filling in defaults; environment variables that look like
 * secrets are refused, since anyone allowed to describe a job can read its environment.
 * @param raw - options as given
 */
export function resolveBatchOptions(raw: BatchExecutorOptions): ResolvedBatchExecutorOptions {
  const { credentials: _c, storeOptions: _s, ...scalars } = raw;
  const parsed = BatchExecutorOptionsSchema.safeParse(scalars);
  if (!parsed.success) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `A Batch executor option is invalid: ${describeZodError(parsed.error)}.`,
      { cause: parsed.error },
    );
  }
  // The names of the previous release map onto the shared ones.
  const { attempts, timeoutSeconds, scratch, environment, ...current } = parsed.data;
  const opts: ResolvedBatchExecutorOptions = {
    ...current,
    retries: scalars.retries === undefined && attempts !== undefined ? attempts - 1 : current.retries,
    ...((current.taskTimeoutMs ?? (timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000)) !== undefined
      ? { taskTimeoutMs: current.taskTimeoutMs ?? timeoutSeconds! * 1000 }
      : {}),
    ...((current.scratchDir ?? scratch) !== undefined ? { scratchDir: current.scratchDir ?? scratch } : {}),
    env: scalars.env === undefined && environment !== undefined ? environment : current.env,
  };
  if (opts.jobDefinition && opts.jobDefinitionSpec) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      "Give either jobDefinition (--job-definition) or jobDefinitionSpec (--image ...), not both.",
    );
  }
  checkEnvironment(opts.env, "environment");
  if (opts.jobDefinitionSpec?.environment) checkEnvironment(opts.jobDefinitionSpec.environment, "jobDefinitionSpec.environment");
  return opts;
}

/**
 * Refuses environment variable names Batch reserves (AWS_BATCH*), invalid names, and names
 * that look like credentials.
 * @param env - variables for the container
 * @param option - option name for the message
 */
export function checkEnvironment(env: Readonly<Record<string, string>>, option: string): void {
  for (const name of Object.keys(env)) {
    if (!ENV_NAME.test(name)) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `Batch ${option} variable ${JSON.stringify(name)} is not a valid environment variable name.`);
    }
    if (name.startsWith("AWS_BATCH")) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `Batch ${option} variable ${name} is reserved: Batch sets AWS_BATCH_* variables itself.`);
    }
    if (SECRET_NAME.test(name)) {
      throw new CompasEnsembleError(
        "OPTIONS_INVALID",
        `Batch ${option} variable ${name} looks like a secret; job environments are readable by anyone who can describe the job.`,
        { hint: "Give the container access through the job role (jobRoleArn) instead of credentials in the environment." },
      );
    }
  }
}
