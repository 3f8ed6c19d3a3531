/**
 * Benchmark: orchestration overhead of runEnsemble on the local executor. The 1,440-point
 * full grid at concurrency 2, against `xargs -P 2` starting the same COMPAS stand-in commands
 * with the same arguments and environment. Both sides pay the same process start-ups (the
 * stand-in is itself a node process); the ratio is what the library adds. Two paths:
 *
 *   - success (goal <= 1.1): the stand-in writes a real small output (`--n-systems` binaries,
 *     default 10), so each task pays what a real one does: scratch folder, log, completion
 *     check, storing and hashing the output, the fragment and the manifest checkpoint;
 *   - failure (goal <= 1.3): the stand-in exits at once without output
 *     (FAKE_COMPAS_EXIT_AT_ONCE), so each task is recorded as failed (OUTPUT_INCOMPLETE,
 *     retries off): the full path of a failed task, fragment included.
 *
 *   npx tsx bench/orchestration.ts [--path success|failure|both] [--points 1440] [--reps 1]
 *
 * The sides take turns `reps` times; best of each is compared.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { withOutput } from "../src/compas/argv.js";
import { probeCompas } from "../src/compas/probe.js";
import { runEnsemble } from "../src/ensemble/run.js";
import { LocalExecutor } from "../src/executors/local/executor.js";
import { expandGrid, fullGrid } from "../src/grid/index.js";
import { buildPlan } from "../src/plan/build.js";
import { argValue } from "./_bundle.js";
import { loadAverage, row, takeTurns, type Timings } from "./_side-by-side.js";

const STAND_IN = fileURLToPath(new URL("../test/support/fake-compas/COMPAS", import.meta.url));

/** Which path every task takes. */
export type OrchestrationPath = "success" | "failure";
/** Goals of the library/xargs ratio, per path. */
export const ORCHESTRATION_GOALS: Record<OrchestrationPath, number> = { success: 1.1, failure: 1.3 };

/** Options of {@link main}. */
export interface OrchestrationBenchOptions {
  path?: OrchestrationPath;
  /** Grid points (tasks), the first of the full grid. Default 1440. */
  points?: number;
  /** Binaries per task on the success path. Default 10. */
  nSystems?: number;
  /** Turns per side; the best is compared. Default 1 (a turn of 1,440 tasks takes minutes). */
  reps?: number;
}

/** Measured numbers of one run. */
export interface OrchestrationBenchResult {
  path: OrchestrationPath;
  tasks: number;
  xargs: Timings;
  library: Timings;
  /** Best of the library / best of xargs. */
  ratio: number;
  goal: number;
  loadAverage: string;
}

/**
 * `xargs -P 2` starting the stand-in once per argv: arguments NUL-separated, each command
 * one group of `n` arguments, no shell in between. Each command runs under `setsid`, as the
 * library starts each COMPAS in a session of its own (src/executors/_process.ts): with the
 * kernel's autogroup scheduling a session is a group that gets its own share of a busy CPU,
 * so without it the baseline would lose to the library on a loaded machine for that alone.
 */
async function xargs(argvs: string[][], env: NodeJS.ProcessEnv): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn("xargs", ["-0", "-P", "2", "-n", String(argvs[0]!.length), "setsid", STAND_IN], { env, stdio: ["pipe", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`xargs exited ${code}`))));
    for (const argv of argvs) child.stdin.write(argv.map((a) => a + "\0").join(""));
    child.stdin.end();
  });
}

/**
 * Runs both sides, taking turns, and prints them side by side.
 * @param options - see {@link OrchestrationBenchOptions}
 */
export async function main(options: OrchestrationBenchOptions = {}): Promise<OrchestrationBenchResult> {
  const path = options.path ?? "success";
  const points = expandGrid(fullGrid()).slice(0, options.points ?? 1440);
  const nSystems = path === "success" ? (options.nSystems ?? 10) : 100;
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (path === "failure") env.FAKE_COMPAS_EXIT_AT_ONCE = "1";
  // The same commands the library runs, output folders aside.
  const plan = buildPlan({ points, nSystems, compas: await probeCompas(STAND_IN) });
  const work = mkdtempSync(join(tmpdir(), "bench-orch-"));
  let turn = 0;
  try {
    const t = await takeTurns(options.reps ?? 1, {
      xargs: async () => {
        const dir = join(work, `xargs-${turn}`);
        await xargs(
          plan.tasks.map((task) => withOutput(task.args, join(dir, task.task_id))),
          env,
        );
        if (path === "success") {
          const missing = plan.tasks.filter((task) => !existsSync(join(dir, task.task_id, "COMPAS_Output", "COMPAS_Output.h5")));
          if (missing.length > 0) throw new Error(`xargs: ${missing.length} task(s) wrote no output; the comparison would be unfair`);
        }
      },
      library: async () => {
        const summary = await runEnsemble({
          points,
          nSystems,
          compasBinary: STAND_IN,
          output: join(work, `library-${turn++}`),
          executor: new LocalExecutor({ concurrency: 2, retries: 0, env }),
        });
        const wanted = path === "success" ? summary.runs.total : 0;
        if (summary.runs.succeeded !== wanted) {
          throw new Error(`runEnsemble: ${summary.runs.succeeded} of ${summary.runs.total} runs succeeded on the ${path} path, expected ${wanted}`);
        }
      },
    });
    const goal = ORCHESTRATION_GOALS[path];
    const load = loadAverage();
    console.log(`orchestration, ${path} path: ${plan.tasks.length} tasks at concurrency 2, best of ${options.reps ?? 1} (load average ${load})`);
    const perTask = (x: Timings): string => `${((1000 * x.best) / plan.tasks.length).toFixed(1)} ms/task`;
    console.log(`${row("xargs -P 2", t.xargs)}  ${perTask(t.xargs)}`);
    console.log(`${row("runEnsemble, local executor", t.library, { baseline: t.xargs, goal })}  ${perTask(t.library)}`);
    return { path, tasks: plan.tasks.length, ...t, ratio: t.library.best / t.xargs.best, goal, loadAverage: load };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const which = argValue(process.argv, "--path") ?? "both";
  const common = {
    ...(argValue(process.argv, "--points") ? { points: Number(argValue(process.argv, "--points")) } : {}),
    ...(argValue(process.argv, "--reps") ? { reps: Number(argValue(process.argv, "--reps")) } : {}),
    ...(argValue(process.argv, "--n-systems") ? { nSystems: Number(argValue(process.argv, "--n-systems")) } : {}),
  };
  for (const path of ["success", "failure"] as const) {
    if (which === path || which === "both") await main({ ...common, path });
  }
}
