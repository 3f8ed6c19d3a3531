/**
 * Starting what the benchmarks time: one child process without a shell, its stderr kept for
 * the error when it fails, and the `xargs -P 2` baseline built on it.
 */
import { spawn } from "node:child_process";

/** Options of {@link exec}. */
export interface ExecOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to the child's stdin, which is closed afterwards; no stdin when absent. */
  stdin?: string;
  /** Exit codes that count as success. Default [0]. */
  okExitCodes?: readonly number[];
}

/**
 * Runs `command` with `args` (stdout discarded) and resolves with its exit code; rejects with
 * the end of its stderr when it exits with any other code or cannot start.
 * @param command - program to start
 * @param args - its argv, no shell in between
 * @param options - environment, folder, stdin and the exit codes that are fine
 */
export function exec(command: string, args: readonly string[], options: ExecOptions): Promise<number> {
  const ok = options.okExitCodes ?? [0];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: [options.stdin === undefined ? "ignore" : "pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-4000)));
    child.on("error", reject);
    child.on("close", (code) => (code !== null && ok.includes(code) ? resolve(code) : reject(new Error(`${command} ${args.join(" ")} exited ${code}:\n${stderr}`))));
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
  });
}

/**
 * The baseline: `xargs -P 2` starting `program` once per argv, arguments NUL-separated, each
 * command one group of `n` arguments, no shell in between. Each command runs under `setsid`,
 * as the library starts each COMPAS in a session of its own (src/worker/process.ts): with the
 * kernel's autogroup scheduling a session is a group that gets its own share of a busy CPU,
 * so without it the baseline would lose to the library on a loaded machine for that alone.
 * @param program - what xargs starts
 * @param argvs - one argv per command, all of the same length
 * @param env - environment of every command
 */
export async function xargsP2(program: string, argvs: readonly (readonly string[])[], env: NodeJS.ProcessEnv): Promise<void> {
  const stdin = argvs.map((argv) => argv.map((a) => a + "\0").join("")).join("");
  await exec("xargs", ["-0", "-P", "2", "-n", String(argvs[0]!.length), "setsid", program], { env, stdin });
}
