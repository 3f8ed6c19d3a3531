import { CompasEnsembleError } from "../errors.js";
import { formatFixed, formatPlain } from "./_format.js";
import type { GridSpec } from "./presets.js";
import { AXES, type AxisName, type GridPoint, type Params } from "./schema.js";
import { validateGridSpec } from "./validate.js";

/**
 * The most points one command plans or runs: the limit applies to the slice being planned
 * or run (the whole grid when no slice is given), not to the grid, because a slice is
 * computed from its indices without expanding the grid. A bigger grid is therefore run in
 * slices (--start-index/--end-index), which keep each point's grid index, run id and seeds.
 */
export const MAX_GRID_POINTS = 1_000_000;

// One piece of the run id per axis, in the order of AXES; the predecessor's format string
// `alpha{:.3f}_lambda{:.2f}_kick{kick}_Z{:.5f}_fa{:.2f}`.
const RUN_ID_PARTS: ReadonlyArray<{ axis: AxisName; label: (v: number) => string }> = [
  { axis: "alpha_ce", label: (v) => `alpha${formatFixed(v, 3)}` },
  { axis: "lambda_ce", label: (v) => `lambda${formatFixed(v, 2)}` },
  { axis: "kick_sigma", label: (v) => `kick${formatPlain(v)}` },
  { axis: "metallicity", label: (v) => `Z${formatFixed(v, 5)}` },
  { axis: "mass_transfer_fa", label: (v) => `fa${formatFixed(v, 2)}` },
];

/**
 * The predecessor's run id, `alpha{:.3f}_lambda{:.2f}_kick{kick}_Z{:.5f}_fa{:.2f}`, formatted
 * exactly as Python would so that existing manifests and loaders keep matching.
 * @param params - the five parameters of a grid point
 */
export function runId(params: Params): string {
  return RUN_ID_PARTS.map((p) => p.label(params[p.axis])).join("_");
}

/** A slice of a grid, checked and counted but not expanded (see {@link selectGrid}). */
export interface GridSelection {
  /** The validated grid. */
  readonly spec: GridSpec;
  /** First grid index of the slice. */
  readonly start: number;
  /** One past the last grid index, clipped to the grid's length. */
  readonly end: number;
  /** Points in the whole grid (the product of the axis lengths, exact at any size). */
  readonly gridPoints: bigint;
}

/**
 * Checks a grid and a slice of it without expanding anything: the axes (see
 * {@link validateGridSpec}), that no two points share a run id, the slice bounds, and that
 * the slice holds at most {@link MAX_GRID_POINTS} points. Costs the axis lengths, not the
 * number of points, so a slice of a grid of 10^13 points is as cheap as one of 40.
 * @param spec - the five axes
 * @param start - first index (default 0)
 * @param end - one past the last index (default: the grid's length; clipped to it)
 * @param source - what to call the grid in messages (e.g. "grid file my.yaml")
 */
export function selectGrid(spec: GridSpec, start = 0, end?: number, source = "grid"): GridSelection {
  validateGridSpec(spec, source);
  const labels = axisLabels(spec);
  assertUniqueRunIds(spec, labels);
  const gridPoints = AXES.reduce((n, a) => n * BigInt(spec[a].length), 1n);
  const stop = sliceRange(gridPoints, start, end);
  if (stop - start > MAX_GRID_POINTS) {
    const shape = AXES.map((a) => `${spec[a].length} ${a}`).join(" x ");
    const what =
      start === 0 && BigInt(stop) === gridPoints
        ? `${source} has ${count(gridPoints)} points (${shape} values)`
        : `the slice [${start}, ${stop}) of ${source} has ${count(stop - start)} points`;
    throw new CompasEnsembleError(
      "GRID_INVALID",
      `${upperFirst(what)}, more than the limit of ${count(MAX_GRID_POINTS)} points per run or plan; ` +
        `run it in slices of at most ${count(MAX_GRID_POINTS)} points with --start-index and --end-index.`,
    );
  }
  return Object.freeze({ spec, start, end: stop, gridPoints });
}

/**
 * The points of a selection, index k being the k-th element of the Cartesian product with
 * alpha_ce outermost and mass_transfer_fa innermost (Python's itertools.product order).
 * @param selection - from {@link selectGrid}
 */
