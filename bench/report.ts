/**
 * Benchmark: the HTML report of the 1,440-point full grid, with outputs from the COMPAS
 * stand-in. Goals for the report of the grid's SBI dataset: under 3 s and under 5 MB. The
 * report straight from the ensemble folder is timed too: it reads every run's COMPAS output,
 * so its time is dominated by the per-run extraction (printed per run).
 *
 *   npx tsx bench/report.ts [--points 1440] [--n-systems 20]
 *
 * The ensemble and its dataset are made once and kept in bench/.out/ (about 1.8 MB per run
 * with the stand-in); later runs reuse them. Making them the first time runs 1,440 stand-in
 * processes, two at a time.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runEnsemble } from "../src/ensemble/run.js";
import { LocalExecutor } from "../src/executors/local/executor.js";
import { expandGrid, fullGrid } from "../src/grid/index.js";
import { buildSbiDataset } from "../src/dataset/build.js";
import { writeSbiHdf5 } from "../src/dataset/write-h5.js";
import { writeReport, type WriteReportResult } from "../src/report/write.js";

const STAND_IN = fileURLToPath(new URL("../test/support/fake-compas/COMPAS", import.meta.url));
const OUT = fileURLToPath(new URL("./.out/", import.meta.url));

/** Measured numbers. */
export interface ReportBenchResult {
  runs: number;
  dcos: number;
  /** Report of the SBI dataset, including the plotting library's first load. */
  sbiFirstS: number;
  /** The same again, library loaded. */
  sbiS: number;
  sbiBytes: number;
  /** Report of the ensemble folder with the science section (reads every output). */
  ensembleS: number;
  ensembleBytes: number;
  /** Report of the ensemble folder, status only. */
  statusOnlyS: number;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function seconds(r: WriteReportResult): number {
  return r.gatherSeconds + r.renderSeconds;
}

/**
 * Makes (or reuses) the ensemble and dataset, then times the reports.
 * @param options - grid points and binaries per run
 */
export async function main(options: { points?: number; nSystems?: number } = {}): Promise<ReportBenchResult> {
  const points = options.points ?? arg("--points", 1440);
  const nSystems = options.nSystems ?? arg("--n-systems", 20);
  const base = join(OUT, `report-${points}x${nSystems}`);
  const ensemble = join(base, "ensemble");
  const sbi = join(base, "sbi.h5");
  mkdirSync(base, { recursive: true });
  if (!existsSync(join(ensemble, "ensemble_metadata.json"))) {
    console.log(`report: making the ${points}-point ensemble with the stand-in (${nSystems} binaries per run, once)...`);
    await runEnsemble({
      points: expandGrid(fullGrid()).slice(0, points),
      nSystems,
      compasBinary: STAND_IN,
      output: ensemble,
      executor: new LocalExecutor({ concurrency: 2 }),
    });
  }
  let dcos: number;
  if (!existsSync(sbi)) {
    const dataset = await buildSbiDataset(ensemble);
    await writeSbiHdf5(dataset, sbi);
  }
  const html = (name: string) => join(base, `${name}.html`);
  const first = await writeReport({ source: sbi, out: html("sbi"), force: true });
  const again = await writeReport({ source: sbi, out: html("sbi"), force: true });
  const fromEnsemble = await writeReport({ source: ensemble, out: html("ensemble"), force: true, concurrency: 2 });
  const statusOnly = await writeReport({ source: ensemble, out: html("status"), force: true, science: false });
  dcos = Number(/(\d+) DCOs/.exec(readFileSync(html("sbi"), "utf8"))?.[1] ?? 0);
  const result: ReportBenchResult = {
    runs: again.runs,
    dcos,
    sbiFirstS: seconds(first),
    sbiS: seconds(again),
    sbiBytes: again.bytes,
    ensembleS: seconds(fromEnsemble),
    ensembleBytes: fromEnsemble.bytes,
    statusOnlyS: seconds(statusOnly),
  };
  const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
  console.log(`report: ${result.runs} runs, ${dcos} DCOs (stand-in, ${nSystems} binaries per run)`);
  console.log(`  from the SBI dataset   ${result.sbiFirstS.toFixed(2)} s first (plot library load included), ${result.sbiS.toFixed(2)} s again, ${mb(result.sbiBytes)} (goals: < 3 s, < 5 MB)`);
  console.log(
    `  from the ensemble      ${result.ensembleS.toFixed(2)} s (reading ${result.runs} outputs: ${((1000 * fromEnsemble.gatherSeconds) / Math.max(1, result.runs)).toFixed(1)} ms per run), ${mb(result.ensembleBytes)}`,
  );
  console.log(`  status only            ${result.statusOnlyS.toFixed(2)} s`);
  if (process.argv.includes("--clean")) rmSync(base, { recursive: true, force: true });
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
