import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runProcess } from "../../src/worker/process.js";

const node = process.execPath;
// Prints to both streams, more than one pipe buffer, so writes to the log go on after the first.
const SCRIPT = `for (let i = 0; i < 2000; i++) { process.stdout.write("out " + i + "\\n"); process.stderr.write("err " + i + "\\n"); }`;

describe("runProcess", () => {
  it("hands each complete line of stdout and of stderr to onLine, and appends both to the log", async () => {
    const dir = mkdtempSync(join(tmpdir(), "proc-lines-"));
    const lines = { stdout: [] as string[], stderr: [] as string[] };
    const outcome = await runProcess({
      command: node,
      args: ["-e", SCRIPT],
      cwd: dir,
      env: process.env,
      logPath: join(dir, "task.log"),
      onLine: (line, stream) => lines[stream].push(line),
    });
    expect(outcome.exitCode).toBe(0);
    expect(outcome.logError).toBeUndefined();
    expect(lines.stdout).toEqual(Array.from({ length: 2000 }, (_, i) => `out ${i}`));
    expect(lines.stderr).toEqual(Array.from({ length: 2000 }, (_, i) => `err ${i}`));
    expect(readFileSync(join(dir, "task.log"), "utf8").split("\n").filter(Boolean)).toHaveLength(4000);
  });

  it("survives a log it cannot write (a full disk: /dev/full), lets the process finish and reports why", async () => {
    const dir = mkdtempSync(join(tmpdir(), "proc-full-"));
    let stdoutLines = 0;
    const outcome = await runProcess({
      command: node,
      args: ["-e", SCRIPT],
      cwd: dir,
      env: process.env,
      logPath: "/dev/full",
      onLine: (_line, stream) => {
        if (stream === "stdout") stdoutLines++;
      },
    });
    expect(outcome.exitCode).toBe(0);
    expect((outcome.logError as NodeJS.ErrnoException | undefined)?.code).toBe("ENOSPC");
    expect(stdoutLines).toBe(2000);
    expect(outcome.stdoutTail).toMatch(/out 1999\n$/);
  });
});
