import { logspaceBetween } from "./axes.js";
import type { AxisName } from "./schema.js";

/** A grid before expansion: the values of each of the five axes, in order. */
export type GridSpec = Record<AxisName, number[]>;

/** Options of the two presets. */
export interface PresetOptions {
  /** Number of log-spaced alpha_ce values between 0.1 and 5.0 inclusive. Default 10. */
  nAlphaPoints?: number;
}

/** alpha_ce values of the presets unless `nAlphaPoints` says otherwise. */
export const DEFAULT_ALPHA_POINTS = 10;

const ALPHA_MIN = 0.1;
const ALPHA_MAX = 5.0;

/**
 * The predecessor's sparse grid: 10 alpha x 2 lambda x 1 kick x 2 Z x 1 fa = 40 points.
 * @param options - `nAlphaPoints` (default 10)
 */
export function sparseGrid(options: PresetOptions = {}): GridSpec {
  return {
    alpha_ce: logspaceBetween(ALPHA_MIN, ALPHA_MAX, options.nAlphaPoints ?? DEFAULT_ALPHA_POINTS),
    lambda_ce: [0.1, 0.5],
    kick_sigma: [217],
    metallicity: [0.0001, 0.0142],
    mass_transfer_fa: [0.5],
  };
}

/**
 * The predecessor's full grid: 10 alpha x 4 lambda x 3 kick x 4 Z x 3 fa = 1,440 points.
 * @param options - `nAlphaPoints` (default 10)
 */
export function fullGrid(options: PresetOptions = {}): GridSpec {
  return {
    alpha_ce: logspaceBetween(ALPHA_MIN, ALPHA_MAX, options.nAlphaPoints ?? DEFAULT_ALPHA_POINTS),
    lambda_ce: [0.05, 0.1, 0.5, 1.0],
    kick_sigma: [150, 217, 300],
    metallicity: [0.0001, 0.001, 0.0142, 0.02],
    mass_transfer_fa: [0.25, 0.5, 0.75],
  };
}
