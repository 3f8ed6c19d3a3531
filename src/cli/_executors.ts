import type { Command } from "commander";
import type { Reattach } from "../ensemble/attach.js";
import { CompasEnsembleError } from "../errors.js";
import { EXECUTOR_DEFAULTS, type ExecutorOptions } from "../executors/options.js";
import type { Executor } from "../executors/types.js";
import { wholeNumber } from "./_grid-options.js";

// Executors are loaded when one is asked for: the AWS SDK and ssh2 stay out of every other
// command's start-up.

/** Executors `run --executor` offers. */
export const EXECUTOR_KINDS = ["local", "ssh", "batch", "slurm"] as const;

/** Flags of every executor, as commander parses them. */
export interface ExecutorFlags {
  executor: (typeof EXECUTOR_KINDS)[number];
  concurrency?: string;
  retries?: string;
  taskTimeout?: string;
  // ssh
  hosts?: string;
  knownHosts?: string;
  identity?: string;
  remoteCommand?: string;
  remoteDir?: string;
  remoteCompasBinary?: string;
  hostTimeout?: string;
  allowPartialHosts?: boolean;
  // batch
  jobQueue?: string;
  jobDefinition?: string;
  image?: string;
  imageCompasSha256?: string;
  jobDefinitionName?: string;
  vcpus?: string;
  memory?: string;
  jobRole?: string;
  region?: string;
  batchEndpoint?: string;
  containerCompasBinary?: string;
  attempts?: string;
  // slurm
  partition?: string;
  account?: string;
  time?: string;
  mem?: string;
  cpusPerTask?: string;
  throttle?: string;
  sbatchArg?: string[];
  workerCommand?: string;
  // detached executors
  pollInterval?: string;
  env?: string[];
}

/**
 * Commander's collector of a repeatable flag.
 * @param value - this occurrence
 * @param previous - the earlier ones
 */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Adds the executor flags to `run`: local (default), ssh and batch.
 * @param cmd - the run command
 */
export function addExecutorOptions(cmd: Command): Command {
  const d = EXECUTOR_DEFAULTS;
  return cmd
    .option("--concurrency <n>", "COMPAS processes at once (local; default: cores)")
    .option("--retries <n>", `further attempts after a retryable failure (default ${d.retries})`)
    .option("--task-timeout <seconds>", "kill a task that runs longer")
    .option("--hosts <file>", "ssh: JSON or YAML list of {host, user, port, identityFile, slots}")
    .option("--known-hosts <file>", "ssh: known_hosts file (default ~/.ssh/known_hosts)")
    .option("--identity <file>", "ssh: private key for hosts without their own")
    .option("--remote-command <argv>", `ssh: how to start compas-ensemble on the hosts, space-separated (default: ${d.workerCommand.join(" ")})`)
    .option("--remote-dir <dir>", `ssh: working folder on the hosts (default ~/${d.ssh.remoteDir})`)
    .option("--remote-compas-binary <path>", "ssh: COMPAS on the hosts (default: the plan's path)")
    .option("--host-timeout <seconds>", `ssh: move an unreachable host's tasks elsewhere after this long (default ${d.ssh.hostTimeoutMs / 1000})`)
    .option("--allow-partial-hosts", "ssh: run on the hosts that pass preflight")
    .option("--job-queue <name>", "batch: job queue")
    .option("--job-definition <name>", "batch: existing job definition (name, name:revision or ARN)")
    .option("--image <uri>", "batch: register (or reuse) a job definition for this container image")
    .option("--image-compas-sha256 <hex>", "batch: sha256 of COMPAS inside --image (examples/batch); tagged on the definition, and plans of another build are refused")
    .option("--job-definition-name <name>", `batch: name of the definition registered for --image (default: ${d.batch.jobDefinitionName})`)
    .option("--vcpus <n>", `batch: vCPUs per child (with --image; default ${d.batch.vcpus})`)
    .option("--memory <MiB>", `batch: memory per child (with --image; default ${d.batch.memoryMiB})`)
    .option("--job-role <arn>", "batch: IAM role of the children (S3 access)")
    .option("--region <region>", "batch: AWS region (default: the standard chain)")
    .option("--batch-endpoint <url>", "batch: API endpoint (tests, private endpoints)")
    .option("--container-compas-binary <path>", "batch: COMPAS inside the image (default: the plan's path)")
    .option("--attempts <n>", `batch: attempts per child, Spot reclaims included (default ${d.retries + 1}, i.e. --retries + 1)`)
    .option("--partition <name>", "slurm: partition")
    .option("--account <name>", "slurm: account")
    .option("--time <limit>", "slurm: time limit per array element, e.g. 02:00:00")
    .option("--mem <size>", "slurm: memory per array element, e.g. 2G")
    .option("--cpus-per-task <n>", `slurm: CPUs per array element (default ${d.slurm.cpusPerTask})`)
    .option("--throttle <n>", "slurm: at most n array elements at once (%n)")
    .option("--sbatch-arg <arg>", "slurm: extra sbatch argument (repeatable)", collect)
    .option("--worker-command <argv>", `slurm/batch: how jobs start compas-ensemble, space-separated (default: ${d.workerCommand.join(" ")})`)
    .option("--poll-interval <seconds>", `ssh/batch/slurm: how often to look at the jobs (default ${d.pollIntervalMs.ssh / 1000} s for ssh, ${d.pollIntervalMs.batch / 1000} s for batch and slurm)`)
    .option("--env <NAME=VALUE>", "ssh/batch/slurm: non-secret environment for the workers (repeatable)", collect);
}

