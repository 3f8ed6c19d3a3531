import { CompasEnsembleError } from "../errors.js";
import { MAX_GRID_POINTS } from "./expand.js";

/**
 * Evenly spaced values over [start, stop], endpoints included, exactly like numpy
 * `linspace(start, stop, num)` (value i is start + i * step; the last is stop itself).
 * @param start - first value
 * @param stop - last value
 * @param num - number of values (>= 1)
 */
export function linspace(start: number, stop: number, num: number): number[] {
  if (!Number.isInteger(num) || num < 1) {
    throw new CompasEnsembleError("GRID_INVALID", `linspace needs a whole number of points >= 1, got ${num}.`);
  }
  // An axis longer than a whole run may be is a typo, and would fill the memory first.
  if (num > MAX_GRID_POINTS) {
    throw new CompasEnsembleError(
      "GRID_INVALID",
      `linspace of ${num} values is more than the limit of ${MAX_GRID_POINTS.toLocaleString("en-US")} points per run or plan; use fewer.`,
    );
  }
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(i * step + start);
  out[num - 1] = stop;
  return out;
}

/**
 * Values spaced evenly on a log scale, like numpy `logspace(start, stop, num, base)`:
 * `base ** linspace(start, stop, num)`, so start and stop are exponents.
 * @param start - exponent of the first value
 * @param stop - exponent of the last value
 * @param num - number of values (>= 1)
 * @param base - base of the exponents, default 10
 */
export function logspace(start: number, stop: number, num: number, base = 10): number[] {
  return linspace(start, stop, num).map((e) => Math.pow(base, e));
}

/**
 * The predecessor's alpha axis: `logspace(log10(min), log10(max), num)`. The endpoints come
 * back as 10 ** log10(v), which need not equal v exactly, just as in numpy.
 * @param min - first value (> 0)
 * @param max - last value (> 0)
 * @param num - number of values
 */
export function logspaceBetween(min: number, max: number, num: number): number[] {
  return logspace(Math.log10(min), Math.log10(max), num);
}

/**
 * An axis given as explicit values, copied so that callers cannot mutate a grid behind its back.
 * @param values - the values in order
 */
export function values(...values: number[]): number[] {
  return [...values];
}
