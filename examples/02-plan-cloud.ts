/**
 * Example 2: plan the sparse grid for AWS Batch and for SSH hosts on EC2 (tasks, COMPAS
 * CPU-hours, output size, wall time, cost), and submit it only when a queue or hosts are set.
 *
 *   npx tsx examples/02-plan-cloud.ts --compas-binary /path/to/COMPAS
 *
 * With a COMPAS binary (--compas-binary, COMPAS_BINARY, COMPAS_ROOT_DIR or PATH, see example 1)
 * the estimate is calibrated on it: 200 binaries at the grid's corners, cached per binary hash
 * in ~/.cache/compas-ensemble, so only the first plan of a build takes that time. Without one
 * the estimate uses the per-binary time measured with COMPAS v03.07.00 and says so.
 *
 * To submit (nothing is submitted otherwise):
 * - AWS Batch: COMPAS_BATCH_QUEUE (job queue), COMPAS_BATCH_JOB_DEFINITION (a definition whose
 *   image holds COMPAS, Node 20 and compas-ensemble; see examples/batch/) and COMPAS_EXAMPLE_S3
 *   (s3://bucket/prefix for the outputs); AWS credentials from the usual chain (AWS_PROFILE, ...).
 * - SSH hosts: COMPAS_SSH_HOSTS, comma-separated user@host[:port] (keys from ssh-agent or
 *   COMPAS_SSH_IDENTITY; each host needs Node 20, compas-ensemble and COMPAS), and
 *   COMPAS_EXAMPLE_S3 or COMPAS_EXAMPLE_OUT for the outputs.
 * Both submit detached: the tasks go on after this script ends; follow them with
 * `npx compas-ensemble status <output>`.
 *
 * Environment: COMPAS_EXAMPLE_N (binaries per grid point, default 100000),
 * COMPAS_EXAMPLE_CALIBRATION_BINARIES (default 200), COMPAS_BATCH_VCPUS (default 512),
 * COMPAS_EC2_INSTANCE_TYPE (default c7i.16xlarge), COMPAS_EC2_INSTANCES (default: the number
 * of SSH hosts, else 4).
 */
import { parseArgs } from "node:util";
import { resolveCompasBinary } from "../src/entry/compas.js";
import { estimateEnsemble, formatEstimate, type EstimateEnsembleOptions } from "../src/entry/estimate.js";
import { expandGrid, isCompasEnsembleError, runEnsemble, sparseGrid, type Executor } from "../src/index.js";

const { values } = parseArgs({ options: { "compas-binary": { type: "string" } } });
const env = process.env;
const points = expandGrid(sparseGrid());
const nSystems = Number(env.COMPAS_EXAMPLE_N ?? 100_000);
// Chunks of 10,000 binaries: more tasks than runs, so hundreds of vCPUs are kept busy.
const systemsPerTask = Math.min(nSystems, 10_000);
const sshHosts = env.COMPAS_SSH_HOSTS?.split(",").map((h) => h.trim()).filter(Boolean) ?? [];

// Calibrate only when a COMPAS binary is there; a missing one is not an error for planning.
let compasBinary: string | undefined;
try {
  compasBinary = resolveCompasBinary({ compasBinary: values["compas-binary"] });
} catch (err) {
  if (!isCompasEnsembleError(err, "COMPAS_NOT_FOUND") || values["compas-binary"]) throw err;
  console.log("No COMPAS binary found: planning with the measured constants (see the notes below).\n");
}
const common: EstimateEnsembleOptions = {
  points,
  nSystems,
  systemsPerTask,
  compasBinary,
  calibrate: compasBinary ? { binaries: Number(env.COMPAS_EXAMPLE_CALIBRATION_BINARIES ?? 200) } : false,
};

console.log("=== AWS Batch ===");
const batch = await estimateEnsemble({ ...common, target: { kind: "batch", vcpus: Number(env.COMPAS_BATCH_VCPUS ?? 512) } });
process.stdout.write(formatEstimate(batch));

console.log("\n=== SSH hosts on EC2 ===");
const ec2 = await estimateEnsemble({
  ...common,
  target: {
    kind: "ec2",
    instanceType: env.COMPAS_EC2_INSTANCE_TYPE ?? "c7i.16xlarge",
    count: Number(env.COMPAS_EC2_INSTANCES ?? (sshHosts.length || 4)),
  },
});
process.stdout.write(formatEstimate(ec2));

// Submission: the executors are imported only when they are used, so planning needs neither
// the AWS SDK's credentials nor SSH keys.
const run = { points, nSystems, systemsPerTask, compasBinary, detach: true };
let executor: Executor | undefined;
let output: string | undefined;
if (env.COMPAS_BATCH_QUEUE) {
  output = env.COMPAS_EXAMPLE_S3;
  if (!output?.startsWith("s3://")) throw new Error("AWS Batch needs COMPAS_EXAMPLE_S3=s3://bucket/prefix for the outputs.");
  const { BatchExecutor } = await import("../src/entry/batch.js");
  executor = new BatchExecutor({ jobQueue: env.COMPAS_BATCH_QUEUE, jobDefinition: env.COMPAS_BATCH_JOB_DEFINITION });
} else if (sshHosts.length > 0) {
  output = env.COMPAS_EXAMPLE_S3 ?? env.COMPAS_EXAMPLE_OUT ?? "example-output/02-plan-cloud";
  const { SshExecutor } = await import("../src/entry/ssh.js");
  executor = new SshExecutor({ hosts: sshHosts, identityFile: env.COMPAS_SSH_IDENTITY });
}

if (executor && output) {
  const summary = await runEnsemble({ ...run, output, executor });
  console.log(`\nsubmitted ${summary.tasks.submitted} task(s) to ${executor.kind} (${summary.tasks.skipped} already done); follow with: npx compas-ensemble status ${output}`);
} else {
  console.log(
    `\nNot submitting: would send ${batch.tasks} tasks (${points.length} runs x ${nSystems} binaries in chunks of ${systemsPerTask}). ` +
      "Set COMPAS_BATCH_QUEUE, COMPAS_BATCH_JOB_DEFINITION and COMPAS_EXAMPLE_S3 for AWS Batch, or COMPAS_SSH_HOSTS for SSH hosts.",
  );
}
