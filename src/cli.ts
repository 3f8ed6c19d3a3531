import { Command } from "commander";
import {
  attachCommand,
  commandCommand,
  demoCommand,
  gridCommand,
  mergeMetadataCommand,
  runCommand,
  statusCommand,
} from "./cli/commands.js";
import { extractCliCommand, inspectCliCommand, syncCliCommand } from "./cli/data.js";
import { planCommand } from "./cli/plan.js";
import { reportCliCommand } from "./cli/report.js";
import { workerCommand } from "./cli/worker.js";
import { CompasEnsembleError } from "./errors.js";
import { LIBRARY_VERSION } from "./version.js";

const program = new Command("compas-ensemble")
  .description("Run COMPAS ensembles over physics grids and turn the outputs into SBI datasets.")
  .version(LIBRARY_VERSION)
  .option("--debug", "print stack traces for errors")
  .enablePositionalOptions();

for (const cmd of [
  gridCommand(),
  commandCommand(),
  planCommand(),
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
  program.addCommand(cmd);
}

const debug = process.argv.includes("--debug");
program.parseAsync(process.argv.filter((a) => a !== "--debug")).catch((err: unknown) => {
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
