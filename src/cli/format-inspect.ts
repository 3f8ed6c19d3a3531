import { RATE_DCO_TYPES } from "../physics/rates/run-rates.js";
import { RATE_UNITS } from "../dataset/types.js";
import type { InspectSbiResult } from "../dataset/inspect-sbi.js";
import type { DcoCounts, InspectResult } from "../hdf5/inspect.js";

/**
 * Plain-text rendering of {@link inspect}'s result for the CLI (`compas-ensemble inspect`).
 * @param result - from {@link inspect}
 */
export function formatInspect(result: InspectResult): string {
  const lines: string[] = [];
  lines.push(`${result.path} (${result.bytes.toLocaleString("en-US")} bytes)`);
  const meta = [
    `COMPAS ${result.compasVersion ?? "version unknown"}`,
    result.systemsRequested === null ? null : `${result.systemsRequested} systems requested`,
    result.rlofPrinting === null ? null : `--rlof-printing ${result.rlofPrinting ? "TRUE" : "FALSE"}`,
  ].filter((x) => x !== null);
  lines.push(meta.join(", "));
  lines.push("");
  const width = Math.max(5, ...result.groups.map((g) => g.name.length));
  lines.push(`${"group".padEnd(width)}  ${"rows".padStart(10)}  ${"columns".padStart(7)}`);
  for (const g of result.groups) {
    const rows = g.name === "Run_Details" ? `${g.rows} opts` : String(g.rows);
    lines.push(`${g.name.padEnd(width)}  ${rows.padStart(10)}  ${String(g.columns).padStart(7)}`);
  }
  if (!result.groups.some((g) => g.name === "BSE_RLOF")) {
    lines.push("(no BSE_RLOF: formation channels need COMPAS's --rlof-printing TRUE)");
  }
  lines.push("");
  const row = (label: string, c: DcoCounts) =>
    `${label.padEnd(8)} ${String(c.total).padStart(6)} ${String(c.BBH).padStart(6)} ${String(c.BHNS).padStart(6)} ${String(c.BNS).padStart(6)}${c.other > 0 ? `  (+${c.other} other)` : ""}`;
  lines.push(`${"DCOs".padEnd(8)} ${"total".padStart(6)} ${"BBH".padStart(6)} ${"BHNS".padStart(6)} ${"BNS".padStart(6)}`);
  lines.push(row("all", result.dco));
  lines.push(row("merging", result.merging));
  lines.push("(merging = COMPAS's Merges_Hubble_Time: coalescence time below 14021.28 Myr)");
  return lines.join("\n");
}

/**
 * Plain-text rendering of {@link inspectSbi}'s result for `compas-ensemble inspect`.
 * @param r - from {@link inspectSbi}
 */
export function formatInspectSbi(r: InspectSbiResult): string {
  const lines = [`${r.path} (${r.bytes.toLocaleString("en-US")} bytes)`, `SBI dataset, format_version ${r.formatVersion}: ${r.nRuns} runs, ${r.nDco} DCOs`, ""];
  const num = (v: number | null | undefined, w: number) => (v === null || v === undefined ? "-" : Number.isNaN(v) ? "NaN" : v.toPrecision(4)).padStart(w);
  const idWidth = Math.max(6, ...r.runs.map((x) => x.run_id.length));
  if (r.runs.every((x) => x.rateZ0 === null)) {
    lines.push(r.rates === null ? "(no merger rates in this file: written before format_version 2)" : "(merger rates were switched off: extract --no-rates)");
  } else {
    lines.push(`merger rates at z = 0 per run (single metallicity), ${RATE_UNITS}:`);
    lines.push(`${"run_id".padEnd(idWidth)} ${"Z".padStart(9)} ${"M_SF/Msol".padStart(10)} ${RATE_DCO_TYPES.map((t) => t.padStart(10)).join(" ")}`);
    for (const x of r.runs) {
      lines.push(`${x.run_id.padEnd(idWidth)} ${num(x.metallicity, 9)} ${num(x.starFormingMass, 10)} ${RATE_DCO_TYPES.map((t) => num(x.rateZ0?.[t], 10)).join(" ")}`);
    }
    lines.push("");
    if (r.groups.length === 0) lines.push("no group of runs differing only in metallicity: no rate combined over metallicity");
    else {
      lines.push(`combined over metallicity at z = 0, ${RATE_UNITS}:`);
      lines.push(`${"alpha_ce lambda_ce kick_sigma fa".padEnd(34)} ${"runs".padStart(4)} ${RATE_DCO_TYPES.map((t) => t.padStart(10)).join(" ")}`);
      for (const g of r.groups) {
        lines.push(`${g.theta.map((v) => String(v)).join(" ").padEnd(34)} ${String(g.runs.length).padStart(4)} ${RATE_DCO_TYPES.map((t) => num(g.rateZ0[t], 10)).join(" ")}`);
      }
    }
  }
  return lines.join("\n");
}
