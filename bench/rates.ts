/**
 * Benchmark: merger rates of 10^6 DCOs on the default redshift grid (0 to 10 in steps of
 * 0.01): every run's single-metallicity R(z) and every metallicity group's combined R(z), as
 * `extract` computes them, library vs. the numpy/scipy reference test/expected/rates_ref.py
 * doing the same on the same DCOs, in one run. Goal: library time <= the reference's.
 *
 *   npx tsx bench/rates.ts [--dcos 1000000] [--runs 100] [--repeat 3] [--keep]
 *
 * The DCOs are the real fixtures' DCOs (types, delay times, merger and pessimistic-CE flags)
 * repeated with delay times jittered by up to +-1 % (a fixed pseudo-random sequence), spread
 * over `runs` runs that form groups of four metallicities (1e-4, 5e-4, 2e-3, 0.0142). Both
 * sides read them from .npy files; each runs in its own process so that peak RSS means
 * something (the library in plain Node, bundled by esbuild). Times exclude reading the
 * inputs; the library's best of `repeat` runs is compared with the reference's one run.
 * An (n_dco x n_z) matrix of float64 would take n_dco x 1001 x 8 bytes (8 GB at 10^6): the
 * peak RSS shows that neither side builds one.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { argValue, bundleForBench } from "./_bundle.js";
import { extractDcos } from "../src/physics/dco.js";
import { encodeNpyTyped } from "../src/dataset/write-npy.js";
import { RATE_DCO_TYPES } from "../src/physics/rates/run-rates.js";
import { starFormingMassPerBinary } from "../src/physics/rates/star-forming-mass.js";
import { FIXTURES, gunzipFixture } from "../test/support/compas-fixtures.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const REFERENCE = fileURLToPath(new URL("../test/expected/rates_ref.py", import.meta.url));
const PYTHON = "/usr/bin/python3";
const METALLICITIES = [1e-4, 5e-4, 2e-3, 0.0142];

/** Options of {@link main}. */
export interface RatesBenchOptions {
  /** DCOs in total. */
  dcos?: number;
  /** Runs they are spread over (a multiple of 4: groups of four metallicities). */
  runs?: number;
  /** Timed runs of the library; the best is compared. */
  repeat?: number;
  /** Keep the temp directory with the inputs. */
  keep?: boolean;
}

/** Measured numbers of one benchmark run. */
export interface RatesBenchResult {
  dcos: number;
  runs: number;
  groups: number;
  libraryBestS: number;
  libraryTimesS: number[];
  referenceS: number;
  /** libraryBestS / referenceS (goal <= 1.0). */
  ratio: number;
  libraryPeakRssBytes: number;
  referencePeakRssBytes: number;
  /** Largest relative difference of the checksums (R(0) per run and group, sums over z). */
  maxRelativeDifference: number;
}

