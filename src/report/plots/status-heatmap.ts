import { formatDuration } from "../../util/format.js";
import { AXES, type AxisName } from "../../grid/schema.js";
import type { ReportRun, RunState, StatusData } from "../types.js";
import { baseOptions, num, serialise, shortNum, sortedUnique, toCsv, zLabel, type Figure } from "./figure.js";
import type { PlotLib } from "./plot-lib.js";

/** Fill colour of each run state (Okabe-Ito based, distinguishable with colour-blindness). */
export const STATE_COLOURS: Record<RunState, string> = {
  succeeded: "#009e73",
  failed: "#d55e00",
  running: "#0072b2",
  queued: "#c8c8c8",
  "output missing": "#cc79a7",
  unreadable: "#8c564b",
};

/**
 * The label a state gets in the legend: without a way to see running tasks (a remote store),
 * "queued" means "queued or running", and says so.
 */
export function stateLabel(state: RunState, runningKnown: boolean): string {
  return state === "queued" && !runningKnown ? "queued or running" : state;
}

const AXIS_SHORT: Record<AxisName, string> = {
  alpha_ce: "alpha",
  lambda_ce: "lambda",
  kick_sigma: "kick",
  metallicity: "Z",
  mass_transfer_fa: "fa",
};

/**
 * Heatmap of every run over the grid: alpha_ce across, one row per combination of the other
 * varying axes except metallicity, one panel per metallicity. A 1,440-point grid becomes four
 * panels of 10 x 36 cells, so every run keeps its own cell. Hovering a cell shows the run id,
 * state and run time (an SVG `<title>`).
 * @param status - the status section's data
 * @param lib - Plot and its document
 */
export function statusHeatmap(status: StatusData, lib: PlotLib): Figure {
  const { Plot } = lib;
  const runs = status.runs;
  const varying = AXES.filter((a) => a !== "alpha_ce" && a !== "metallicity" && sortedUnique(runs.map((r) => r.params[a])).length > 1);
  const metallicities = sortedUnique(runs.map((r) => r.params.metallicity));
  const facet = metallicities.length > 1;
  const rowLabel = (r: ReportRun): string =>
    varying.length === 0 ? "all runs" : varying.map((a) => `${AXIS_SHORT[a]} ${num(r.params[a])}`).join(" · ");
  const rowOrder = [...runs]
    .sort((a, b) => varying.reduce((d, axis) => d || a.params[axis] - b.params[axis], 0))
    .map(rowLabel);
  const rows = [...new Set(rowOrder)];
  const alphas = sortedUnique(runs.map((r) => r.params.alpha_ce)).map(num);
  const data = runs.map((r) => ({
    alpha: num(r.params.alpha_ce),
    row: rowLabel(r),
    Z: zLabel(r.params.metallicity),
    state: stateLabel(r.state, status.runningKnown),
    title: `${r.run_id}\n${stateLabel(r.state, status.runningKnown)}` +
      `${r.seconds === null ? "" : `\nrun time ${formatDuration(r.seconds)} (${r.seconds.toFixed(1)} s)`}` +
      `${r.attempts > 1 ? `\n${r.attempts} attempts` : ""}`,
  }));
  const states = (Object.keys(STATE_COLOURS) as RunState[]).filter((s) => runs.some((r) => r.state === s) || s === "succeeded");
  const colour = {
    type: "categorical" as const,
    domain: states.map((s) => stateLabel(s, status.runningKnown)),
    range: states.map((s) => STATE_COLOURS[s]),
    legend: true,
  };
  const marginLeft = varying.length === 0 ? 70 : Math.min(230, 16 + 7 * Math.max(...rows.map((r) => r.length)));
  const x = { domain: alphas, label: "alpha_ce →", tickRotate: alphas.length > 6 ? -45 : 0, tickFormat: (v: string) => shortNum(Number(v)) };
  // The row labels name their axes ("lambda 0.1 · kick 217"), so the y axis needs no title.
  const y = { domain: rows, label: null };
  const cell = (facetChannel: "fx" | "fy" | null) =>
    Plot.cell(data, { x: "alpha", y: "row", ...(facetChannel ? { [facetChannel]: "Z" } : {}), fill: "state", title: "title" });
  // Wide screens: one panel per metallicity side by side. Phones: the same panels stacked, so
  // a 1,440-run grid keeps cells large enough to see and hover without horizontal scrolling.
  const wide = serialise(
    Plot.plot({
      ...baseOptions(lib, { width: 720 }),
      height: Math.max(110, rows.length * 13 + 80),
      marginLeft,
      marginBottom: alphas.length > 6 ? 55 : 40,
      padding: 0.08,
      x,
      y,
      ...(facet ? { fx: { domain: metallicities.map(zLabel), label: "metallicity" } } : {}),
      color: colour,
      marks: [cell(facet ? "fx" : null)],
    }),
  );
  const narrow = facet
    ? serialise(
        Plot.plot({
          ...baseOptions(lib, { width: 400 }),
          height: metallicities.length * (rows.length * 13 + 30) + 70,
          marginLeft,
          marginRight: 100,
          marginBottom: alphas.length > 6 ? 55 : 40,
          padding: 0.08,
          x,
          y,
          fy: { domain: metallicities.map(zLabel), label: null },
          color: colour,
          marks: [cell("fy")],
        }),
      )
    : null;
  const html = narrow === null ? wide : `<div class="only-wide">${wide}</div><div class="only-narrow">${narrow}</div>`;
  const csvRows = runs.map((r) => ({ run_id: r.run_id, ...r.params, state: r.state, seconds: r.seconds, attempts: r.attempts }));
  return {
    id: "plot-status-heatmap",
    title: "Every run over the grid",
    caption:
      `One cell per run (${runs.length} runs): alpha_ce across${facet ? ", one panel per metallicity" : ""}` +
      `${varying.length > 0 ? `, one row per ${varying.join(" / ")} combination (kick_sigma in km/s)` : ""}. ` +
      "Hover a cell for the run id and its run time.",
    html,
    csv: { name: "runs.csv", text: toCsv(["run_id", ...AXES, "state", "seconds", "attempts"], csvRows) },
  };
}
