/**
 * Benchmark: planning big grids. For grid files of 10^4, 10^5 and 10^6 points it times
 *   - estimating: `compas-ensemble plan --file <grid> --n-systems 1000 --json`, the command as
 *     a user runs it (process start-up included), goal for 10^6 points: < 2 s and < 200 MiB
 *     peak RSS;
 *   - the runnable plan: buildPlan over the expanded grid (every task's COMPAS arguments and
 *     the ensemble id), and the size plan.json would have.
 * Each measurement runs in its own plain Node process (src bundled by esbuild into
 * bench/.out, as the published build would load it) so that peak RSS means something.
 *
 *   npx tsx bench/plan.ts [--sizes 10000,100000,1000000] [--timeout 600]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { argValue, bundleForBench } from "./_bundle.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const PEAK_RSS = join(HERE, "_peak_rss.cjs");
/** Goal of issue "Start fast" for estimating 10^6 points. */
export const ESTIMATE_GOAL = { points: 1_000_000, seconds: 2, peakRssBytes: 200 * 2 ** 20 };

/** One measured child process. */
export interface Measurement {
  wallS: number;
  cpuS: number;
  peakRssBytes: number;
  /** Why it failed (last line of stderr, or the timeout), else undefined. */
  error?: string;
}

/** Measured numbers of one benchmark run. */
export interface PlanBenchResult {
  /** `compas-ensemble --version`: the start-up every command pays, the floor of `plan`. */
  startup: Measurement;
  rows: PlanBenchRow[];
}

/** Measured numbers for one grid size. */
export interface PlanBenchRow {
  points: number;
  estimate: Measurement;
  buildPlan: Measurement & { buildPlanS?: number; planJsonBytes?: number | null; planJsonError?: string | null };
}

// Axis lengths whose product is the wanted size; every value stays distinct at run-id
// precision (alpha 3 decimals, lambda and fa 2, Z 5).
function gridYaml(points: number): string {
  const shapes: Record<number, [number, number, number, number, number]> = {
    10_000: [10, 10, 10, 10, 1],
    100_000: [10, 10, 10, 10, 10],
    1_000_000: [100, 10, 10, 10, 10],
  };
  const s = shapes[points];
  if (!s) throw new Error(`no grid shape for ${points} points; use ${Object.keys(shapes).join(", ")}`);
  const kicks = Array.from({ length: s[2] }, (_, i) => 100 + 50 * i);
  return [
    `alpha_ce: {linspace: {start: 0.1, stop: ${(0.1 * s[0]).toFixed(1)}, num: ${s[0]}}}`,
    `lambda_ce: {linspace: {start: 0.1, stop: ${(0.1 * s[1]).toFixed(1)}, num: ${s[1]}}}`,
    `kick_sigma: [${kicks.join(", ")}]`,
    `metallicity: {linspace: {start: 0.001, stop: ${(0.001 * s[3]).toFixed(3)}, num: ${s[3]}}}`,
    s[4] === 1 ? "mass_transfer_fa: 0.5" : `mass_transfer_fa: {linspace: {start: 0, stop: 1, num: ${s[4]}}}`,
    "",
  ].join("\n");
}

function measure(script: string, args: string[], work: string, timeoutS: number): Measurement & { stdout: string } {
  const usageFile = join(work, "usage.json");
  rmSync(usageFile, { force: true });
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_USAGE_FILE: usageFile };
  // No COMPAS: the estimate uses the measured constants, the same on every machine.
  delete env.COMPAS_BINARY;
  delete env.COMPAS_ROOT_DIR;
  const started = performance.now();
  const r = spawnSync(process.execPath, ["-r", PEAK_RSS, script, ...args], {
    env,
    encoding: "utf8",
    maxBuffer: 1024 * 2 ** 20,
    timeout: timeoutS * 1000,
    killSignal: "SIGKILL",
  });
  const wallS = (performance.now() - started) / 1000;
  let usage = { cpuS: NaN, peakRssBytes: NaN };
  try {
    usage = JSON.parse(readFileSync(usageFile, "utf8")) as typeof usage;
  } catch {
    // Killed or crashed before its exit handler ran: no usage to report.
  }
  const failed = r.status !== 0 || r.error !== undefined;
  // The line that says what went wrong (a V8 crash ends with its version banner).
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  const why = r.error ? r.error.message : (lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? `exit ${r.status}`);
  return { wallS, ...usage, ...(failed ? { error: why } : {}), stdout: r.stdout };
}

/**
 * Measures every size and prints them side by side with the goal.
 * @param options - grid sizes and the per-process timeout in seconds
 */
