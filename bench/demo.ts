/**
 * Benchmark: the first run a new user makes, end to end. The demo's shape (the first 3 points
 * of the sparse grid x 200 binaries, one task per run) with the COMPAS stand-in sleeping 6 ms
 * per binary (FAKE_COMPAS_DELAY_MS, about what real COMPAS v03.07.00 needs per binary), started
 * as a user starts it, against `xargs -P 2` starting the same three COMPAS commands. Sides:
 *
 *   - `compas-ensemble run --sparse --test-run --n-systems 200 --concurrency 2` (the built
 *     CLI, as the installed `compas-ensemble` starts it);
 *   - `npm run demo` (the README's first command), which runs the same grid at one task per
 *     core: on a machine with more than 2 cores it runs all three at once, xargs two.
 *
 * Every wall time includes process start-up, planning, the binary's probe, the tasks, the
 * merge-free finalisation and the manifest. Goal: at most 1.3x xargs.
 *
 *   npx tsx bench/demo.ts [--reps 3]
 *
 * dist is built first if it is missing or older than src (scripts/built-cli.mjs).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureBuilt } from "../scripts/built-cli.mjs";
import { withOutput } from "../src/compas/argv.js";
import { probeCompas } from "../src/compas/probe.js";
import { buildPlan } from "../src/plan/build.js";
import { expandGrid, sparseGrid, TEST_RUN_POINTS } from "../src/grid/index.js";
import { argValue } from "./_bundle.js";
import { exec, xargsP2 } from "./_exec.js";
import { loadAverage, row, takeTurns, type Timings } from "./_side-by-side.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const STAND_IN = join(REPO, "test", "support", "fake-compas", "COMPAS");
const N_SYSTEMS = 200;
/** Milliseconds the stand-in sleeps per binary. */
export const DELAY_MS = 6;
/** Goal of issue "Start fast": the first run at most this many times xargs. */
export const DEMO_GOAL = 1.3;

/** Measured numbers of one run. */
export interface DemoBenchResult {
  xargs: Timings;
  sides: { name: string; timings: Timings }[];
  loadAverage: string;
}

/**
 * Runs every side, taking turns, and prints them side by side.
 * @param options - turns per side (best of them is compared)
 */
export async function main(options: { reps?: number } = {}): Promise<DemoBenchResult> {
  ensureBuilt();
  const reps = options.reps ?? 3;
  const work = mkdtempSync(join(tmpdir(), "bench-demo-"));
  // A cache folder of its own, empty at first: the first turn pays what a first run pays.
  const env: NodeJS.ProcessEnv = { ...process.env, FAKE_COMPAS_DELAY_MS: String(DELAY_MS), COMPAS_BINARY: STAND_IN, XDG_CACHE_HOME: join(work, "cache") };
  const points = expandGrid(sparseGrid()).slice(0, TEST_RUN_POINTS);
  const plan = buildPlan({ points, nSystems: N_SYSTEMS, compas: await probeCompas(STAND_IN) });
  let turn = 0;
  const outputOf = (dir: string): void => {
    const missing = plan.runs.filter((r) => !existsSync(join(dir, "runs", r.run_id, "COMPAS_Output", "COMPAS_Output.h5")));
    if (missing.length > 0) throw new Error(`${dir}: ${missing.length} run(s) have no output; the comparison would be unfair`);
  };
  try {
    const t = await takeTurns(reps, {
      xargs: async () => {
        // Same layout as the library's output, one session per command (see bench/_exec.ts).
        const dir = join(work, `xargs-${turn}`);
        await xargsP2(
          STAND_IN,
          plan.tasks.map((task) => withOutput(task.args, join(dir, "runs", task.run_id))),
          env,
        );
        outputOf(dir);
      },
      run: async () => {
        const dir = join(work, `run-${turn}`);
        await exec(process.execPath, [
          join(REPO, "dist", "cli.js"),
          "run",
          "--sparse",
          "--test-run",
          "--n-systems",
          String(N_SYSTEMS),
          "--concurrency",
          "2",
          "--output-dir",
          dir,
        ], { env, cwd: REPO });
        outputOf(dir);
      },
      demo: async () => {
        const dir = join(work, `demo-${turn++}`);
        await exec("npm", ["run", "--silent", "demo", "--", "--output-dir", dir], { env, cwd: REPO });
        outputOf(dir);
      },
    });
    const load = loadAverage();
    console.log(`demo: ${plan.tasks.length} runs x ${N_SYSTEMS} binaries, stand-in sleeping ${DELAY_MS} ms per binary, best of ${reps} (load average ${load})`);
    console.log(row("xargs -P 2", t.xargs));
    const sides = [
      { name: "compas-ensemble run --concurrency 2", timings: t.run },
      { name: "npm run demo", timings: t.demo },
    ];
    for (const s of sides) console.log(row(s.name, s.timings, { baseline: t.xargs, goal: DEMO_GOAL }));
    return { xargs: t.xargs, sides, loadAverage: load };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const reps = argValue(process.argv, "--reps");
  await main(reps === undefined ? {} : { reps: Number(reps) });
}
