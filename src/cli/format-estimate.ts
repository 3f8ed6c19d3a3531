import { formatBytes, formatDuration, formatHours, formatUsd } from "../util/format.js";
import type { EnsembleEstimate, ProfileEstimate } from "../estimate/estimate.js";
import { describeTarget } from "../plan/adaptive.js";

/**
 * The estimate as text for a terminal (what `compas-ensemble estimate` prints).
 * @param plan - result of {@link estimateEnsemble}
 */
export function formatEstimate(plan: EnsembleEstimate): string {
  const lines: string[] = [];
  const chunks = plan.tasks / plan.runs;
  const a = plan.adaptive;
  if (a) {
    const n = (v: number): string => v.toLocaleString("en-US");
    lines.push(
      `Plan: ${plan.runs} adaptive run(s) until each holds ${describeTarget(a.target)}, chunks of ${n(a.chunk)} up to ${n(a.max)} binaries per run, ` +
        `profile '${plan.profile}'`,
    );
    lines.push(
      `Predicted: ${n(a.predictedBinaries)} binaries in ${plan.tasks} task(s), against ${n(a.capBinaries)} if every run hit the cap` +
        ` (${a.runsAtCap} of ${plan.runs} run(s) predicted at the cap)`,
    );
  } else lines.push(
    `Plan: ${plan.runs} run(s) x ${plan.nSystems.toLocaleString("en-US")} binaries = ${plan.binaries.toLocaleString("en-US")} binaries ` +
      `in ${plan.tasks} task(s)${chunks > 1 ? ` (${chunks} chunks of up to ${plan.systemsPerTask.toLocaleString("en-US")} per run)` : ""}, profile '${plan.profile}'`,
  );
  lines.push(`Target: ${plan.target.description}`);
  lines.push(...profileLines(plan, plan));
  if (plan.comparison) {
    lines.push(`With profile '${plan.comparison.profile}' instead:`);
    lines.push(...profileLines(plan, plan.comparison).map((l) => `  ${l}`));
  }
  if (plan.price) {
    const p = plan.price;
    lines.push(
      `Prices: ${p.instanceType} $${p.onDemandPerHour.toPrecision(3)} on demand, $${p.spotPerHour.toPrecision(3)} spot ` +
        `per ${p.per}-hour (${p.region}, price table of ${p.date})`,
    );
  }
  for (const w of plan.warnings) lines.push(`warning: ${w}`);
  for (const n of plan.notes) lines.push(`note: ${n}`);
  return lines.join("\n") + "\n";
}

function profileLines(plan: EnsembleEstimate, e: ProfileEstimate): string[] {
  const b = e.basis;
  const [lo, hi] = b.secondsPerBinaryRange;
  const range = lo !== hi ? ` (${sig(lo)}-${sig(hi)} over the calibration corners)` : "";
  const overhead = b.taskOverheadSeconds > 0 ? ` + ${sig(b.taskOverheadSeconds)} s per task` : "";
  const lines = [
    `Per binary: ${sig(b.secondsPerBinary)} s${range}${overhead} [${b.source}]`,
    `COMPAS CPU time: ${formatHours(e.compasCpuHours)} CPU-hours (${formatHours(e.taskHours)} ${unit(plan)}-hours with per-task overhead)`,
    `Output: ${formatBytes(e.outputBytes)} (${formatBytes(e.outputBytes / plan.runs)} per run)`,
    `Wall time: ${formatDuration(e.wallSeconds)} on ${plan.target.slots} ${unit(plan)}(s)`,
  ];
  if (e.costUsd) lines.push(`Cost: ${formatUsd(e.costUsd.onDemand)} on demand, ${formatUsd(e.costUsd.spot)} spot`);
  return lines;
}

function unit(plan: EnsembleEstimate): string {
  return plan.target.kind === "batch" || plan.target.kind === "ec2" ? "vCPU" : "core";
}

function sig(v: number): string {
  return v >= 10 ? v.toFixed(1) : v.toPrecision(2);
}

/**
 * The estimate's formatter under its former name.
 * @deprecated Use {@link formatEstimate}; kept for one release.
 */
export const formatPlan: (plan: EnsembleEstimate) => string = formatEstimate;
