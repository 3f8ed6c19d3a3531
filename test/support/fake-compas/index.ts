import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Absolute path of the COMPAS stand-in executable (`test/support/fake-compas/COMPAS`), for
 * tests that need a COMPAS binary. See README.md beside it for its flags and FAKE_COMPAS_*
 * environment variables.
 */
export function fakeCompasPath(): string {
  return fileURLToPath(new URL("./COMPAS", import.meta.url));
}

/** Outcome of {@link runFakeCompas}. */
export interface FakeCompasRun {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the stand-in to completion and collects its output.
 * @param args - COMPAS command-line arguments
 * @param options - extra environment (merged over process.env) and working directory
 */
export function runFakeCompas(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<FakeCompasRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(fakeCompasPath(), args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
