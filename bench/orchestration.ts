/**
 * Benchmark: orchestration overhead of `compas-ensemble run` on the local executor. The
 * 1,440-point full grid at concurrency 2, run by the built CLI as a user starts it, against
 * `xargs -P 2` starting the same COMPAS stand-in commands with the same arguments and
 * environment (checked against the plan the CLI wrote). Both sides pay the same process
 * start-ups (the stand-in is itself a node process); the ratio is what the tool adds. Two paths:
 *
 *   - success (goal <= 1.1): the stand-in writes a real small output (`--n-systems` binaries,
 *     default 10), so each task pays what a real one does: scratch folder, log, completion
 *     check, storing and hashing the output, the fragment and the manifest checkpoint;
 *   - failure (goal <= 1.3): the stand-in exits at once without output
 *     (FAKE_COMPAS_EXIT_AT_ONCE), so each task is recorded as failed (OUTPUT_INCOMPLETE,
 *     retries off): the full path of a failed task, fragment included.
 *
 *   npx tsx bench/orchestration.ts [--path success|failure|both] [--points 1440] [--reps 1]
 *                                  [--before /path/to/older/dist/cli.js]
 *
 * With --before, an older build runs the same grid as a third side (before/after in one run).
 *
 * The sides take turns `reps` times; best of each is compared. The library side is the built
 * CLI, not runEnsemble called under tsx: tsx's loader makes this process several hundred MB
 * larger, and every fork of a larger process costs more, which is not what a user pays.
 * dist is built first if it is missing or older than src (scripts/built-cli.mjs).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { withOutput } from "../src/compas/argv.js";
import { ensureBuilt } from "../scripts/built-cli.mjs";
import { probeCompas } from "../src/compas/probe.js";
import { expandGrid, fullGrid } from "../src/grid/index.js";
import { ManifestSchema } from "../src/manifest/schema.js";
import { buildPlan } from "../src/plan/build.js";
import { PlanSchema } from "../src/plan/schema.js";
import { argValue } from "./_bundle.js";
import { exec, xargsP2 } from "./_exec.js";
import { loadAverage, row, takeTurns, type Timings } from "./_side-by-side.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const STAND_IN = join(REPO, "test", "support", "fake-compas", "COMPAS");

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
  /** An older build's dist/cli.js, run as a third side. */
  before?: string;
}

/** Measured numbers of one run. */
export interface OrchestrationBenchResult {
  path: OrchestrationPath;
  tasks: number;
  xargs: Timings;
  library: Timings;
  /** The older build, when one was given. */
  before?: Timings;
  /** Best of the library / best of xargs. */
  ratio: number;
  goal: number;
  loadAverage: string;
}

/**
 * The built CLI running the first `points` tasks of the full grid at concurrency 2 without
 * retries; exit code 1 (runs failed) is expected on the failure path.
 */
async function cli(cliJs: string, points: number, nSystems: number, dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const args = [cliJs, "run", "--full", "--end-index", String(points), "--n-systems", String(nSystems)];
  args.push("--concurrency", "2", "--retries", "0", "--compas-binary", STAND_IN, "--output-dir", dir);
  await exec(process.execPath, args, { env, okExitCodes: [0, 1] });
}

/**
 * Runs both sides, taking turns, and prints them side by side.
 * @param options - see {@link OrchestrationBenchOptions}
 */
export async function main(options: OrchestrationBenchOptions = {}): Promise<OrchestrationBenchResult> {
  ensureBuilt();
  const path = options.path ?? "success";
  const points = expandGrid(fullGrid()).slice(0, options.points ?? 1440);
  const nSystems = path === "success" ? (options.nSystems ?? 10) : 100;
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (path === "failure") env.FAKE_COMPAS_EXIT_AT_ONCE = "1";
  // The same commands the CLI runs, output folders aside (checked after each CLI turn).
  const plan = buildPlan({ points, nSystems, compas: await probeCompas(STAND_IN) });
  const work = mkdtempSync(join(tmpdir(), "bench-orch-"));
  let turn = 0;
  // One turn of a CLI side: the run, then the checks that keep the comparison fair.
  const runCli = async (cliJs: string, name: string): Promise<void> => {
    const dir = join(work, name);
    await cli(cliJs, points.length, nSystems, dir, env);
    const theirs = PlanSchema.parse(JSON.parse(readFileSync(join(dir, "plan.json"), "utf8")));
    const same = theirs.tasks.length === plan.tasks.length && theirs.tasks.every((task, i) => JSON.stringify(task.args) === JSON.stringify(plan.tasks[i]!.args));
    if (!same) throw new Error(`${cliJs} planned other COMPAS commands than xargs runs; the comparison would be unfair`);
    const runs = ManifestSchema.parse(JSON.parse(readFileSync(join(dir, "ensemble_metadata.json"), "utf8"))).runs;
    const wanted = path === "success" ? runs.length : 0;
    const succeeded = runs.filter((r) => r.status === "success").length;
    if (runs.length !== plan.runs.length || succeeded !== wanted) {
      throw new Error(`${cliJs} run: ${succeeded} of ${runs.length} runs succeeded on the ${path} path, expected ${wanted} of ${plan.runs.length}`);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const t = (await takeTurns<string>(options.reps ?? 1, {
      xargs: async () => {
        const dir = join(work, `xargs-${turn}`);
        await xargsP2(
          STAND_IN,
          plan.tasks.map((task) => withOutput(task.args, join(dir, task.task_id))),
          env,
        );
        if (path === "success") {
          const missing = plan.tasks.filter((task) => !existsSync(join(dir, task.task_id, "COMPAS_Output", "COMPAS_Output.h5")));
          if (missing.length > 0) throw new Error(`xargs: ${missing.length} task(s) wrote no output; the comparison would be unfair`);
        }
        rmSync(dir, { recursive: true, force: true });
      },
      library: () => runCli(join(REPO, "dist", "cli.js"), `library-${turn++}`),
      ...(options.before === undefined ? {} : { before: () => runCli(options.before!, `before-${turn}`) }),
    })) as { xargs: Timings; library: Timings; before?: Timings };
    const goal = ORCHESTRATION_GOALS[path];
    const load = loadAverage();
    console.log(`orchestration, ${path} path: ${plan.tasks.length} tasks at concurrency 2, best of ${options.reps ?? 1} (load average ${load})`);
    const perTask = (x: Timings): string => `${((1000 * x.best) / plan.tasks.length).toFixed(1)} ms/task`;
    console.log(`${row("xargs -P 2", t.xargs)}  ${perTask(t.xargs)}`);
    if (t.before) console.log(`${row("before: run --concurrency 2", t.before, { baseline: t.xargs, goal })}  ${perTask(t.before)}`);
    console.log(`${row("compas-ensemble run --concurrency 2", t.library, { baseline: t.xargs, goal })}  ${perTask(t.library)}`);
    const result = { path, tasks: plan.tasks.length, xargs: t.xargs, library: t.library, ratio: t.library.best / t.xargs.best, goal, loadAverage: load };
    return t.before ? { ...result, before: t.before } : result;
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
    ...(argValue(process.argv, "--before") ? { before: argValue(process.argv, "--before")! } : {}),
  };
  for (const path of ["success", "failure"] as const) {
    if (which === path || which === "both") await main({ ...common, path });
  }
}
