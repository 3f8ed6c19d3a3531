/**
 * Benchmark: binaries an adaptive ensemble simulates against the fixed N that would give
 * every run the same number of target DCOs. A 12-point grid on the COMPAS stand-in whose
 * merging-BBH yield is set by FAKE_COMPAS_DCO_PERIOD_PER_Z (test/support/fake-compas/README.md):
 * one per round(K x Z) binaries, Z log-spaced from 10^-4 to 10^-2, so yields differ by 100x.
 * The adaptive side runs (local executor, 2 at once); the fixed side is the smallest N at
 * which every run of a fixed-N ensemble (seeds k * N onwards) would hold the target, counted
 * with the stand-in's rule, and is not run.
 *
 *   npx tsx bench/adaptive.ts [--target 10] [--chunk 500]
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runEnsemble } from "../src/ensemble/run.js";
import { LocalExecutor } from "../src/executors/local/executor.js";
import { expandGrid } from "../src/grid/index.js";
import { logspaceBetween } from "../src/grid/axes.js";

const STAND_IN = fileURLToPath(new URL("../test/support/fake-compas/COMPAS", import.meta.url));
const K = 100_000;

/** Measured numbers of one run. */
export interface AdaptiveBenchResult {
  points: number;
  target: number;
  /** Binaries the adaptive ensemble ran (every chunk, surplus included). */
  adaptiveSystems: number;
  /** Binaries in the merged runs. */
  mergedSystems: number;
  /** Smallest fixed N per run at which every run holds the target. */
  fixedN: number;
  fixedSystems: number;
  /** fixedSystems / adaptiveSystems. */
  ratio: number;
  chunks: number;
  waves: number;
  seconds: number;
}

const period = (z: number): number => Math.max(1, Math.round(K * z));
const mergingBbhs = (first: number, n: number, p: number): number => Math.floor((first + n - 1) / p) - Math.floor((first - 1) / p);

/**
 * Runs the adaptive ensemble once and prints both totals and their ratio.
 * @param options - target merging BBHs per run (default 10) and chunk size (default 500)
 */
export async function main(options: { target?: number; chunk?: number } = {}): Promise<AdaptiveBenchResult> {
  const target = options.target ?? 10;
  const chunk = options.chunk ?? 500;
  // Rounded to 4 significant digits: logspace gives 0.00009999... for 10^-4, below COMPAS's range.
  const metallicity = logspaceBetween(1e-4, 1e-2, 12).map((z) => Number(z.toPrecision(4)));
  const points = expandGrid({ alpha_ce: [1], lambda_ce: [0.1], kick_sigma: [217], metallicity, mass_transfer_fa: [0.5] });
  const env = { ...process.env, FAKE_COMPAS_DCO_PERIOD_PER_Z: String(K) };
  const work = mkdtempSync(join(tmpdir(), "bench-adaptive-"));
  try {
    const started = process.hrtime.bigint();
    const summary = await runEnsemble({
      points,
      nSystems: { chunk, max: 1_000_000 },
      target: { dco: "BBH", merging: true, count: target },
      compasBinary: STAND_IN,
      output: work,
      executor: new LocalExecutor({ concurrency: 2, retries: 0, env }),
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (summary.runs.succeeded !== points.length) throw new Error(`only ${summary.runs.succeeded} of ${points.length} runs succeeded`);
    const fragments = readdirSync(join(work, "fragments")).map((f) => JSON.parse(readFileSync(join(work, "fragments", f), "utf8")) as { n_systems: number });
    const adaptiveSystems = fragments.reduce((sum, f) => sum + f.n_systems, 0);
    const manifest = JSON.parse(readFileSync(join(work, "ensemble_metadata.json"), "utf8")) as { runs: { n_systems: number }[] };
    const mergedSystems = manifest.runs.reduce((sum, r) => sum + r.n_systems, 0);
    const waves = existsSync(join(work, "adaptive")) ? readdirSync(join(work, "adaptive")).filter((f) => f.startsWith("wave-")).length : 0;

    let fixedN = 1;
    while (!points.every((p, k) => mergingBbhs(k * fixedN, fixedN, period(p.params.metallicity)) >= target)) fixedN++;
    const fixedSystems = fixedN * points.length;
    const result: AdaptiveBenchResult = {
      points: points.length,
      target,
      adaptiveSystems,
      mergedSystems,
      fixedN,
      fixedSystems,
      ratio: fixedSystems / adaptiveSystems,
      chunks: fragments.length,
      waves,
      seconds,
    };
    const yields = points.map((p) => period(p.params.metallicity));
    console.log(`adaptive: ${points.length} points, one merging BBH per ${Math.min(...yields)} to ${Math.max(...yields)} binaries, target ${target} per run, chunks of ${chunk}`);
    console.log(`  fixed N (baseline)   ${fixedN} per run x ${points.length} = ${fixedSystems} binaries`);
    console.log(`  adaptive             ${adaptiveSystems} binaries run in ${result.chunks} chunks over ${waves} waves (${mergedSystems} in the merged runs), ${seconds.toFixed(1)} s`);
    console.log(`  ratio fixed / adaptive ${result.ratio.toFixed(2)}`);
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  await main({ target: arg("--target"), chunk: arg("--chunk") });
}
