import { Command, CommanderError } from "commander";
import { attachCommand } from "./cli/attach.js";
import { estimateCommand } from "./cli/estimate.js";
import { extractCliCommand } from "./cli/extract.js";
import { commandCommand, gridCommand } from "./cli/grid.js";
import { inspectCliCommand } from "./cli/inspect.js";
import { mergeMetadataCommand } from "./cli/merge-metadata.js";
import { reportCliCommand } from "./cli/report.js";
import { demoCommand, runCommand } from "./cli/run.js";
import { statusCommand } from "./cli/status.js";
import { syncCliCommand } from "./cli/sync.js";
import { workerCommand } from "./cli/worker.js";
import { CompasEnsembleError } from "./errors.js";
import { LIBRARY_VERSION } from "./version.js";

const program = new Command("compas-ensemble")
  .description("Run COMPAS ensembles over physics grids and turn the outputs into SBI datasets.")
  .version(LIBRARY_VERSION)
  .option("--debug", "print stack traces for errors")
  .enablePositionalOptions();

/**
 * Commander's own usage errors (unknown option, missing value, invalid choice, missing
 * argument) become OPTIONS_INVALID errors, so they print like every other user error: one
 * `error:` line, a hint, exit 2. Help and version (exit code 0) pass through untouched.
 * @param cmd - the program or one of its commands (settings are not inherited by addCommand)
 * @param usage - how the user calls it, for the hint
 */
function reportUsageErrors(cmd: Command, usage: string): void {
  cmd.configureOutput({ outputError: () => {} });
  cmd.exitOverride((err) => {
    if (err.exitCode === 0) throw err;
    if (err.code === "commander.help") {
      // No command given: commander has just printed the list of commands on stderr.
      throw new CompasEnsembleError("OPTIONS_INVALID", `${usage} needs a command; the commands are listed above.`, {
        cause: err,
        hint: `Run \`${usage} <command> --help\` for the options of one.`,
      });
    }
    const [first = "", ...rest] = err.message.replace(/^error: /, "").split("\n");
    // Commander adds "(Did you mean --n-systems?)" on its own line for a near miss.
    const suggestion = rest.join(" ").trim().replace(/^\((.*)\)$/, "$1");
    const what = cmd.parent === null ? "the commands and options" : "its options";
    throw new CompasEnsembleError("OPTIONS_INVALID", `${usage}: ${first}${/[.!?]$/.test(first) ? "" : "."}`, {
      cause: err,
      hint: `${suggestion ? `${suggestion} ` : ""}Run \`${usage} --help\` for ${what}.`,
    });
  });
}

reportUsageErrors(program, "compas-ensemble");
for (const cmd of [
  gridCommand(),
  commandCommand(),
  estimateCommand(),
  runCommand(),
  statusCommand(),
  attachCommand("wait"),
  attachCommand("cancel"),
  mergeMetadataCommand(),
  extractCliCommand(),
  inspectCliCommand(),
  syncCliCommand(),
  reportCliCommand(),
  workerCommand(),
  demoCommand(),
]) {
  reportUsageErrors(cmd, `compas-ensemble ${cmd.name()}`);
  program.addCommand(cmd);
}

// Output is a courtesy and the manifest is the record: a reader that goes away (`run | head`,
// a closed terminal) or a full disk under a redirected log must never kill a running ensemble
// through an unhandled 'error' event. Only stdout lost for another reason than a closed pipe
// fails the command, since stdout is what commands like `grid --json > file` produce.
let stdoutLost = false;
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE" || stdoutLost) return;
  stdoutLost = true;
  process.stderr.write(`error: could not write to standard output (${err.message}), so what it holds is incomplete.\n`);
});
process.stderr.on("error", () => {});
process.on("exit", () => {
  if (stdoutLost && !process.exitCode) process.exitCode = 1;
});

const debug = process.argv.includes("--debug");
program.parseAsync(process.argv.filter((a) => a !== "--debug")).catch((err: unknown) => {
  // --help and --version: commander has printed them.
  if (err instanceof CommanderError && err.exitCode === 0) return;
  // User errors get one sentence and a hint; a stack trace only on request.
  if (err instanceof CompasEnsembleError) {
    process.stderr.write(`error: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    if (debug) process.stderr.write(`${err.stack ?? ""}\n${err.cause ? `cause: ${String((err.cause as Error).stack ?? err.cause)}\n` : ""}`);
    process.exitCode = err.isUserError ? 2 : 1;
    return;
  }
  process.stderr.write(`error: ${(err as Error).message ?? String(err)}\n`);
  if (debug) process.stderr.write(`${(err as Error).stack ?? ""}\n`);
  else process.stderr.write("hint: rerun with --debug for details, and report it if it looks like a bug.\n");
  process.exitCode = 1;
});
