import { CompasEnsembleError } from "../errors.js";

/**
 * Quotes one argument for a POSIX shell: the whole string in single quotes, each single
 * quote written as `'\''`. Inside single quotes a POSIX shell interprets nothing (no `$`,
 * backquote, backslash, glob or newline handling), so the result is always one literal word.
 * A NUL byte cannot be passed in an argument at all and is refused. The one shell quoting of
 * this package: SSH commands and Slurm batch scripts both use it.
 * @param arg - any string
 */
export function quoteArg(arg: string): string {
  if (arg.includes("\0")) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `An argument of a remote command or Slurm job contains a NUL byte, which no shell can pass on: ${JSON.stringify(arg.slice(0, 40))}.`, {
      hint: "Remove the NUL byte from the value.",
    });
  }
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * Builds a remote command line from an argv array, every element quoted with
 * {@link quoteArg}; the only way this package builds commands for SSH hosts.
 * @param argv - program and arguments, none of them interpreted by the remote shell
 */
export function shellQuote(argv: readonly string[]): string {
  if (argv.length === 0) throw new CompasEnsembleError("OPTIONS_INVALID", "A remote command needs at least a program name.");
  return argv.map(quoteArg).join(" ");
}
