import { Command } from "commander";
import { CompasEnsembleError } from "../errors.js";
import { wholeNumber } from "./_grid-options.js";

/** `compas-ensemble worker`: runs one task of a plan; used by every executor. */
export function workerCommand(): Command {
  return new Command("worker")
    .description("run one task of a planned ensemble (what executors start on each machine)")
    .requiredOption("--plan <uri>", "ensemble directory or s3://bucket/prefix holding plan.json")
    .option("--task <id>", "task id")
    .option("--index <n>", "array index (default: AWS_BATCH_JOB_ARRAY_INDEX or SLURM_ARRAY_TASK_ID)")
    .option("--index-list <name>", "index list stored with the plan that maps indices to task ids")
    .option("--compas-binary <path>", "COMPAS on this machine (default: the plan's path)")
    .option("--scratch <dir>", "scratch folder (default: the system temp folder)")
    .option("--task-timeout <seconds>", "kill COMPAS after this long")
    .action(async (flags: { plan: string; task?: string; index?: string; indexList?: string; compasBinary?: string; scratch?: string; taskTimeout?: string }) => {
      const envIndex = process.env.AWS_BATCH_JOB_ARRAY_INDEX ?? process.env.SLURM_ARRAY_TASK_ID;
      const indexText = flags.index ?? (flags.task === undefined ? envIndex : undefined);
      if (flags.task !== undefined && flags.index !== undefined) {
        throw new CompasEnsembleError("OPTIONS_INVALID", "Give either --task or --index, not both.");
      }
      const controller = new AbortController();
      process.once("SIGTERM", () => controller.abort());
      process.once("SIGINT", () => controller.abort());
      const { runWorker } = await import("../worker/main.js");
      const result = await runWorker({
        plan: flags.plan,
        taskId: flags.task,
        index: indexText === undefined ? undefined : wholeNumber(indexText, "--index", 0),
        indexList: flags.indexList,
        binary: flags.compasBinary,
        scratchRoot: flags.scratch,
        timeoutMs: flags.taskTimeout ? wholeNumber(flags.taskTimeout, "--task-timeout", 1) * 1000 : undefined,
        signal: controller.signal,
      });
      const detail =
        result.result && result.result.status !== "cancelled" && result.result.fragment.error
          ? `: ${result.result.fragment.error.code}: ${result.result.fragment.error.message}`
          : "";
      process.stderr.write(`worker: task ${result.taskId} ${result.outcome}${detail}\n`);
      process.exitCode = result.exitCode;
    });
}
