import { Command } from "commander";
import { buildCompasArgs, displayCommand, withOutput } from "../compas/argv.js";
import { resolveCompasBinary } from "../compas/probe.js";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { expandSelection, selectGrid } from "../grid/expand.js";
import { firstSeedOfRun } from "../plan/build.js";
import { RUNS_PREFIX } from "../store/keys.js";
import { addCompasOptions, type RunFlags } from "./_compas-options.js";
import { addGridOptions, type GridFlags, gridFromFlags, pointsFromFlags, wholeNumber } from "./_grid-options.js";

/** `compas-ensemble grid`: prints the points of a grid. */
export function gridCommand(): Command {
  return addGridOptions(new Command("grid").description("print the points of a grid"))
    .option("--json", "print JSON (index, run_id, params)")
    .action((flags: GridFlags & { json?: boolean }) => {
      const points = pointsFromFlags(flags);
      if (flags.json) {
        process.stdout.write(JSON.stringify(points, null, 2) + "\n");
        return;
      }
      for (const p of points) {
        const v = p.params;
        process.stdout.write(
          `${String(p.index).padStart(5)}  ${p.run_id}  alpha_ce=${v.alpha_ce} lambda_ce=${v.lambda_ce} ` +
            `kick_sigma=${v.kick_sigma} metallicity=${v.metallicity} mass_transfer_fa=${v.mass_transfer_fa}\n`,
        );
      }
    });
}

/** `compas-ensemble command`: prints the exact COMPAS command for one grid point. */
export function commandCommand(): Command {
  return addCompasOptions(addGridOptions(new Command("command").description("print the exact COMPAS command for one grid point"), true))
    .requiredOption("--index <k>", "grid index")
    .option("--output-dir <dir>", "ensemble output directory", "./compas-ensemble-output")
    .action((extra: string[], flags: RunFlags & { index: string }) => {
      const { spec, source } = gridFromFlags(flags, true);
      const k = wholeNumber(flags.index, "--index", 0);
      // Only the one point is built, so this works on a grid of any size.
      const total = selectGrid(spec, 0, 1, source).gridPoints;
      if (BigInt(k) >= total) {
        throw new CompasEnsembleError("OPTIONS_INVALID", `--index ${k} is outside the grid of ${total} points; use 0 to ${total - 1n}.`);
      }
      const point = expandSelection(selectGrid(spec, k, k + 1, source))[0]!;
      const n = wholeNumber(flags.nSystems, "--n-systems", 1);
      const seed = firstSeedOfRun(wholeNumber(flags.seedBase, "--seed-base", 0), k, n);
      let binary = "COMPAS";
      try {
        binary = resolveCompasBinary({ compasBinary: flags.compasBinary });
      } catch (err) {
        if (!isCompasEnsembleError(err, "COMPAS_NOT_FOUND") || flags.compasBinary) throw err;
      }
      const args = buildCompasArgs(point, { nSystems: n, seed }, {
        profile: flags.profile,
        extraFlags: extra,
        allowInertAxes: flags.allowInertAxes,
      });
      process.stdout.write(displayCommand([binary, ...withOutput(args, `${flags.outputDir}/${RUNS_PREFIX}${point.run_id}`)]) + "\n");
    });
}
