/**
 * Runs every benchmark and prints each against its baseline side by side:
 *   npm run bench            (all)
 *   npm run bench -- startup | orchestration | demo | extract | plan | rates | report | adaptive
 *   npm run bench -- startup --before /path/to/older/dist/cli.js   (another build side by side;
 *                                                                  orchestration too)
 *
 * On a shared machine other work skews wall times: each line gives the load average, and
 * CPU-time ratios beside the wall-time ones (CPU time hardly depends on load).
 */
import { main as adaptive } from "./adaptive.js";
import { main as extract } from "./extract.js";
import { main as orchestration } from "./orchestration.js";
import { DEMO_GOAL, main as demo } from "./demo.js";
import { goalLine, main as plan } from "./plan.js";
import { main as rates } from "./rates.js";
import { main as report } from "./report.js";
import type { Timings } from "./_side-by-side.js";
import { argValue } from "./_bundle.js";
import { main as startup, STARTUP_GOAL } from "./startup.js";

const before = argValue(process.argv, "--before");
const which = process.argv.slice(2).filter((a) => !a.startsWith("-") && a !== before);
const all = which.length === 0;
const rows: string[] = [];
const versus = (what: string, t: Timings, base: string, b: Timings, goal: number, load: string): string =>
  `${what} ${t.best.toFixed(2)} s  vs  ${base} ${b.best.toFixed(2)} s  ratio ${(t.best / b.best).toFixed(2)} (goal <= ${goal}),` +
  ` cpu ${(t.cpuBest / b.cpuBest).toFixed(2)}  [load ${load}]`;
if (all || which.includes("startup")) {
  const r = await startup(before === undefined ? {} : { before });
  rows.push(`startup        ${versus("--version", r.version, "node -e 0", r.node, STARTUP_GOAL, r.loadAverage)}`);
  rows.push(`startup        ${versus("grid --sparse", r.grid, "node -e 0", r.node, STARTUP_GOAL, r.loadAverage)}`);
  if (r.before) {
    rows.push(`startup        ${versus("before: --version", r.before.version, "node -e 0", r.node, STARTUP_GOAL, r.loadAverage)}`);
    rows.push(`startup        ${versus("before: grid --sparse", r.before.grid, "node -e 0", r.node, STARTUP_GOAL, r.loadAverage)}`);
  }
}
if (all || which.includes("orchestration")) {
  for (const path of ["success", "failure"] as const) {
    const r = await orchestration(before === undefined ? { path } : { path, before });
    if (r.before) rows.push(`orchestration  ${versus(`${path} path, before: run`, r.before, "xargs -P 2", r.xargs, r.goal, r.loadAverage)}`);
    rows.push(`orchestration  ${versus(`${path} path, compas-ensemble run`, r.library, "xargs -P 2", r.xargs, r.goal, r.loadAverage)}`);
  }
}
if (all || which.includes("demo")) {
  const r = await demo();
  for (const side of r.sides) rows.push(`demo           ${versus(side.name, side.timings, "xargs -P 2", r.xargs, DEMO_GOAL, r.loadAverage)}`);
}
if (all || which.includes("extract")) {
  const r = await extract();
  rows.push(
    `extract        library ${r.libraryBestS.toFixed(3)} s  vs  h5py+numpy ${r.h5pyBestS.toFixed(3)} s  ratio ${r.ratio.toFixed(2)} (goal <= 1.5)` +
      `  peak RSS ${(r.libraryPeakRssBytes / 2 ** 20).toFixed(0)} MiB vs ${(r.h5pyPeakRssBytes / 2 ** 20).toFixed(0)} MiB`,
  );
}
if (all || which.includes("plan")) {
  const r = await plan();
  const big = r.rows.find((row) => row.points === 1_000_000);
  if (big) rows.push(`plan           ${goalLine(big.estimate, r.startup)}`);
}
if (all || which.includes("rates")) {
  const r = await rates();
  rows.push(
    `rates          library ${r.libraryBestS.toFixed(2)} s  vs  numpy reference ${r.referenceS.toFixed(2)} s  ratio ${r.ratio.toFixed(3)} (goal <= 1.0)` +
      `  peak RSS ${(r.libraryPeakRssBytes / 2 ** 20).toFixed(0)} MiB vs ${(r.referencePeakRssBytes / 2 ** 20).toFixed(0)} MiB` +
      `  (${r.dcos} DCOs, agree to ${r.maxRelativeDifference.toExponential(1)})`,
  );
}
if (all || which.includes("report")) {
  const r = await report();
  rows.push(
    `report         ${r.runs}-run grid from its SBI dataset ${r.sbiS.toFixed(2)} s (first ${r.sbiFirstS.toFixed(2)} s), ${(r.sbiBytes / 1e6).toFixed(2)} MB (goals < 3 s, < 5 MB);` +
      ` from the ensemble ${r.ensembleS.toFixed(1)} s, status only ${r.statusOnlyS.toFixed(2)} s`,
  );
}
if (all || which.includes("adaptive")) {
  const r = await adaptive();
  rows.push(
    `adaptive       ${r.adaptiveSystems} binaries to reach ${r.target} merging BBHs at each of ${r.points} points  vs  fixed N ${r.fixedN} x ${r.points} = ${r.fixedSystems}  ratio ${r.ratio.toFixed(2)}`,
  );
}
console.log("\nsummary");
for (const row of rows) console.log(`  ${row}`);
