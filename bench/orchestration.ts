/**
 * Benchmark: orchestration overhead of runEnsemble on the local executor. The 1,440-point
 * full grid with a COMPAS stand-in that exits at once (FAKE_COMPAS_EXIT_AT_ONCE), at
 * concurrency 2, against `xargs -P 2` starting the same processes with the same arguments.
 * Both sides pay the same process start-ups; the ratio is what the library adds (scratch
 * folders, completion checks, logs, fragments, manifest). Goal: ratio <= 1.3.
 *
 *   npx tsx bench/orchestration.ts [--points 1440]
 *
 * The stand-in writes no output, so every task is recorded as failed (OUTPUT_INCOMPLETE)
 * with retries off: the bench measures the full path of a task, fragment included.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { withOutput } from "../src/compas/argv.js";
import { runEnsemble } from "../src/ensemble/run.js";
import { LocalExecutor } from "../src/executors/local/executor.js";
import { expandGrid, fullGrid } from "../src/grid/index.js";
import { buildPlan } from "../src/plan/build.js";
import { probeCompas } from "../src/compas/probe.js";

const STAND_IN = fileURLToPath(new URL("../test/support/fake-compas/COMPAS", import.meta.url));

/** Measured numbers of one run. */
export interface OrchestrationBenchResult {
  tasks: number;
  xargsS: number;
  libraryS: number;
  /** libraryS / xargsS (goal <= 1.3). */
  ratio: number;
}

async function xargs(argvs: string[][], env: NodeJS.ProcessEnv): Promise<number> {
  // NUL-separated arguments, one command per line group: xargs runs `COMPAS <args...>` for
  // each, two at a time, with no shell in between.
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const child = spawn("xargs", ["-0", "-P", "2", "-n", String(argvs[0]!.length), STAND_IN], { env, stdio: ["pipe", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`xargs exited ${code}`))));
    for (const argv of argvs) child.stdin.write(argv.map((a) => a + "\0").join(""));
    child.stdin.end();
  });
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/**
 * Runs both sides once and prints them side by side.
 * @param options - number of grid points (default the full 1,440)
 */
export async function main(options: { points?: number } = {}): Promise<OrchestrationBenchResult> {
  const points = expandGrid(fullGrid()).slice(0, options.points ?? 1440);
  const env = { ...process.env, FAKE_COMPAS_EXIT_AT_ONCE: "1" };
  const probe = await probeCompas(STAND_IN);
  const plan = buildPlan({ points, nSystems: 100, compas: probe });
  const work = mkdtempSync(join(tmpdir(), "bench-orch-"));
  try {
    const argvs = plan.tasks.map((t) => withOutput(t.args, join(work, "xargs", t.task_id)));
    const xargsS = await xargs(argvs, env);

    const started = process.hrtime.bigint();
    const summary = await runEnsemble({
      points,
      nSystems: 100,
      compasBinary: STAND_IN,
      output: join(work, "library"),
      executor: new LocalExecutor({ concurrency: 2, retries: 0, env }),
    });
    const libraryS = Number(process.hrtime.bigint() - started) / 1e9;
    const result = { tasks: summary.tasks.total, xargsS, libraryS, ratio: libraryS / xargsS };
    console.log(`orchestration: ${result.tasks} tasks at concurrency 2`);
    console.log(`  xargs -P 2 (baseline)   ${xargsS.toFixed(2)} s   ${((1000 * xargsS) / result.tasks).toFixed(1)} ms/task`);
    console.log(`  runEnsemble local       ${libraryS.toFixed(2)} s   ${((1000 * libraryS) / result.tasks).toFixed(1)} ms/task`);
    console.log(`  ratio ${result.ratio.toFixed(2)} (goal <= 1.3)`);
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf("--points");
  await main(i > 0 ? { points: Number(process.argv[i + 1]) } : {});
}
