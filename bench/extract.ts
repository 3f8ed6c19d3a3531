/**
 * Benchmark: DCO extraction (every DCO column plus spins and channels) from a large
 * COMPAS-like file, library (h5wasm) vs. h5py + numpy (bench/extract_ref.py) on the same file,
 * in one run. Goal: library time <= 1.5x h5py's.
 *
 *   npx tsx bench/extract.ts [--copies 200] [--repeat 3] [--keep]
 *
 * The file is the Z = 1e-4 fixture (5000 systems, 23 DCOs) repeated `copies` times with
 * shifted SEEDs (bench/make_large_file.py): 200 copies = 10^6 systems, ~1 GB, COMPAS's
 * default 100000-row chunks. Both sides read it from the page cache (it is read once first).
 * Each side runs in its own process so that peak RSS means something: the library in plain
 * Node (bench/_extract_worker.ts bundled by esbuild, as the published build would load it),
 * h5py in /usr/bin/python3. Times exclude process start-up and imports; h5wasm's one-off load
 * is printed apart. Best of `repeat` runs is compared.
 */
import { spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createGunzip } from "node:zlib";
import { argValue, bundleForBench } from "./_bundle.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const FIXTURE = fileURLToPath(
  new URL(
    "../test/fixtures/compas/alpha0.1_lambda0.1_Z0.0001_fa0.5_kick217_N5000_seed100000/COMPAS_Output/COMPAS_Output.h5.gz",
    import.meta.url,
  ),
);
const PYTHON = "/usr/bin/python3";

/** Options of {@link main}. */
export interface ExtractBenchOptions {
  /** Copies of the 5000-system fixture (200 = 10^6 systems). */
  copies?: number;
  /** Timed runs per side; the best is compared. */
  repeat?: number;
  /** Keep the temp directory with the large file. */
  keep?: boolean;
}

/** Measured numbers of one benchmark run. */
export interface ExtractBenchResult {
  systems: number;
  fileBytes: number;
  dcos: number;
  h5wasmLoadS: number;
  libraryBestS: number;
  libraryTimesS: number[];
  h5pyBestS: number;
  h5pyTimesS: number[];
  /** libraryBestS / h5pyBestS (goal <= 1.5). */
  ratio: number;
  libraryPeakRssBytes: number;
  h5pyPeakRssBytes: number;
  /** True when both sides agree on the checksum (counts exact, sums to 1e-9 relative). */
  resultsAgree: boolean;
}

