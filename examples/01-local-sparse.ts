/**
 * Example 1: run the sparse grid on this machine, then run it again to see the resume.
 *
 *   npx tsx examples/01-local-sparse.ts --compas-binary /path/to/COMPAS
 *
 * COMPAS is the C++ program you build yourself (https://compas.readthedocs.io). Point to it
 * with --compas-binary, or set COMPAS_BINARY, or set COMPAS_ROOT_DIR (the library then uses
 * $COMPAS_ROOT_DIR/src/bin/COMPAS), or put COMPAS on your PATH. To try the example without
 * COMPAS, use the repository's test stand-in: --compas-binary test/support/fake-compas/COMPAS.
 *
 * Environment: COMPAS_EXAMPLE_OUT (output folder, default example-output/01-local-sparse),
 * COMPAS_EXAMPLE_N (binaries per grid point, default 100).
 */
import { parseArgs } from "node:util";
import { expandGrid, isCompasEnsembleError, LocalExecutor, runEnsemble, sliceGrid, sparseGrid, type RunEnsembleOptions } from "../src/index.js";

const { values } = parseArgs({ options: { "compas-binary": { type: "string" } } });
const output = process.env.COMPAS_EXAMPLE_OUT ?? "example-output/01-local-sparse";
const nSystems = Number(process.env.COMPAS_EXAMPLE_N ?? 100);

// The predecessor's 40-point sparse grid, in its order and with its run ids. The first four
// points keep the example short: remove sliceGrid to run all 40 (like --start-index/--end-index).
const points = sliceGrid(expandGrid(sparseGrid()), 0, 4);

const options: RunEnsembleOptions = {
  points,
  nSystems,
  compasBinary: values["compas-binary"],
  output,
  // One COMPAS process per core; a failed task is retried twice.
  executor: new LocalExecutor({ retries: 2 }),
  onEvent: (e) => {
    if (e.type === "task-finished") console.log(`  ${e.taskId}: ${e.fragment.status} in ${e.fragment.duration_s.toFixed(1)} s`);
  },
};

try {
  console.log(`Running ${points.length} grid points x ${nSystems} binaries into ${output} ...`);
  const first = await runEnsemble(options);
  console.log(`first call: ${first.runs.succeeded}/${first.runs.total} runs succeeded, ${first.tasks.submitted} task(s) ran`);

  // Calling again with the same options finds every task's verified output and skips it.
  // After a crash or Ctrl-C the same call runs only what is missing.
  const second = await runEnsemble({ ...options, executor: new LocalExecutor() });
  console.log(`second call: skipped ${second.tasks.skipped} of ${second.tasks.total} tasks, ran ${second.tasks.submitted}`);
  console.log(`manifest: ${second.output}/${second.manifestKey}`);
  process.exitCode = second.runs.failed > 0 ? 1 : 0;
} catch (err) {
  if (!isCompasEnsembleError(err, "COMPAS_NOT_FOUND")) throw err;
  console.error(`${err.message}\n${err.hint ?? ""}\nTry the stand-in: npx tsx examples/01-local-sparse.ts --compas-binary test/support/fake-compas/COMPAS`);
  process.exitCode = 2;
}