export async function main(options: { sizes?: number[]; timeoutS?: number } = {}): Promise<PlanBenchResult> {
  const sizes = options.sizes ?? [10_000, 100_000, 1_000_000];
  const timeoutS = options.timeoutS ?? 600;
  const work = mkdtempSync(join(tmpdir(), "bench-plan-"));
  try {
    const [cli, worker] = await bundle();
    const { stdout: _v, ...startup } = measure(cli, ["--version"], work, timeoutS);
    const rows: PlanBenchRow[] = [];
    for (const points of sizes) {
      const grid = join(work, `grid-${points}.yaml`);
      writeFileSync(grid, gridYaml(points));
      const est = measure(cli, ["plan", "--file", grid, "--n-systems", "1000", "--cores", "2", "--json"], work, timeoutS);
      if (est.error === undefined) {
        const runs = (JSON.parse(est.stdout) as { runs: number }).runs;
        if (runs !== points) est.error = `the estimate counted ${runs} runs, not ${points}`;
      }
      const bp = measure(worker, [grid, "1000"], work, timeoutS);
      const detail = bp.error === undefined ? (JSON.parse(bp.stdout) as { buildPlanS: number; planJsonBytes: number | null; planJsonError: string | null }) : {};
      const { stdout: _e, ...estimate } = est;
      const { stdout: _b, ...built } = bp;
      rows.push({ points, estimate, buildPlan: { ...built, ...detail } });
    }
    print(startup, rows);
    return { startup, rows };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function print(startup: Measurement, rows: PlanBenchRow[]): void {
  const s = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)} s` : "-");
  const mb = (b: number) => (Number.isFinite(b) ? `${(b / 2 ** 20).toFixed(0)} MiB` : "-");
  const cell = (m: Measurement) => (m.error ? `failed after ${s(m.wallS)}: ${m.error}`.slice(0, 60) : `${s(m.wallS).padStart(9)} ${s(m.cpuS).padStart(9)} ${mb(m.peakRssBytes).padStart(9)}`);
  console.log(`plan: estimate = \`compas-ensemble plan --file <grid> --n-systems 1000 --json\`; buildPlan = the runnable plan`);
  console.log(`${"points".padStart(9)}  ${"estimate: wall".padStart(14)} ${"cpu".padStart(9)} ${"peak RSS".padStart(9)}   ${"buildPlan: wall".padStart(15)} ${"cpu".padStart(9)} ${"peak RSS".padStart(9)}  plan.json`);
  console.log(`${"--version".padStart(9)}  ${cell(startup).padStart(34)}   (start-up alone, the floor of every command)`);
  for (const r of rows) {
    const json = r.buildPlan.planJsonBytes ? `${(r.buildPlan.planJsonBytes / 1e6).toFixed(0)} MB` : r.buildPlan.planJsonError ? `not writable (${r.buildPlan.planJsonError})` : "-";
    console.log(`${String(r.points).padStart(9)}  ${cell(r.estimate).padStart(34)}   ${cell(r.buildPlan).padStart(35)}  ${json}`);
  }
  const goal = rows.find((r) => r.points === ESTIMATE_GOAL.points);
  if (goal) console.log(goalLine(goal.estimate, startup));
}

/**
 * The estimate of 10^6 points against its goal, with the start-up beside it, one line. On a
 * loaded machine wall time exceeds CPU time; the goal is meant for an idle one.
 * @param m - the measured estimate
 * @param startup - `compas-ensemble --version`
 */
export function goalLine(m: Measurement, startup: Measurement): string {
  if (m.error) return `estimate of 10^6 points failed (${m.error}); goal < ${ESTIMATE_GOAL.seconds} s and < 200 MiB`;
  return (
    `estimate of 10^6 points: ${m.wallS.toFixed(2)} s wall, ${m.cpuS.toFixed(2)} s CPU (start-up alone ${startup.wallS.toFixed(2)} s, ` +
    `${startup.cpuS.toFixed(2)} s CPU) vs goal < ${ESTIMATE_GOAL.seconds} s: ratio ${(m.wallS / ESTIMATE_GOAL.seconds).toFixed(2)} wall, ` +
    `${(m.cpuS / ESTIMATE_GOAL.seconds).toFixed(2)} CPU; peak RSS ${(m.peakRssBytes / 2 ** 20).toFixed(0)} MiB vs goal < 200 MiB: ` +
    `ratio ${(m.peakRssBytes / ESTIMATE_GOAL.peakRssBytes).toFixed(2)}`
  );
}

/** Bundles the CLI and the buildPlan worker into bench/.out, dependencies left in node_modules as tsup leaves them. */
async function bundle(): Promise<[string, string]> {
  return [await bundleForBench("../src/cli.ts", "cli.mjs", "all"), await bundleForBench("_plan_worker.ts", "plan_worker.mjs", "all")];
}


if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const sizes = argValue(args, "--sizes");
  const timeout = argValue(args, "--timeout");
  await main({
    ...(sizes === undefined ? {} : { sizes: sizes.split(",").map(Number) }),
    ...(timeout === undefined ? {} : { timeoutS: Number(timeout) }),
  });
}