interface Checksum {
  dcos: number;
  merging: number;
  sum_m1: number;
  sum_chirp_mass: number;
  sum_chi_eff: number;
  sum_chi_p: number;
  sum_tilt1: number;
  channels: Record<string, number>;
  reasons: Record<string, number>;
  pessimistic: number;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

function agree(a: Checksum, b: Checksum): boolean {
  const close = (x: number, y: number) => Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
  const sameCounts = (x: Record<string, number>, y: Record<string, number>) =>
    JSON.stringify(Object.entries(x).sort()) === JSON.stringify(Object.entries(y).sort());
  return (
    a.dcos === b.dcos &&
    a.merging === b.merging &&
    a.pessimistic === b.pessimistic &&
    close(a.sum_m1, b.sum_m1) &&
    close(a.sum_chirp_mass, b.sum_chirp_mass) &&
    close(a.sum_chi_eff, b.sum_chi_eff) &&
    close(a.sum_chi_p, b.sum_chi_p) &&
    close(a.sum_tilt1, b.sum_tilt1) &&
    sameCounts(a.channels, b.channels) &&
    sameCounts(a.reasons, b.reasons)
  );
}

async function warmPageCache(path: string): Promise<void> {
  for await (const _ of createReadStream(path, { highWaterMark: 8 * 1024 * 1024 })) {
    // Reading is the point: both sides then start from the page cache.
  }
}

/**
 * Builds the large file, times both extractions and prints them side by side.
 * @param options - copies, repeats, keep
 */
export async function main(options: ExtractBenchOptions = {}): Promise<ExtractBenchResult> {
  const copies = options.copies ?? 200;
  const repeat = options.repeat ?? 5;
  const dir = mkdtempSync(join(tmpdir(), "bench-extract-"));
  try {
    const small = join(dir, "fixture.h5");
    const large = join(dir, "COMPAS_Output.h5");
    await pipeline(createReadStream(FIXTURE), createGunzip(), createWriteStream(small));
    const tBuild = performance.now();
    run(PYTHON, [join(HERE, "make_large_file.py"), small, large, String(copies)]);
    rmSync(small);
    const fileBytes = statSync(large).size;
    console.log(`built ${large}: ${copies * 5000} systems, ${(fileBytes / 1e6).toFixed(0)} MB in ${((performance.now() - tBuild) / 1000).toFixed(1)} s`);
    await warmPageCache(large);

    const worker = await bundleForBench("_extract_worker.ts", "extract_worker.mjs");
    const js = JSON.parse(run(process.execPath, [worker, large, String(repeat)])) as {
      loadS: number;
      times: number[];
      rssAfterLoad: number;
      peakRss: number;
      wasmHeap: number;
      checksum: Checksum;
    };
    const libraryTimesS = js.times;
    const libraryPeakRssBytes = js.peakRss;
    const h5wasmLoadS = js.loadS;
    const ref = JSON.parse(run(PYTHON, [join(HERE, "extract_ref.py"), large, String(repeat)])) as {
      best_s: number;
      times_s: number[];
      peak_rss_bytes: number;
      checksum: Checksum;
    };
    const lib = js.checksum;
    const out: ExtractBenchResult = {
      systems: copies * 5000,
      fileBytes,
      dcos: lib.dcos,
      h5wasmLoadS,
      libraryBestS: Math.min(...libraryTimesS),
      libraryTimesS,
      h5pyBestS: ref.best_s,
      h5pyTimesS: ref.times_s,
      ratio: Math.min(...libraryTimesS) / ref.best_s,
      libraryPeakRssBytes,
      h5pyPeakRssBytes: ref.peak_rss_bytes,
      resultsAgree: agree(lib, ref.checksum),
    };
    const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
    const mb = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;
    console.log(`DCOs: ${out.dcos}; channels ${JSON.stringify(lib.channels)}; V reasons ${JSON.stringify(lib.reasons)}`);
    console.log(
      `library process: h5wasm load ${ms(h5wasmLoadS)} (not timed), RSS after load ${mb(js.rssAfterLoad)}, WebAssembly heap ${mb(js.wasmHeap)}`,
    );
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const row = (label: string, times: number[], rss: number) =>
      `${label.padEnd(18)}${ms(Math.min(...times)).padStart(9)}${ms(median(times)).padStart(9)}${ms(times[0] as number).padStart(9)}${mb(rss).padStart(11)}`;
    console.log(`${"".padEnd(18)}${"best".padStart(9)}${"median".padStart(9)}${"first".padStart(9)}${"peak RSS".padStart(11)}   (${repeat} runs each)`);
    console.log(row("library (h5wasm)", libraryTimesS, libraryPeakRssBytes));
    console.log(row("h5py + numpy", ref.times_s, ref.peak_rss_bytes));
    console.log(`ratio library / h5py (best): ${out.ratio.toFixed(2)}x (goal <= 1.5x), median: ${(median(libraryTimesS) / median(ref.times_s)).toFixed(2)}x; results agree: ${out.resultsAgree ? "yes" : "NO"}`);
    if (!out.resultsAgree) console.log(`library ${JSON.stringify(lib)}\nh5py    ${JSON.stringify(ref.checksum)}`);
    return out;
  } finally {
    if (options.keep) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}



if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const copies = argValue(args, "--copies");
  const repeat = argValue(args, "--repeat");
  await main({
    ...(copies === undefined ? {} : { copies: Number(copies) }),
    ...(repeat === undefined ? {} : { repeat: Number(repeat) }),
    keep: args.includes("--keep"),
  });
}
