import { Command, CommanderError } from "commander";
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

/**
 * Every command, by the names that call it, and the module that builds it. WHY a table and
 * dynamic imports: a process loads only the command it runs (its flags' modules and what
 * they import: zod schemas, grid presets, executor options), so `--version`, `grid` and
 * `command` start at little more than Node's own cost. `--help`, `help` and a mistyped
 * name load them all, to list them or suggest one.
 */
const COMMANDS: readonly { names: readonly string[]; load: () => Promise<Command> }[] = [
  { names: ["grid"], load: async () => (await import("./cli/grid.js")).gridCommand() },
  { names: ["command"], load: async () => (await import("./cli/grid.js")).commandCommand() },
  { names: ["estimate", "plan"], load: async () => (await import("./cli/estimate.js")).estimateCommand() },
  { names: ["run"], load: async () => (await import("./cli/run.js")).runCommand() },
  { names: ["status"], load: async () => (await import("./cli/status.js")).statusCommand() },
  { names: ["wait"], load: async () => (await import("./cli/attach.js")).attachCommand("wait") },
  { names: ["cancel"], load: async () => (await import("./cli/attach.js")).attachCommand("cancel") },
  { names: ["merge-metadata"], load: async () => (await import("./cli/merge-metadata.js")).mergeMetadataCommand() },
  { names: ["extract"], load: async () => (await import("./cli/extract.js")).extractCliCommand() },
  { names: ["inspect"], load: async () => (await import("./cli/inspect.js")).inspectCliCommand() },
  { names: ["sync"], load: async () => (await import("./cli/sync.js")).syncCliCommand() },
  { names: ["report"], load: async () => (await import("./cli/report.js")).reportCliCommand() },
  { names: ["worker"], load: async () => (await import("./cli/worker.js")).workerCommand() },
  { names: ["doctor"], load: async () => (await import("./cli/doctor.js")).doctorCommand() },
  { names: ["hosts"], load: async () => (await import("./cli/hosts.js")).hostsCommand() },
  { names: ["demo"], load: async () => (await import("./cli/run.js")).demoCommand() },
];

/**
 * The commands this command line needs: the one it names (program options such as --debug
 * come before it, since options are positional), none for a bare `--version`, else all.
 * @param args - the arguments after `node cli.js`
 */
function commandsFor(args: readonly string[]): readonly (typeof COMMANDS)[number][] {
  const name = args.find((a) => !a.startsWith("-"));
  if (name === undefined) {
    const versionOnly = args.some((a) => a === "-V" || a === "--version") && !args.some((a) => a === "-h" || a === "--help");
    return versionOnly ? [] : COMMANDS;
  }
  const named = COMMANDS.filter((c) => c.names.includes(name));
  return named.length > 0 ? named : COMMANDS;
}

async function registerCommands(args: readonly string[]): Promise<void> {
  reportUsageErrors(program, "compas-ensemble");
  for (const entry of commandsFor(args)) {
    const cmd = await entry.load();
    // The table and the command files must agree, or a command would be unreachable by name.
    if (![cmd.name(), ...cmd.aliases()].every((n) => entry.names.includes(n))) {
      throw new CompasEnsembleError("INTERNAL", `The CLI's command table names ${entry.names.join("/")} but its module builds ${cmd.name()}.`, {
        hint: "This is a bug in compas-ensemble; please report it.",
      });
    }
    reportUsageErrors(cmd, `compas-ensemble ${cmd.name()}`);
    for (const sub of cmd.commands) reportUsageErrors(sub, `compas-ensemble ${cmd.name()} ${sub.name()}`);
    program.addCommand(cmd);
  }
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
const argv = process.argv.filter((a) => a !== "--debug");
registerCommands(argv.slice(2))
  .then(() => program.parseAsync(argv))
  .catch((err: unknown) => {
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