/**
 * Parses repeated `--env NAME=VALUE` flags.
 * @param pairs - the flag values
 */
export function envRecord(pairs: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CompasEnsembleError("OPTIONS_INVALID", `--env ${pair} is not NAME=VALUE.`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * The options every executor shares, from the flags (each parsed here once, defaults left to
 * the executors).
 * @param flags - parsed flags
 */
export function commonExecutorOptions(flags: ExecutorFlags): Omit<ExecutorOptions, "env"> & { env?: Record<string, string> } {
  return {
    ...(flags.retries !== undefined ? { retries: wholeNumber(flags.retries, "--retries", 0) } : {}),
    ...(flags.taskTimeout ? { taskTimeoutMs: wholeNumber(flags.taskTimeout, "--task-timeout", 1) * 1000 } : {}),
    ...(flags.pollInterval ? { pollIntervalMs: wholeNumber(flags.pollInterval, "--poll-interval", 1) * 1000 } : {}),
    ...(flags.env?.length ? { env: envRecord(flags.env) } : {}),
  };
}

/**
 * Builds the executor `run` asked for, loading only its module.
 * @param flags - parsed flags
 */
export async function executorFromFlags(flags: ExecutorFlags): Promise<Executor> {
  const common = commonExecutorOptions(flags);
  const argv = (text: string | undefined): string[] | undefined => (text ? text.split(/\s+/).filter(Boolean) : undefined);
  switch (flags.executor) {
    case "local": {
      const { LocalExecutor } = await import("../executors/local/executor.js");
      return new LocalExecutor({
        ...common,
        ...(flags.concurrency ? { concurrency: wholeNumber(flags.concurrency, "--concurrency", 1) } : {}),
      });
    }
    case "ssh": {
      if (!flags.hosts) throw new CompasEnsembleError("OPTIONS_INVALID", "--executor ssh needs --hosts <file> listing the hosts.");
      const { SshExecutor, loadHostsFile } = await import("../executors/ssh/index.js");
      return new SshExecutor({
        ...common,
        hosts: loadHostsFile(flags.hosts),
        knownHostsFile: flags.knownHosts,
        identityFile: flags.identity,
        workerCommand: argv(flags.remoteCommand),
        remoteDir: flags.remoteDir,
        compasBinary: flags.remoteCompasBinary,
        ...(flags.hostTimeout ? { hostTimeoutMs: wholeNumber(flags.hostTimeout, "--host-timeout", 1) * 1000 } : {}),
        requireAllHosts: !flags.allowPartialHosts,
      });
    }
    case "batch": {
      if (!flags.jobQueue) throw new CompasEnsembleError("OPTIONS_INVALID", "--executor batch needs --job-queue <name>.");
      if (!flags.jobDefinition && !flags.image) {
        throw new CompasEnsembleError("OPTIONS_INVALID", "--executor batch needs --job-definition <name> or --image <uri> to register one.");
      }
      if (flags.imageCompasSha256 && !flags.image) {
        throw new CompasEnsembleError("OPTIONS_INVALID", "--image-compas-sha256 goes with --image; a definition named by --job-definition declares its COMPAS build with its own tag.", {
          hint: "Drop --image-compas-sha256, or tag the definition compas-ensemble:compas-sha256=<sha256> when you register it (examples/batch/README.md).",
        });
      }
      const { BatchExecutor } = await import("../executors/batch/index.js");
      return new BatchExecutor({
        ...common,
        jobQueue: flags.jobQueue,
        ...(flags.jobDefinition
          ? { jobDefinition: flags.jobDefinition }
          : {
              jobDefinitionSpec: {
                image: flags.image!,
                ...(flags.jobDefinitionName ? { name: flags.jobDefinitionName } : {}),
                ...(flags.vcpus ? { vcpus: wholeNumber(flags.vcpus, "--vcpus", 1) } : {}),
                ...(flags.memory ? { memoryMiB: wholeNumber(flags.memory, "--memory", 128) } : {}),
                ...(flags.jobRole ? { jobRoleArn: flags.jobRole } : {}),
                ...(flags.imageCompasSha256 ? { compasSha256: flags.imageCompasSha256.toLowerCase() } : {}),
              },
            }),
        ...(flags.region ? { region: flags.region } : {}),
        ...(flags.batchEndpoint ? { endpoint: flags.batchEndpoint } : {}),
        ...(flags.containerCompasBinary ? { compasBinary: flags.containerCompasBinary } : {}),
        // --attempts counts the first try too; it wins over --retries for Batch, as before.
        ...(flags.attempts ? { retries: wholeNumber(flags.attempts, "--attempts", 1) - 1 } : {}),
        ...(flags.workerCommand ? { workerCommand: argv(flags.workerCommand) } : {}),
      });
    }
    case "slurm": {
      const { SlurmExecutor } = await import("../executors/slurm/index.js");
      return new SlurmExecutor({
        ...common,
        ...(flags.partition ? { partition: flags.partition } : {}),
        ...(flags.account ? { account: flags.account } : {}),
        ...(flags.time ? { timeLimit: flags.time } : {}),
        ...(flags.mem ? { memory: flags.mem } : {}),
        ...(flags.cpusPerTask ? { cpusPerTask: wholeNumber(flags.cpusPerTask, "--cpus-per-task", 1) } : {}),
        ...(flags.throttle ? { throttle: wholeNumber(flags.throttle, "--throttle", 1) } : {}),
        ...(flags.sbatchArg ? { extraSbatchArgs: flags.sbatchArg } : {}),
        ...(flags.workerCommand ? { workerCommand: argv(flags.workerCommand) } : {}),
      });
    }
  }
}

/** Flags `wait` and `cancel` take to rebuild a detached executor. */
export interface ReattachFlags {
  knownHosts?: string;
  identity?: string;
  region?: string;
  batchEndpoint?: string;
}

/**
 * Adds the flags `wait` and `cancel` need (credentials and endpoints are never saved in the
 * handle, so they come from the flags or the environment).
 * @param cmd - wait or cancel
 */
export function addReattachOptions(cmd: Command): Command {
  return cmd
    .option("--known-hosts <file>", "ssh: known_hosts file")
    .option("--identity <file>", "ssh: private key")
    .option("--region <region>", "batch: AWS region")
    .option("--batch-endpoint <url>", "batch: API endpoint");
}

/**
 * Rebuilds the executor of a saved handle.
 * @param flags - parsed reattach flags
 */
export function reattachFromFlags(flags: ReattachFlags): Reattach {
  return async (handle, store) => {
    switch (handle.kind) {
      case "ssh": {
        const { reattachSshExecutor } = await import("../executors/ssh/index.js");
        return reattachSshExecutor(handle, { store, knownHostsFile: flags.knownHosts, identityFile: flags.identity });
      }
      case "slurm": {
        const { reattachSlurmExecutor } = await import("../executors/slurm/index.js");
        return reattachSlurmExecutor(handle, { store });
      }
      case "batch": {
        const { reattachBatchExecutor } = await import("../executors/batch/index.js");
        return reattachBatchExecutor(handle, {
          ...(flags.region ? { region: flags.region } : {}),
          ...(flags.batchEndpoint ? { endpoint: flags.batchEndpoint } : {}),
        });
      }
      default:
        throw new CompasEnsembleError(
          "OPTIONS_INVALID",
          `The saved submission was made by the ${handle.kind} executor, which cannot be re-attached from another process.`,
          { hint: "Use `compas-ensemble status <dir>`, or run the same `compas-ensemble run` again to resume." },
        );
    }
  };
}
