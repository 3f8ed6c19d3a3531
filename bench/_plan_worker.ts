/**
 * Child process of bench/plan.ts: builds the runnable plan (buildPlan: every task with its
 * COMPAS arguments, and the ensemble id) of a grid file in a plain Node process, and prints
 * one JSON line with the times, the peak RSS up to then, and the size plan.json would have.
 * Usage (after bundling): node _plan_worker.mjs GRID_FILE N_SYSTEMS
 */
import { buildPlan } from "../src/plan/build.js";
import { expandGrid, loadGridFile } from "../src/grid/index.js";

const [file, nArg] = process.argv.slice(2);
const t0 = performance.now();
const points = expandGrid(loadGridFile(file as string));
const t1 = performance.now();
const plan = buildPlan({
  points,
  nSystems: Number(nArg ?? 1000),
  // A probe's identity without a COMPAS binary: only its fields enter the plan.
  compas: { binary: "/opt/COMPAS/src/bin/COMPAS", version: "03.07.00", sha256: "0".repeat(64) },
});
const t2 = performance.now();
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
// plan.json is written as this text (src/store/ensemble-files.ts jsonText); V8 refuses strings
// beyond ~512 MiB, which is where a plan stops being writable.
let planJsonBytes: number | null = null;
let planJsonError: string | null = null;
try {
  planJsonBytes = Buffer.byteLength(JSON.stringify(plan, null, 2) + "\n");
} catch (err) {
  planJsonError = (err as Error).message;
}
console.log(
  JSON.stringify({
    points: points.length,
    tasks: plan.tasks.length,
    expandS: (t1 - t0) / 1000,
    buildPlanS: (t2 - t1) / 1000,
    peakRssBytes,
    planJsonBytes,
    planJsonError,
  }),
);
