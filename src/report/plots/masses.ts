import type { ScienceData } from "../types.js";
import { baseOptions, num, serialise, toCsv, type Figure } from "./figure.js";
import type { PlotLib } from "./plot-lib.js";

/** Most points the scatter draws; above it every k-th merging DCO is drawn (said in the caption). */
export const MAX_SCATTER_POINTS = 4000;

const CHANNEL_ORDER = ["I", "II", "III", "IV", "V", "unknown"];

/**
 * m1 against m2 of merging DCOs (all types), coloured by formation channel, log-log. Large
 * ensembles are thinned to {@link MAX_SCATTER_POINTS} by taking every k-th DCO in table order,
 * which keeps the mix of runs; the CSV holds exactly the points drawn.
 * @param science - the science section's data
 * @param lib - Plot and its document
 */
export function massesFigure(science: ScienceData, lib: PlotLib): Figure {
  const { Plot } = lib;
  const merging: number[] = [];
  for (let i = 0; i < science.dco.length; i++) if (science.dco.merges_hubble_time[i] === 1) merging.push(i);
  const stride = Math.max(1, Math.ceil(merging.length / MAX_SCATTER_POINTS));
  const drawn = merging.filter((_, k) => k % stride === 0);
  const data = drawn.map((i) => ({
    run_id: science.runs[science.dco.run_index[i]!]!.run_id,
    seed: science.dco.seed[i]!.toString(),
    type: science.dco.type[i]!,
    m1: science.dco.m1[i]!,
    m2: science.dco.m2[i]!,
    channel: science.dco.channel[i]!,
  }));
  const channels = CHANNEL_ORDER.filter((c) => data.some((d) => d.channel === c));
  const csv = { name: "m1_m2.csv", text: toCsv(["run_id", "seed", "type", "m1", "m2", "channel"], data) };
  const base = {
    id: "plot-masses",
    title: "Merging DCOs: m1 against m2",
    caption:
      `Component masses of merging DCOs (BBH, BHNS, BNS), coloured by formation channel, log-log. ` +
      (stride > 1 ? `Every ${stride}th of ${merging.length} merging DCOs is drawn (${drawn.length} points).` : `${drawn.length} merging DCOs.`),
    csv,
  };
  if (data.length === 0) return { ...base, html: null, note: "No merging DCO in this ensemble." };
  const html = serialise(
    Plot.plot({
      ...baseOptions(lib),
      height: 420,
      marginLeft: 56,
      x: { type: "log", label: "m1 [Msol] →", tickFormat: num, grid: true },
      y: { type: "log", label: "↑ m2 [Msol]", tickFormat: num, grid: true },
      color: { type: "categorical", domain: channels, legend: true, label: "channel" },
      marks: [Plot.dot(data, { x: "m1", y: "m2", fill: "channel", r: 2, fillOpacity: 0.7 }), Plot.frame({ stroke: "#ccc" })],
    }),
  );
  return { ...base, html };
}
