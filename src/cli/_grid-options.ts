import type { Command } from "commander";
import { CompasEnsembleError } from "../errors.js";
import { expandSelection, type GridSelection, MAX_GRID_POINTS, selectGrid, TEST_RUN_POINTS } from "../grid/expand.js";
import { loadGridFile } from "../grid/file.js";
import { DEFAULT_ALPHA_POINTS, fullGrid, type GridSpec, sparseGrid } from "../grid/presets.js";
import type { GridPoint } from "../grid/schema.js";

/** Grid selection flags shared by grid, command, run and plan (the predecessor's names). */
export interface GridFlags {
  sparse?: boolean;
  full?: boolean;
  file?: string;
  nAlphaPoints?: string;
  startIndex?: string;
  endIndex?: string;
  testRun?: boolean;
}

/**
 * Adds the grid flags to a command.
 * @param cmd - a commander command
 * @param defaultSparse - whether no grid flag means the sparse grid (as in the predecessor's run)
 */
export function addGridOptions(cmd: Command, defaultSparse = false): Command {
  return cmd
    .option("--sparse", `the 40-point sparse grid${defaultSparse ? " (default)" : ""}`)
    .option("--full", "the 1,440-point full grid")
    .option("--file <grid>", "a custom grid file (JSON or YAML)")
    .option("--n-alpha-points <n>", `number of log-spaced alpha_ce values (presets only; default ${DEFAULT_ALPHA_POINTS})`)
    .option("--start-index <a>", "first grid index of the slice [a, b)")
    .option("--end-index <b>", "one past the last grid index of the slice")
    .option("--test-run", `only the first ${TEST_RUN_POINTS} points`);
}

/**
 * The grid the flags name, with what to call it in messages, and one clear error for
 * contradictory flags.
 * @param flags - parsed flags
 * @param defaultSparse - use the sparse grid when no grid is named
 */
export function gridFromFlags(flags: GridFlags, defaultSparse = false): { spec: GridSpec; source: string } {
  const chosen = [flags.sparse && "--sparse", flags.full && "--full", flags.file && "--file"].filter(Boolean);
  if (chosen.length > 1) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `Flags ${chosen.join(" and ")} each choose a grid; give only one.`);
  }
  if (chosen.length === 0 && !defaultSparse) {
    throw new CompasEnsembleError("OPTIONS_INVALID", "No grid chosen; pass --sparse, --full or --file <grid>.");
  }
  if (flags.file) return { spec: loadGridFile(flags.file), source: `grid file ${flags.file}` };
  const nAlpha = flags.nAlphaPoints === undefined ? undefined : wholeNumber(flags.nAlphaPoints, "--n-alpha-points", 1, MAX_GRID_POINTS);
  return flags.full
    ? { spec: fullGrid({ nAlphaPoints: nAlpha }), source: "the full grid" }
    : { spec: sparseGrid({ nAlphaPoints: nAlpha }), source: "the sparse grid" };
}

/**
 * Turns grid flags into the slice they select, checked and counted but not expanded.
 * @param flags - parsed flags
 * @param defaultSparse - use the sparse grid when no grid is named
 */
export function selectionFromFlags(flags: GridFlags, defaultSparse = false): GridSelection {
  const { spec, source } = gridFromFlags(flags, defaultSparse);
  if (flags.testRun) {
    if (flags.startIndex !== undefined || flags.endIndex !== undefined) {
      throw new CompasEnsembleError("OPTIONS_INVALID", "--test-run takes the first 3 points; do not combine it with --start-index/--end-index.");
    }
    return selectGrid(spec, 0, TEST_RUN_POINTS, source);
  }
  const start = flags.startIndex === undefined ? 0 : wholeNumber(flags.startIndex, "--start-index", 0);
  const end = flags.endIndex === undefined ? undefined : wholeNumber(flags.endIndex, "--end-index", 0);
  return selectGrid(spec, start, end, source);
}

/**
 * Turns grid flags into points (only the selected slice is built).
 * @param flags - parsed flags
 * @param defaultSparse - use the sparse grid when no grid is named
 */
export function pointsFromFlags(flags: GridFlags, defaultSparse = false): GridPoint[] {
  return expandSelection(selectionFromFlags(flags, defaultSparse));
}

/**
 * Parses a whole-number flag value. Exponent notation is accepted when it names a whole
 * number exactly (`1e4`, `2.5e3`); anything else is refused saying why: not a number, not
 * whole, below `min`, or too large to be handled exactly (above 2^53 - 1).
 * @param text - the value as typed
 * @param flag - flag name, for the message
 * @param min - smallest allowed value
 * @param max - largest allowed value
 */
export function wholeNumber(text: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const t = text.trim();
  const fail = (problem: string) =>
    new CompasEnsembleError("OPTIONS_INVALID", `${flag} ${JSON.stringify(text)} ${problem}.`, {
      hint: `Give a whole number >= ${min}, such as 10000 (or 1e4).`,
    });
  // Decimal digits with an optional fraction and exponent; Number() alone would also take
  // hex, binary, "Infinity" and the empty string.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) throw fail("is not a number");
  const n = Number(t);
  if (!Number.isFinite(n) || Math.abs(n) > Number.MAX_SAFE_INTEGER) {
    throw fail(`is too large: whole numbers above ${Number.MAX_SAFE_INTEGER} (2^53 - 1) cannot be handled exactly`);
  }
  if (!Number.isInteger(n)) throw fail(`is not a whole number${String(n) === t ? "" : ` (it is ${n})`}`);
  if (n < min) throw fail(`is below ${min}, the smallest value it takes`);
  if (n > max) throw fail(`is more than ${max.toLocaleString("en-US")}, the largest value it takes; use a smaller number`);
  return n === 0 ? 0 : n; // not -0
}
