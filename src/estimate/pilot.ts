import { countTarget, describeTarget } from "../plan/adaptive.js";
import type { AdaptiveSpec } from "../plan/schema.js";
import type { GridPoint } from "../grid/schema.js";
import type { CalibrationRecord } from "./calibrate.js";

// Predicting the N of each adaptive run from the calibration's corners (docs/adaptive.md,
// "The estimate"). The rule is deliberately simple: a run takes the yield of the calibration
// corner nearest to it in (ln alpha_ce, ln Z), the two axes the corners span; the other axes
// are not looked at. The adaptive loop stops a run at the first chunk whose prefix holds the
// target, so the expected N is the target over the yield, rounded up to whole chunks.

/** One run's predicted size. */
export interface PredictedRun {
  run_id: string;
  /** Binaries the run is predicted to need: whole chunks, at least one, at most the cap. */
  nSystems: number;
  /** Target DCOs per binary at its corner; null without a pilot. */
  dcosPerBinary: number | null;
  /** The calibration corner whose yield it took; null without a pilot. */
  corner: string | null;
  /** True when predicted at the cap (no target DCO in the corner's pilot, none asked for, or the cap is below the prediction). */
  atCap: boolean;
}

/** Predicted sizes of every run, and notes for people. */
export interface Prediction {
  runs: PredictedRun[];
  notes: string[];
}

type Corner = CalibrationRecord["corners"][number];

/**
 * Predicts each run's N from the DCO counts of a calibration made at the grid's corners.
 * Without such counts every run is predicted at the cap.
 * @param points - the grid's runs
 * @param spec - the adaptive rule (checked)
 * @param pilot - a calibration holding DCO counts at the corners, if any
 */
export function predictRunSizes(points: readonly GridPoint[], spec: AdaptiveSpec, pilot: CalibrationRecord | undefined): Prediction {
  const corners = (pilot?.corners ?? []).filter((c) => c.dcos !== undefined && c.alpha_ce !== undefined && c.metallicity !== undefined);
  // "merging BBH": the kind without the count.
  const what = describeTarget(spec.target).replace(/^\d+ /, "");
  if (corners.length === 0) {
    return {
      runs: points.map((p) => ({ run_id: p.run_id, nSystems: spec.max, dcosPerBinary: null, corner: null, atCap: true })),
      notes: [
        `No pilot DCO counts at this grid's corners, so every run is priced at the cap of ${spec.max} binaries; ` +
          "calibrate (--calibrate) to predict each run's N from the corners' yields of " + what + ".",
      ],
    };
  }
  const yieldOf = new Map(corners.map((c) => [c, countTarget(c.dcos!, spec.target) / c.n_systems]));
  const runs = points.map((p): PredictedRun => {
    const corner = corners.reduce((best, c) => (distance(p, c) < distance(p, best) ? c : best));
    const y = yieldOf.get(corner)!;
    const chunks = y > 0 ? Math.ceil(spec.target.count / y / spec.chunk) : Infinity;
    const n = Math.min(spec.max, chunks * spec.chunk);
    return { run_id: p.run_id, nSystems: n, dcosPerBinary: y, corner: corner.run_id, atCap: n >= spec.max };
  });
  const notes = [
    `Adaptive N per run predicted from the calibration's ${corners.length} corner(s): each run takes the yield of ${what} ` +
      "at the corner nearest to it in (ln alpha_ce, ln Z), N = target / yield rounded up to whole chunks, at most the cap; " +
      "surplus chunks of a wave are not counted.",
  ];
  for (const c of corners) {
    const k = countTarget(c.dcos!, spec.target);
    const nearest = runs.filter((r) => r.corner === c.run_id).length;
    if (k === 0) {
      notes.push(
        `Corner ${c.run_id} had no ${what} in its ${c.n_systems} pilot binaries: its ${nearest} nearest run(s) are priced at the cap; ` +
          "a larger calibration (--calibration-binaries) would tell more.",
      );
    } else if (k < 10) {
      notes.push(`Corner ${c.run_id} counted only ${k} target DCO(s) in ${c.n_systems} pilot binaries: its yield, and the N of its ${nearest} nearest run(s), is rough.`);
    }
  }
  return { runs, notes };
}

function distance(p: GridPoint, c: Corner): number {
  return Math.abs(Math.log(p.params.alpha_ce / c.alpha_ce!)) + Math.abs(Math.log(p.params.metallicity / c.metallicity!));
}
