/**
 * The live view of `run` and `status --watch`: in place on a real terminal (the built CLI run
 * under a pseudo-terminal by util-linux's `script`), plain lines through a pipe.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { formatLiveLine, liveReporter } from "../../src/cli/_live.js";
import { runEnsemble, type EnsembleEvent } from "../../src/ensemble/run.js";
import { liveScratchProcesses } from "../../src/worker/process.js";
import { LocalExecutor } from "../../src/executors/local/executor.js";
import { cliCommand } from "../support/cli.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { waitFor } from "../support/processes.js";
import { partialEnsemble, sparsePoints, tempDir } from "../report/_ensembles.js";

const ESC = "\x1b[";

function capture(): Writable & { text: () => string } {
  let text = "";
  const w = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  }) as Writable & { text: () => string };
  w.text = () => text;
  return w;
}

/** Runs a shell-free argv under a pseudo-terminal with `script`; returns the typescript file. */
function underTerminal(argv: string[], typescript: string, env: NodeJS.ProcessEnv = process.env) {
  // script takes one command string; every argument is quoted for the shell script starts.
  const command = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  return spawn("script", ["-qfec", command, typescript], { env: { ...env, COLUMNS: "200" }, stdio: ["ignore", "ignore", "pipe"] });
}

function exitOf(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve) => child.on("close", (code) => resolve(code)));
}

describe("formatLiveLine", () => {
  it("says done, running, failed, queued, elapsed and ETA, and counts running with queued when it cannot tell", () => {
    expect(formatLiveLine({ total: 40, done: 12, running: 2, failed: 1, queued: 25, elapsedS: 62, etaS: 190 })).toBe(
      "[12/40] runs done · 2 running · 1 failed · 25 queued · elapsed 1m02s · ETA 3m10s",
    );
    expect(formatLiveLine({ total: 3, done: 1, running: null, failed: 0, queued: 2, elapsedS: 5, etaS: null })).toBe(
      "[1/3] runs done · 0 failed · 2 queued or running · elapsed 5s · ETA unknown",
    );
    expect(formatLiveLine({ total: 3, done: 2, running: 0, failed: 1, queued: 0, elapsedS: 5, etaS: 0 })).toBe(
      "[2/3] runs done · 0 running · 1 failed · 0 queued · elapsed 5s",
    );
  });
});

describe("live view of run", () => {
  it("says a task started only once its COMPAS process exists, and ends with every run done", async () => {
    const out = tempDir("live-started");
    const stream = capture();
    const live = liveReporter(stream, { tty: false });
    const startedWithProcess: boolean[] = [];
    await runEnsemble({
      points: sparsePoints(3),
      nSystems: 10,
      compasBinary: fakeCompasPath(),
      output: out,
      executor: new LocalExecutor({ concurrency: 1, retries: 0 }),
      onEvent: (e: EnsembleEvent) => {
        if (e.type === "task-started") {
          // The pid file is written when COMPAS spawns; a queued task has none.
          const live = liveScratchProcesses(join(out, ".scratch")).map((p) => p.dir);
          startedWithProcess.push(live.some((d) => d.startsWith(`${e.taskId}.a1.`)));
        }
        live(e);
      },
    });
    live.end();
    const lines = stream.text().split("\n");
    expect(startedWithProcess).toEqual([true, true, true]);
    expect(lines.filter((l) => l.startsWith("started ")).length).toBe(3);
    expect(stream.text()).not.toContain(ESC);
    expect(lines.filter((l) => l.startsWith("[")).at(-1)).toMatch(/^\[3\/3\] runs done · 0 running · 0 failed · 0 queued · elapsed \S+$/);
  }, 300_000);

  it("redraws one line in place on a terminal and ends with the next steps", async () => {
    const out = tempDir("live-tty");
    const typescript = join(tempDir("live-tty-ts"), "typescript");
    const child = underTerminal(
      [...cliCommand(), "run", "--sparse", "--test-run", "--n-systems", "10", "--output-dir", out, "--compas-binary", fakeCompasPath(), "--concurrency", "2"],
      typescript,
    );
    expect(await exitOf(child)).toBe(0);
    const text = readFileSync(typescript, "utf8");
    expect(text).toContain(`\r${ESC}K[0/3] runs done`);
    expect(text).toContain(`\r${ESC}K[3/3] runs done · 0 running · 0 failed · 0 queued`);
    expect(text).toContain(`next: compas-ensemble extract ${out} --out`);
    expect(text).toContain(`compas-ensemble report ${out} --out`);
  }, 300_000);

  it("writes plain lines with the same content through a pipe", () => {
    const out = tempDir("live-pipe");
    const r = spawnSync(cliCommand()[0]!, [...cliCommand().slice(1), "run", "--sparse", "--test-run", "--n-systems", "10", "--output-dir", out, "--compas-binary", fakeCompasPath(), "--concurrency", "2"], {
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain(ESC);
    expect(r.stderr).not.toContain("\r");
    const views = r.stderr.split("\n").filter((l) => l.startsWith("["));
    expect(views[0]).toMatch(/^\[0\/3\] runs done · 0 running · 0 failed · 3 queued · elapsed \S+ · ETA unknown$/);
    expect(views.at(-1)).toMatch(/^\[3\/3\] runs done · 0 running · 0 failed · 0 queued · elapsed \S+$/);
    const done = views.map((l) => Number(/^\[(\d+)\//.exec(l)![1]));
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(r.stderr).toContain(`next: compas-ensemble extract ${out} --out`);
  }, 300_000);
});

describe("status --watch", () => {
  it("follows an ensemble from its store on a terminal until it ends, then names the next steps", async () => {
    const out = tempDir("watch");
    await partialEnsemble(out, 3, 1);
    const typescript = join(tempDir("watch-ts"), "typescript");
    const child = underTerminal([...cliCommand(), "status", out, "--watch", "0.2"], typescript);
    const exited = exitOf(child);
    await waitFor(() => existsSync(typescript) && readFileSync(typescript, "utf8").includes("[1/3] runs done"), "the watch to show 1 of 3 runs done", 120_000);
    // Finish the ensemble from another process's point of view: the watch reads only the store.
    await runEnsemble({ points: sparsePoints(3), nSystems: 20, compasBinary: fakeCompasPath(), output: out, executor: new LocalExecutor({ concurrency: 2 }) });
    expect(await exited).toBe(0);
    const text = readFileSync(typescript, "utf8");
    expect(text).toContain(`\r${ESC}K[1/3] runs done · 0 failed · 2 queued or running`);
    expect(text).toMatch(/\[3\/3\] runs done · 0 failed · 0 queued or running · elapsed \S+\r?\n/);
    expect(text).toContain(`next: compas-ensemble extract ${out} --out`);
  }, 600_000);

  it("stops on Ctrl-C (SIGINT) with exit code 0, leaving the last line", async () => {
    const out = tempDir("watch-int");
    await partialEnsemble(out, 2, 1);
    const [node, ...args] = cliCommand();
    const child = spawn(node!, [...args, "status", out, "--watch", "0.2"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    const exited = exitOf(child);
    await waitFor(() => stdout.includes("[1/2] runs done"), "the first view line", 120_000);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/^\[1\/2\] runs done · 0 failed · 1 queued or running · elapsed \S+ · ETA \S+\n/);
  }, 300_000);

  it("refuses a --watch that is not a positive number of seconds with one sentence and exit 2", () => {
    const [node, ...args] = cliCommand();
    const r = spawnSync(node!, [...args, "status", tempDir("watch-bad"), "--watch", "soon"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: --watch "soon" is not a positive number of seconds\.\nhint: /);
  });
});
