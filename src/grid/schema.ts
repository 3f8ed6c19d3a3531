import { z } from "zod";
import { KeyNameSchema } from "../store/safe-keys.js";

/** The five physics axes, in the predecessor's order (alpha outermost, fa innermost). */
export const AXES = ["alpha_ce", "lambda_ce", "kick_sigma", "metallicity", "mass_transfer_fa"] as const;

/** Name of one grid axis. */
export type AxisName = (typeof AXES)[number];

/** The five parameters of one grid point, as recorded in the manifest's `params`. */
export const ParamsSchema = z.strictObject({
  alpha_ce: z.number(),
  lambda_ce: z.number(),
  kick_sigma: z.number(),
  metallicity: z.number(),
  mass_transfer_fa: z.number(),
});
/** The five parameters of one grid point. */
export type Params = z.infer<typeof ParamsSchema>;

/** One grid point: its index k in the grid, its run id and its parameters. */
export const GridPointSchema = z.strictObject({
  index: z.number().int().nonnegative(),
  /** Names the run's folder under runs/, so it must be a safe file name. */
  run_id: KeyNameSchema,
  params: ParamsSchema,
});
/** One grid point. */
export type GridPoint = z.infer<typeof GridPointSchema>;
