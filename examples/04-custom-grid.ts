/**
 * Example 4: a grid of your own from a YAML (or JSON) file: list its points, estimate the
 * run, then run it.
 *
 *   npx tsx examples/04-custom-grid.ts --compas-binary /path/to/COMPAS [--grid my-grid.yaml]
 *
 * The grid file format is explained in examples/grid.example.yaml. Point to COMPAS with
 * --compas-binary, COMPAS_BINARY, COMPAS_ROOT_DIR or PATH (see example 1).
 *
 * Environment: COMPAS_EXAMPLE_OUT (output folder, default example-output/04-custom-grid),
 * COMPAS_EXAMPLE_N (binaries per grid point, default 100).
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { estimateEnsemble, formatEstimate } from "../src/entry/estimate.js";
import { expandGrid, isCompasEnsembleError, loadGridFile, runEnsemble } from "../src/index.js";

const { values } = parseArgs({
  options: {
    "compas-binary": { type: "string" },
    grid: { type: "string", default: fileURLToPath(new URL("./grid.example.yaml", import.meta.url)) },
  },
});
const output = process.env.COMPAS_EXAMPLE_OUT ?? "example-output/04-custom-grid";
const nSystems = Number(process.env.COMPAS_EXAMPLE_N ?? 100);

// A bad file (Z out of range, a typo in an axis name, ...) fails here with one message that
// names the field and the value, before anything runs.
const grid = loadGridFile(values.grid!);
const points = expandGrid(grid);
console.log(`${points.length} points from ${values.grid}:`);
for (const p of points) console.log(`  ${String(p.index).padStart(3)}  ${p.run_id}`);

try {
  // Uses a cached calibration of this COMPAS binary if there is one (example 2 makes one);
  // otherwise the constants measured with COMPAS v03.07.00.
  const estimate = await estimateEnsemble({ points, nSystems, compasBinary: values["compas-binary"] });
  process.stdout.write(formatEstimate(estimate));

  const summary = await runEnsemble({ points, nSystems, compasBinary: values["compas-binary"], output });
  console.log(`${summary.runs.succeeded}/${summary.runs.total} runs succeeded; manifest ${summary.output}/${summary.manifestKey}`);
  process.exitCode = summary.runs.failed > 0 ? 1 : 0;
} catch (err) {
  if (!isCompasEnsembleError(err, "COMPAS_NOT_FOUND")) throw err;
  console.error(`${err.message}\n${err.hint ?? ""}`);
  process.exitCode = 2;
}