interface Checksum {
  per_run_sum: Record<string, number>;
  per_run_z0: Record<string, number[]>;
  combined_z0: Record<string, number>[];
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

function relative(a: number, b: number): number {
  if (a === 0 && b === 0) return 0;
  return Math.abs(a / b - 1);
}

function compare(a: Checksum, b: Checksum): number {
  let worst = 0;
  for (const t of RATE_DCO_TYPES) {
    worst = Math.max(worst, relative(a.per_run_sum[t] as number, b.per_run_sum[t] as number));
    (a.per_run_z0[t] as number[]).forEach((v, i) => (worst = Math.max(worst, relative(v, (b.per_run_z0[t] as number[])[i] as number))));
    a.combined_z0.forEach((g, i) => (worst = Math.max(worst, relative(g[t] as number, (b.combined_z0[i] as Record<string, number>)[t] as number))));
  }
  return worst;
}

/** DCOs of a few real fixtures: the pool the benchmark's DCOs are drawn from. */
async function dcoPool(dir: string): Promise<{ type: Uint8Array; delay: Float64Array; merges: Uint8Array; pessimistic: Uint8Array }> {
  const type: number[] = [];
  const delay: number[] = [];
  const merges: number[] = [];
  const pessimistic: number[] = [];
  for (const name of ["channels", "massBounds", "z0142", "chunksFull"] as const) {
    const { table } = await extractDcos(await gunzipFixture(FIXTURES[name], dir));
    for (let i = 0; i < table.length; i++) {
      type.push(RATE_DCO_TYPES.indexOf(table.type[i] as (typeof RATE_DCO_TYPES)[number]));
      delay.push(table.t_delay[i] as number);
      merges.push(table.merges_hubble_time[i] as number);
      pessimistic.push(table.pessimistic_ce[i] as number);
    }
  }
  return { type: Uint8Array.from(type), delay: Float64Array.from(delay), merges: Uint8Array.from(merges), pessimistic: Uint8Array.from(pessimistic) };
}

/** Writes the benchmark's DCOs and runs as .npy files both sides read. */
async function writeInputs(dir: string, nDco: number, nRuns: number): Promise<void> {
  const pool = await dcoPool(join(dir, "fixtures"));
  const runIndex = new Int32Array(nDco);
  const type = new Uint8Array(nDco);
  const delay = new Float64Array(nDco);
  const merges = new Uint8Array(nDco);
  const pessimistic = new Uint8Array(nDco);
  let state = 12345;
  for (let i = 0; i < nDco; i++) {
    // Park-Miller: a fixed, portable sequence for the jitter.
    state = (state * 48271) % 2147483647;
    const k = (i * 7919) % pool.delay.length;
    runIndex[i] = Math.floor((i * nRuns) / nDco);
    type[i] = pool.type[k] as number;
    delay[i] = (pool.delay[k] as number) * (1 + 0.02 * (state / 2147483647 - 0.5));
    merges[i] = pool.merges[k] as number;
    pessimistic[i] = pool.pessimistic[k] as number;
  }
  const perRunBinaries = 1e6;
  const mRep = starFormingMassPerBinary({ m1Min: 5, m1Max: 150, m2Min: 0.1 }, 0.7);
  const files: Record<string, ArrayBufferView & { length: number }> = {
    "run_index.npy": runIndex,
    "type.npy": type,
    "t_delay.npy": delay,
    "merges_hubble_time.npy": merges,
    "pessimistic_ce.npy": pessimistic,
    "star_forming_mass.npy": new Float64Array(nRuns).fill(mRep * perRunBinaries),
    "metallicity.npy": Float64Array.from({ length: nRuns }, (_, r) => METALLICITIES[r % 4] as number),
    "group.npy": Int32Array.from({ length: nRuns }, (_, r) => Math.floor(r / 4)),
  };
  for (const [name, values] of Object.entries(files)) writeFileSync(join(dir, name), encodeNpyTyped(values));
  writeFileSync(join(dir, "meta.json"), JSON.stringify({ n_dco: nDco, n_runs: nRuns, pool: pool.delay.length }));
}

/**
 * Builds the inputs, times both sides and prints them side by side.
 * @param options - DCOs, runs, repeats, keep
 */
export async function main(options: RatesBenchOptions = {}): Promise<RatesBenchResult> {
  const nDco = options.dcos ?? 1_000_000;
  const nRuns = options.runs ?? 100;
  const repeat = options.repeat ?? 3;
  if (nRuns % 4 !== 0) throw new Error("--runs must be a multiple of 4 (groups of four metallicities)");
  const dir = mkdtempSync(join(tmpdir(), "bench-rates-"));
  try {
    await writeInputs(dir, nDco, nRuns);
    const worker = await bundleForBench("_rates_worker.ts", "rates_worker.mjs");
    const js = JSON.parse(run(process.execPath, [worker, dir, String(repeat)])) as {
      times: number[];
      peakRss: number;
      nGroups: number;
      checksum: Checksum;
    };
    const ref = JSON.parse(run(PYTHON, [REFERENCE, "bench", dir])) as { seconds: number; peak_rss_bytes: number } & Checksum;
    const best = Math.min(...js.times);
    const out: RatesBenchResult = {
      dcos: nDco,
      runs: nRuns,
      groups: js.nGroups,
      libraryBestS: best,
      libraryTimesS: js.times,
      referenceS: ref.seconds,
      ratio: best / ref.seconds,
      libraryPeakRssBytes: js.peakRss,
      referencePeakRssBytes: ref.peak_rss_bytes,
      maxRelativeDifference: compare(js.checksum, ref),
    };
    const mb = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;
    console.log(`${nDco} DCOs in ${nRuns} runs (${js.nGroups} groups of 4 metallicities), z = 0 .. 10 step 0.01 (1001 redshifts)`);
    console.log(`an (n_dco x n_z) float64 matrix would be ${mb(nDco * 1001 * 8)}`);
    console.log(`library (Node)        best ${best.toFixed(2)} s of [${js.times.map((t) => t.toFixed(2)).join(", ")}]  peak RSS ${mb(js.peakRss)}`);
    console.log(`reference (numpy)     ${ref.seconds.toFixed(2)} s  peak RSS ${mb(ref.peak_rss_bytes)}`);
    console.log(`ratio library / reference: ${out.ratio.toFixed(3)} (goal <= 1.0); largest relative difference of R(0) and sums: ${out.maxRelativeDifference.toExponential(2)} (goal < 1e-2)`);
    return out;
  } finally {
    if (options.keep) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}



if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const dcos = argValue(args, "--dcos");
  const runs = argValue(args, "--runs");
  const repeat = argValue(args, "--repeat");
  await main({
    ...(dcos === undefined ? {} : { dcos: Number(dcos) }),
    ...(runs === undefined ? {} : { runs: Number(runs) }),
    ...(repeat === undefined ? {} : { repeat: Number(repeat) }),
    keep: args.includes("--keep"),
  });
}
