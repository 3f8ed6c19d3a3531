/**
 * Benchmark: start-up of the CLI. `compas-ensemble --version` and `compas-ensemble grid
 * --sparse` (the built dist/cli.js, as the installed `compas-ensemble` starts it) against a
 * bare `node -e 0` on the same machine, taking turns; best of `reps`. The ratio is what
 * loading the CLI costs on top of Node itself. Goal: at most 3x `node -e 0`.
 *
 *   npx tsx bench/startup.ts [--reps 15]
 *
 * dist is built first if it is missing or older than src (scripts/built-cli.mjs).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureBuilt } from "../scripts/built-cli.mjs";
import { argValue } from "./_bundle.js";
import { loadAverage, row, takeTurns, type Timings } from "./_side-by-side.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
/** Goal of issue "Start fast": a command starts in at most this many times `node -e 0`. */
export const STARTUP_GOAL = 3;

/** Measured numbers of one run. */
export interface StartupBenchResult {
  node: Timings;
  version: Timings;
  grid: Timings;
  /** version.best / node.best */
  versionRatio: number;
  /** grid.best / node.best */
  gridRatio: number;
  loadAverage: string;
}

function run(args: string[]): void {
  const r = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
}

/**
 * Measures the three commands side by side and prints them.
 * @param options - repetitions per command
 */
export async function main(options: { reps?: number } = {}): Promise<StartupBenchResult> {
  ensureBuilt();
  const cli = join(REPO, "dist", "cli.js");
  const reps = options.reps ?? 15;
  const t = await takeTurns(reps, {
    node: () => run(["-e", "0"]),
    version: () => run([cli, "--version"]),
    grid: () => run([cli, "grid", "--sparse"]),
  });
  const load = loadAverage();
  console.log(`startup: best of ${reps}, taking turns (load average ${load})`);
  console.log(row("node -e 0", t.node));
  console.log(row("compas-ensemble --version", t.version, { baseline: t.node, goal: STARTUP_GOAL }));
  console.log(row("compas-ensemble grid --sparse", t.grid, { baseline: t.node, goal: STARTUP_GOAL }));
  return {
    ...t,
    versionRatio: t.version.best / t.node.best,
    gridRatio: t.grid.best / t.node.best,
    loadAverage: load,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const reps = argValue(process.argv, "--reps");
  await main(reps === undefined ? {} : { reps: Number(reps) });
}
