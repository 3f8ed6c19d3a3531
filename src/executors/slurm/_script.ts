import { CompasEnsembleError } from "../../errors.js";
import { quoteArg } from "../../util/shell-quote.js";

/** What the batch script of one array runs. */
export interface BatchScriptInput {
  /** Worker command, e.g. ["compas-ensemble"] or [node, "--import", "tsx", "/repo/src/cli.ts"]. */
  workerCommand: readonly string[];
  /** Store URI as the compute nodes see it (a shared directory or s3://). */
  store: string;
  /** Index list that maps SLURM_ARRAY_TASK_ID to task ids. */
  indexList: string;
  /** Further worker flags (already split into words). */
  workerArgs: readonly string[];
  /** Reruns of the worker in the same job after a retryable failure (exit 75). */
  retries: number;
  /** Comment lines (generated names only). */
  comment: readonly string[];
}

/** Exit code of `compas-ensemble worker` for a failure that may pass on another try. */
const RETRYABLE_EXIT = 75;

/**
 * The batch script of one array job. Every embedded value is single-quoted; the only
 * unquoted expansion is Slurm's own SLURM_ARRAY_TASK_ID, inside double quotes.
 * @param input - worker command, store, index list and retries
 */
export function batchScript(input: BatchScriptInput): string {
  if (!Number.isInteger(input.retries) || input.retries < 0) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `Slurm retries ${input.retries} is not a whole number >= 0.`);
  }
  for (const line of input.comment) {
    // Comments hold generated names only; anything else could break out of the comment.
    if (!/^[\w .,:;()/=-]*$/.test(line)) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `A Slurm batch script comment line holds characters other than letters, digits and punctuation: ${JSON.stringify(line)}.`);
    }
  }
  const words = [
    ...input.workerCommand,
    "worker",
    "--plan",
    input.store,
    "--index-list",
    input.indexList,
    ...input.workerArgs,
  ].map(quoteArg);
  const command = `${words.join(" ")} --index "$SLURM_ARRAY_TASK_ID"`;
  return [
    "#!/bin/sh",
    ...input.comment.map((c) => `# ${c}`),
    "# Options come from sbatch's command line, not from #SBATCH lines.",
    `retries=${input.retries}`,
    "try=0",
    "while :; do",
    `  ${command}`,
    "  rc=$?",
    `  # ${RETRYABLE_EXIT}: a retryable failure (crash, timeout) that the worker has recorded; try again.`,
    `  if [ "$rc" -ne ${RETRYABLE_EXIT} ] || [ "$try" -ge "$retries" ]; then exit "$rc"; fi`,
    "  try=$((try + 1))",
    "done",
    "",
  ].join("\n");
}
