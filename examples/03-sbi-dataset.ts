/**
 * Example 3: run a few grid points, build the SBI dataset from their outputs, and load it in
 * Python (examples/03_load_sbi.py feeds theta and x to the `sbi` package).
 *
 *   npx tsx examples/03-sbi-dataset.ts --compas-binary /path/to/COMPAS
 *   python3 examples/03_load_sbi.py example-output/03-sbi-dataset/sbi.h5
 *
 * Point to COMPAS with --compas-binary, COMPAS_BINARY, COMPAS_ROOT_DIR or PATH (see example 1);
 * test/support/fake-compas/COMPAS is a stand-in whose "physics" is a toy.
 *
 * Environment: COMPAS_EXAMPLE_OUT (output folder, default example-output/03-sbi-dataset),
 * COMPAS_EXAMPLE_N (binaries per grid point, default 2000: DCOs are rare, ~0.05-1.3 %).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { extractCommand } from "../src/entry/sbi.js";
import { expandGrid, isCompasEnsembleError, runEnsemble, sliceGrid, sparseGrid } from "../src/index.js";

const { values } = parseArgs({ options: { "compas-binary": { type: "string" } } });
const output = process.env.COMPAS_EXAMPLE_OUT ?? "example-output/03-sbi-dataset";
const nSystems = Number(process.env.COMPAS_EXAMPLE_N ?? 2000);

try {
  // Four points of the sparse grid that differ in alpha_ce, lambda_ce and metallicity.
  const points = sliceGrid(expandGrid(sparseGrid()), 0, 4);
  const summary = await runEnsemble({ points, nSystems, compasBinary: values["compas-binary"], output });
  console.log(`ensemble: ${summary.runs.succeeded}/${summary.runs.total} runs succeeded (${summary.tasks.skipped} already done)`);

  // What `compas-ensemble extract <dir> --out sbi.h5` does: per-DCO table, theta and x per run.
  // Other formats: { format: "parquet" } for pandas, { format: "npy" } for numpy.load.
  const sbiFile = join(output, "sbi.h5");
  const result = await extractCommand({ source: output, out: sbiFile, spinModel: "bavera2021" });
  console.log(`dataset: ${result.paths.join(", ")}`);
  console.log(`runs ${result.nRuns}, DCOs ${result.nDco}, x length ${result.xLength}`);
  for (const w of result.warnings) console.log(`warning: ${w}`);
  console.log(`next: python3 examples/03_load_sbi.py ${sbiFile}`);
} catch (err) {
  if (!isCompasEnsembleError(err, "COMPAS_NOT_FOUND")) throw err;
  console.error(`${err.message}\n${err.hint ?? ""}`);
  process.exitCode = 2;
}
