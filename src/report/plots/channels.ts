import { SUMMARY_CHANNELS, SUMMARY_DCO_TYPES } from "../../dataset/summary.js";
import type { ScienceData } from "../types.js";
import { baseOptions, serialise, shortNum, sortedUnique, toCsv, zLabel, type Figure } from "./figure.js";
import type { PlotLib } from "./plot-lib.js";
import { byMetallicityAndAlpha, xColumn } from "./yields.js";

/** Channel names for the legend (Broekgaarden et al. 2021 labels; see docs/sbi-dataset.md). */
const CHANNEL_NAMES: Record<string, string> = {
  I: "I classic",
  II: "II stable MT only",
  III: "III single-core CE",
  IV: "IV double-core CE",
  V: "V other",
  unknown: "unknown",
};

/**
 * Formation-channel fractions against alpha_ce, stacked, one panel per metallicity. Fractions
 * are of all DCOs (merging or not), pooled over the runs that share alpha_ce and metallicity:
 * each run's fractions weighted by its number of DCOs.
 * @param science - the science section's data
 * @param lib - Plot and its document
 */
export function channelsFigure(science: ScienceData, lib: PlotLib): Figure {
  const { Plot } = lib;
  const perBinary = SUMMARY_DCO_TYPES.map((t) => xColumn(science, `yield_${t}`));
  const dcosOf = (run: number): number => perBinary.reduce((s, f) => s + f(run), 0) * science.runs[run]!.nSystems;
  const rows: Record<string, number | string>[] = [];
  for (const g of byMetallicityAndAlpha(science)) {
    const total = g.runs.reduce((s, r) => s + dcosOf(r), 0);
    for (const channel of SUMMARY_CHANNELS) {
      const frac = xColumn(science, `frac_channel_${channel}`);
      const count = g.runs.reduce((s, r) => s + frac(r) * dcosOf(r), 0);
      rows.push({
        metallicity: g.metallicity,
        Z: zLabel(g.metallicity),
        alpha_ce: g.alpha_ce,
        channel: CHANNEL_NAMES[channel]!,
        dcos: Math.round(count),
        fraction: total > 0 ? count / total : NaN,
      });
    }
  }
  const drawn = rows.filter((r) => Number.isFinite(r.fraction as number));
  const zs = sortedUnique(science.runs.map((r) => r.params.metallicity)).map(zLabel);
  const alphas = sortedUnique(science.runs.map((r) => r.params.alpha_ce));
  const channels = SUMMARY_CHANNELS.map((c) => CHANNEL_NAMES[c]!).filter((c) => drawn.some((r) => r.channel === c && (r.fraction as number) > 0));
  const html =
    drawn.length === 0 || alphas.length < 2
      ? null
      : serialise(
          Plot.plot({
            ...baseOptions(lib),
            height: 80 + 140 * zs.length,
            marginLeft: 50,
            marginRight: 100,
            x: { type: alphas[0]! > 0 ? "log" : "linear", label: "alpha_ce →", tickFormat: shortNum },
            y: { domain: [0, 1], label: "↑ fraction of DCOs", ticks: 4 },
            fy: { domain: zs, label: null },
            color: { type: "categorical", domain: channels, legend: true, label: "channel" },
            marks: [
              Plot.areaY(
                drawn.filter((r) => channels.includes(r.channel as string)),
                { x: "alpha_ce", y: "fraction", fy: "Z", fill: "channel", order: channels, curve: "linear" },
              ),
              Plot.frame({ stroke: "#ccc" }),
            ],
          }),
        );
  return {
    id: "plot-channels",
    title: "Formation channels",
    caption:
      "Fraction of DCOs (all types, merging or not) in each formation channel against alpha_ce, stacked, one panel per metallicity. " +
      "Runs sharing alpha_ce and metallicity are pooled (weighted by their number of DCOs). Channels need COMPAS's BSE_RLOF output; without it DCOs count as unknown.",
    html,
    ...(html === null
      ? { note: alphas.length < 2 ? "The grid has a single alpha_ce value, so there is no trend to stack." : "No run has any DCO." }
      : {}),
    csv: { name: "channels.csv", text: toCsv(["metallicity", "alpha_ce", "channel", "dcos", "fraction"], rows) },
  };
}
