import { CompasEnsembleError } from "../errors.js";
import { formatFixed, formatPlain } from "./_format.js";
import type { GridSpec } from "./presets.js";
import type { GridPoint, Params } from "./schema.js";
import { validateGridSpec } from "./validate.js";

/**
 * The predecessor's run id, `alpha{:.3f}_lambda{:.2f}_kick{kick}_Z{:.5f}_fa{:.2f}`, formatted
 * exactly as Python would so that existing manifests and loaders keep matching.
 * @param params - the five parameters of a grid point
 */
export function runId(params: Params): string {
  return (
    `alpha${formatFixed(params.alpha_ce, 3)}` +
    `_lambda${formatFixed(params.lambda_ce, 2)}` +
    `_kick${formatPlain(params.kick_sigma)}` +
    `_Z${formatFixed(params.metallicity, 5)}` +
    `_fa${formatFixed(params.mass_transfer_fa, 2)}`
  );
}

/**
 * Expands a grid into its points: the Cartesian product with alpha_ce outermost and
 * mass_transfer_fa innermost (Python's itertools.product order), index k from 0.
 * The spec is validated first, so a bad axis fails before anything is planned.
 * @param spec - the five axes
 */
export function expandGrid(spec: GridSpec): GridPoint[] {
  validateGridSpec(spec);
  const points: GridPoint[] = [];
  for (const alpha_ce of spec.alpha_ce)
    for (const lambda_ce of spec.lambda_ce)
      for (const kick_sigma of spec.kick_sigma)
        for (const metallicity of spec.metallicity)
          for (const mass_transfer_fa of spec.mass_transfer_fa) {
            const params = { alpha_ce, lambda_ce, kick_sigma, metallicity, mass_transfer_fa };
            points.push({ index: points.length, run_id: runId(params), params });
          }
  assertUniqueRunIds(points);
  return points;
}

// Distinct values can still round to one run id (alpha 0.1001 and 0.1004 both print 0.100),
// and two runs sharing an id would overwrite each other's output.
function assertUniqueRunIds(points: GridPoint[]): void {
  const seen = new Map<string, GridPoint>();
  for (const p of points) {
    const prev = seen.get(p.run_id);
    if (prev) {
      throw new CompasEnsembleError(
        "GRID_INVALID",
        `Grid points ${prev.index} and ${p.index} both get run id ${p.run_id} because the run id rounds ` +
          `alpha to 3, lambda and fa to 2 and Z to 5 decimals; make those values differ at that precision.`,
      );
    }
    seen.set(p.run_id, p);
  }
}

/**
 * The half-open slice [start, end) of a grid, with end clipped to the grid's length, as the
 * predecessor's --start-index/--end-index did. Indices keep their grid position.
 * @param points - the expanded grid
 * @param start - first index (default 0)
 * @param end - one past the last index (default: the grid's length)
 */
export function sliceGrid(points: GridPoint[], start = 0, end?: number): GridPoint[] {
  if (!Number.isInteger(start) || start < 0) {
    throw new CompasEnsembleError("GRID_INVALID", `--start-index must be a whole number >= 0, got ${start}.`);
  }
  if (end !== undefined && (!Number.isInteger(end) || end < 0)) {
    throw new CompasEnsembleError("GRID_INVALID", `--end-index must be a whole number >= 0, got ${end}.`);
  }
  const stop = Math.min(end ?? points.length, points.length);
  if (start >= stop) {
    throw new CompasEnsembleError(
      "GRID_INVALID",
      `The slice [${start}, ${end ?? points.length}) of a ${points.length}-point grid is empty; ` +
        `choose --start-index below ${Math.min(stop, points.length)} and --end-index above it.`,
    );
  }
  return points.slice(start, stop);
}

/** Number of points the predecessor's --test-run took from the start of the grid. */
export const TEST_RUN_POINTS = 3;
