/**
 * Benchmark: start-up of the CLI. `compas-ensemble --version` and `compas-ensemble grid
 * --sparse` (the built dist/cli.js, as the installed `compas-ensemble` starts it) against a
 * bare `node -e 0` on the same machine, taking turns; best of `reps`. The ratio is what
 * loading the CLI costs on top of Node itself. Goal: at most 3x `node -e 0`.
 *
 *   npx tsx bench/startup.ts [--reps 15] [--before /path/to/older/dist/cli.js]
 *
 * `--before` adds another build's CLI to the same turns (e.g. main's, built in a worktree of
 * its own), so before and after are measured side by side under the same load.
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
  /** The `--before` CLI's timings, when given. */
  before?: { version: Timings; grid: Timings };
}

function run(args: string[]): void {
  const r = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
}

/**
 * Measures the three commands side by side and prints them.
 * @param options - repetitions per command
 */
export async function main(options: { reps?: number; before?: string } = {}): Promise<StartupBenchResult> {
  ensureBuilt();
  const cli = join(REPO, "dist", "cli.js");
  const reps = options.reps ?? 15;
  const sides: Record<string, () => void> = {
    node: () => run(["-e", "0"]),
    version: () => run([cli, "--version"]),
    grid: () => run([cli, "grid", "--sparse"]),
  };
  const older = options.before;
  if (older !== undefined) {
    sides.beforeVersion = () => run([older, "--version"]);
    sides.beforeGrid = () => run([older, "grid", "--sparse"]);
  }
  const t = await takeTurns(reps, sides);
  const load = loadAverage();
  console.log(`startup: best of ${reps}, taking turns (load average ${load})`);
  const before = t.beforeVersion && t.beforeGrid ? { version: t.beforeVersion, grid: t.beforeGrid } : undefined;
  const node = t.node!, version = t.version!, grid = t.grid!;
  console.log(row("node -e 0", node));
  console.log(row("compas-ensemble --version", version, { baseline: node, goal: STARTUP_GOAL }));
  console.log(row("compas-ensemble grid --sparse", grid, { baseline: node, goal: STARTUP_GOAL }));
  if (before) {
    console.log(row("before: --version", before.version, { baseline: node, goal: STARTUP_GOAL }));
    console.log(row("before: grid --sparse", before.grid, { baseline: node, goal: STARTUP_GOAL }));
  }
  return {
    node,
    version,
    grid,
    ...(before ? { before } : {}),
    versionRatio: version.best / node.best,
    gridRatio: grid.best / node.best,
    loadAverage: load,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const reps = argValue(process.argv, "--reps");
  const before = argValue(process.argv, "--before");
  await main({ ...(reps === undefined ? {} : { reps: Number(reps) }), ...(before === undefined ? {} : { before }) });
}