export function expandSelection(selection: GridSelection): GridPoint[] {
  const { spec, start, end } = selection;
  const axes = AXES.map((a) => spec[a]);
  const labels = axisLabels(spec);
  // Mixed-radix digits of the first index (fa is the fastest digit), then an odometer: no
  // division per point and nothing outside the slice is ever built.
  const digits = [0, 0, 0, 0, 0];
  let rest = start;
  for (let d = 4; d >= 0; d--) {
    const len = axes[d]!.length;
    digits[d] = rest % len;
    rest = Math.floor(rest / len);
  }
  const points: GridPoint[] = new Array(end - start);
  for (let k = start; k < end; k++) {
    const [a, l, s, z, f] = digits as [number, number, number, number, number];
    points[k - start] = {
      index: k,
      run_id: `${labels[0]![a]}_${labels[1]![l]}_${labels[2]![s]}_${labels[3]![z]}_${labels[4]![f]}`,
      params: {
        alpha_ce: axes[0]![a]!,
        lambda_ce: axes[1]![l]!,
        kick_sigma: axes[2]![s]!,
        metallicity: axes[3]![z]!,
        mass_transfer_fa: axes[4]![f]!,
      },
    };
    for (let d = 4; d >= 0; d--) {
      if (++digits[d]! < axes[d]!.length) break;
      digits[d] = 0;
    }
  }
  return points;
}

/**
 * Expands a grid into its points: the Cartesian product with alpha_ce outermost and
 * mass_transfer_fa innermost (Python's itertools.product order), index k from 0.
 * The spec is validated first, so a bad axis fails before anything is planned; a grid of
 * more than {@link MAX_GRID_POINTS} points is refused (take slices with {@link sliceGrid}).
 * @param spec - the five axes
 * @param source - what to call the grid in messages
 */
export function expandGrid(spec: GridSpec, source = "grid"): GridPoint[] {
  return expandSelection(selectGrid(spec, 0, undefined, source));
}

// Every value of every axis formatted once as its piece of the run id.
function axisLabels(spec: GridSpec): string[][] {
  return RUN_ID_PARTS.map((p) => spec[p.axis].map(p.label));
}

// Distinct values can still round to one run id (alpha 0.1001 and 0.1004 both print 0.100),
// and two runs sharing an id would overwrite each other's output. The run id joins one
// piece per axis and no piece contains "_", so two points share an id exactly when, on
// some axis, two values share a piece: checking the axes checks the whole grid. The points
// named are the first clash in grid order, as a walk over every point would find it.
function assertUniqueRunIds(spec: GridSpec, labels: string[][]): void {
  let clash: { first: bigint; second: bigint } | undefined;
  let stride = 1n;
  for (let d = AXES.length - 1; d >= 0; d--) {
    const seen = new Map<string, number>();
    labels[d]!.forEach((label, j) => {
      const i = seen.get(label);
      if (i === undefined) seen.set(label, j);
      else if (clash === undefined || BigInt(j) * stride < clash.second) clash = { first: BigInt(i) * stride, second: BigInt(j) * stride };
    });
    stride *= BigInt(spec[AXES[d]!].length);
  }
  if (!clash) return;
  const [first] = expandSelection({ spec, start: Number(clash.first), end: Number(clash.first) + 1, gridPoints: 0n });
  throw new CompasEnsembleError(
    "GRID_INVALID",
    `Grid points ${clash.first} and ${clash.second} both get run id ${first!.run_id} because the run id rounds ` +
      `alpha to 3, lambda and fa to 2 and Z to 5 decimals; make those values differ at that precision.`,
  );
}

// Checks --start-index/--end-index against a grid of `total` points and returns the end
// clipped to it.
function sliceRange(total: bigint, start: number, end: number | undefined): number {
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new CompasEnsembleError("GRID_INVALID", `--start-index must be a whole number >= 0, got ${start}.`);
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < 0)) {
    throw new CompasEnsembleError("GRID_INVALID", `--end-index must be a whole number >= 0, got ${end}.`);
  }
  const stop = end === undefined || BigInt(end) > total ? total : BigInt(end);
  if (BigInt(start) >= stop) {
    throw new CompasEnsembleError(
      "GRID_INVALID",
      `The slice [${start}, ${end ?? total}) of a ${total}-point grid is empty; ` +
        `choose --start-index below ${stop} and --end-index above it.`,
    );
  }
  return Number(stop);
}

/**
 * The half-open slice [start, end) of a grid, with end clipped to the grid's length, as the
 * predecessor's --start-index/--end-index did. Indices keep their grid position. Given the
 * grid's axes, only the slice is built (see {@link selectGrid}); given expanded points, they
 * are sliced.
 * @param grid - the five axes, or the expanded grid
 * @param start - first index (default 0)
 * @param end - one past the last index (default: the grid's length)
 * @param source - what to call the grid in messages
 */
export function sliceGrid(grid: GridSpec | readonly GridPoint[], start = 0, end?: number, source = "grid"): GridPoint[] {
  if (!Array.isArray(grid)) return expandSelection(selectGrid(grid as GridSpec, start, end, source));
  const points = grid as readonly GridPoint[];
  return points.slice(start, sliceRange(BigInt(points.length), start, end));
}

/** Number of points the predecessor's --test-run took from the start of the grid. */
export const TEST_RUN_POINTS = 3;

function count(n: number | bigint): string {
  return n.toLocaleString("en-US");
}

function upperFirst(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
