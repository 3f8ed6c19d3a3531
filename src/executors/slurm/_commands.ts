import { spawn } from "node:child_process";
import { CompasEnsembleError } from "../../errors.js";

/** What a Slurm command printed and how it ended. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Options of {@link runSlurmCommand}. */
export interface CommandOptions {
  env: NodeJS.ProcessEnv;
  /** Written to the command's stdin (sbatch reads the script from there). */
  input?: string;
  /** Default 120 s: a busy slurmctld can be slow, a hung one must not block forever. */
  timeoutMs?: number;
}

/**
 * Runs a Slurm client command without a shell and returns its output whatever the exit
 * code; a missing command or a timeout throws SLURM.
 * @param command - sbatch, squeue, scontrol, scancel
 * @param args - argv words
 * @param options - environment, stdin, timeout
 */
export function runSlurmCommand(command: string, args: readonly string[], options: CommandOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 120_000);
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    // A command that exits before reading stdin must not crash us with EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
    child.on("error", (cause) => {
      clearTimeout(timer);
      const missing = (cause as NodeJS.ErrnoException).code === "ENOENT";
      reject(
        new CompasEnsembleError(
          "SLURM",
          missing ? `${command} is not on the PATH; the Slurm executor needs the Slurm client commands.` : `${command} could not be started: ${cause.message}.`,
          { cause, hint: missing ? "Run on a Slurm login node, or install the Slurm client (Debian: slurm-client)." : undefined },
        ),
      );
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const result = { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), code };
      if (timedOut) {
        reject(new CompasEnsembleError("SLURM", `${command} ${args[0] ?? ""} did not answer within ${Math.round((options.timeoutMs ?? 120_000) / 1000)} s; is slurmctld up?`));
        return;
      }
      resolve(result);
    });
  });
}

/**
 * Like {@link runSlurmCommand} but a non-zero exit throws SLURM with the command's last
 * error line.
 * @param command - Slurm command
 * @param args - argv words
 * @param options - environment, stdin, timeout
 */
export async function slurmOrThrow(command: string, args: readonly string[], options: CommandOptions): Promise<string> {
  const result = await runSlurmCommand(command, args, options);
  if (result.code !== 0) {
    throw new CompasEnsembleError("SLURM", `${command} failed (exit ${result.code}): ${lastLine(result.stderr) || lastLine(result.stdout) || "no message"}.`, {
      hint: "Check SLURM_CONF and that slurmctld is reachable (`sinfo`).",
    });
  }
  return result.stdout;
}

/** The last non-empty line of a command's output. */
export function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.trim() ?? "";
}

/**
 * MaxArraySize from `scontrol show config`: arrays may use indices 0..MaxArraySize-1.
 * @param env - environment of the Slurm commands
 */
export async function maxArraySize(env: NodeJS.ProcessEnv): Promise<number> {
  const text = await slurmOrThrow("scontrol", ["show", "config"], { env });
  const m = /^\s*MaxArraySize\s*=\s*(\d+)/m.exec(text);
  if (!m) {
    throw new CompasEnsembleError("SLURM", "`scontrol show config` printed no MaxArraySize.", {
      hint: "Give the executor's maxArraySize option (--max-array-size) explicitly.",
    });
  }
  return Number(m[1]);
}
