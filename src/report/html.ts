import { isAbsolute, relative, sep } from "node:path";
import { AXIS_SELECTORS } from "../compas/argv.js";
import { formatDuration, formatHours, formatUsd } from "../util/format.js";
import { LIBRARY_VERSION } from "../version.js";
import type { Figure } from "./plots/figure.js";
import { STATE_COLOURS, stateLabel } from "./plots/status-heatmap.js";
import { RUN_STATES, type ReportData, type StatusData } from "./types.js";

/** Value of the `generator` meta tag: how a file is recognised as a report this library wrote. */
export const REPORT_GENERATOR = "compas-ensemble report";

/** The figures of a report, by section. */
export interface ReportFigures {
  status: Figure[];
  science: Figure[];
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

// No script and no external resource: the Content-Security-Policy makes the browser refuse any
// request the page might still make (fonts, images, prefetches), so the file reads the same from
// disk, an S3 download or an e-mail attachment. Plot's inline <style> elements need
// 'unsafe-inline'; data: images cover the CSV links' icons, if any.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const CSS = `
:root { color-scheme: light; --fg: #1d1d1f; --muted: #555; --line: #ddd; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 12px 16px 48px; }
header h1 { font-size: 1.5rem; margin: 8px 0 4px; overflow-wrap: anywhere; }
header p { margin: 2px 0; color: var(--muted); overflow-wrap: anywhere; }
nav a { margin-right: 1em; }
h2 { border-bottom: 2px solid var(--line); padding-bottom: 4px; margin-top: 32px; }
h3 { font-size: 1.05rem; margin: 0 0 4px; }
.totals { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 170px), 1fr)); gap: 8px; margin: 12px 0; }
.totals div { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; }
.totals dt { font-size: 0.8rem; color: var(--muted); }
.totals dd { margin: 0; font-size: 1.15rem; font-weight: 600; overflow-wrap: anywhere; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 2px; margin-right: 4px; vertical-align: baseline; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 520px), 1fr)); gap: 24px; }
.grid.small { grid-template-columns: repeat(auto-fit, minmax(min(100%, 330px), 1fr)); }
.figure { min-width: 0; max-width: 780px; }
.figure .plot > svg, .figure .plot figure > svg { width: 100%; height: auto; max-width: 100%; display: block; }
.figure .plot figure { margin: 0; max-width: 100%; }
#plot-status-heatmap .plot { max-width: 980px; }
.only-narrow { display: none; }
@media (max-width: 700px) { .only-wide { display: none; } .only-narrow { display: block; } }
.figure p.caption { color: var(--muted); font-size: 0.85rem; margin: 4px 0; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 8px 12px; margin: 8px 0; }
.empty { background: #f4f6f8; border-left: 4px solid #8a99a8; padding: 8px 12px; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; margin: 8px 0 16px; font-size: 0.85rem; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th { background: #f6f6f6; }
pre, code { font: 0.8rem/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6; padding: 8px; border-radius: 4px; }
ul.data { padding-left: 1.2em; }
@media (max-width: 600px) { body { font-size: 14px; } main { padding: 8px 10px 32px; } th, td { padding: 3px 4px; } }
`;

/**
 * Assembles the report: one HTML file with inline CSS and Plot's inline SVG, no script and no
 * external resource. Every plot's data is embedded as a CSV `data:` link in the provenance
 * section, and each plot links to its CSV.
 * @param data - gathered data
 * @param figures - rendered plots
 */
export function renderReportHtml(data: ReportData, figures: ReportFigures): string {
  const all = [...figures.status, ...figures.science];
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    `<meta name="generator" content="${REPORT_GENERATOR} ${escapeHtml(LIBRARY_VERSION)}">`,
    '<link rel="icon" href="data:,">',
    `<title>${escapeHtml(data.title)}</title>`,
    `<style>${CSS}</style></head><body><main>`,
    header(data),
    `<section id="status"><h2>Status</h2>${statusSection(data.status)}${figures.status.map(figureHtml).join("")}${failuresHtml(data.status)}</section>`,
    `<section id="science"><h2>Science</h2>${scienceSection(data, figures.science)}</section>`,
    `<section id="provenance"><h2>Provenance</h2>${provenanceSection(data, all)}</section>`,
    "</main></body></html>",
  ].join("\n");
}

// A local source inside the working folder is shown relative to it: shorter, and it does not
// print the machine's folder layout into a report that may be shared.
function displaySource(source: string): string {
  const cwd = process.cwd();
  return isAbsolute(source) && source.startsWith(cwd + sep) ? relative(cwd, source) : source;
}

function header(data: ReportData): string {
  const s = data.status;
  return (
    `<header><h1>${escapeHtml(data.title)}</h1>` +
    `<p>${s.kind === "ensemble" ? "Ensemble" : "SBI dataset"} <code>${escapeHtml(displaySource(s.source))}</code>` +
    `${s.ensembleId ? ` · id <code>${escapeHtml(s.ensembleId.slice(0, 12))}</code>` : ""}</p>` +
    `<p>Report made ${escapeHtml(data.createdAt)} by compas-ensemble ${escapeHtml(LIBRARY_VERSION)}</p>` +
    '<nav><a href="#status">Status</a><a href="#science">Science</a><a href="#provenance">Provenance</a></nav></header>'
  );
}

function tile(label: string, value: string): string {
  return `<div><dt>${escapeHtml(label)}</dt><dd>${value}</dd></div>`;
}

function statusSection(s: StatusData): string {
  const total = s.runs.length;
  const done = s.counts.succeeded;
  const tiles = [tile("runs done", `${done} / ${total}`)];
  for (const state of RUN_STATES) {
    if (state === "succeeded" || (s.counts[state] === 0 && state !== "failed")) continue;
    tiles.push(tile(stateLabel(state, s.runningKnown), `<span class="swatch" style="background:${STATE_COLOURS[state]}"></span>${s.counts[state]}`));
  }
  if (s.kind === "ensemble") tiles.push(tile("tasks done", `${s.tasks.succeeded} / ${s.tasks.total}`));
  if (s.cpuHours !== null) tiles.push(tile("CPU-hours", escapeHtml(formatHours(s.cpuHours))));
  if (s.wallSeconds !== null) tiles.push(tile("wall time", escapeHtml(formatDuration(s.wallSeconds))));
  const unfinished = s.tasks.total - s.tasks.succeeded;
  if (s.kind === "ensemble" && unfinished > 0) {
    tiles.push(tile(`ETA at ${s.concurrency} at once`, s.etaSeconds === null ? "unknown until a task finishes" : escapeHtml(formatDuration(s.etaSeconds))));
  }
  const e = s.estimate;
  if (e) {
    tiles.push(tile("estimated CPU-hours", escapeHtml(formatHours(e.taskHours))));
    tiles.push(tile("estimated wall time", escapeHtml(formatDuration(e.wallSeconds))));
    if (e.costUsd) tiles.push(tile("estimated cost", `${escapeHtml(formatUsd(e.costUsd.onDemand))} on demand, ${escapeHtml(formatUsd(e.costUsd.spot))} spot`));
  }
  const running = s.runningKnown
    ? ""
    : '<p class="caption">The store holds only finished attempts, so runs still running count as queued here; <code>compas-ensemble status --watch</code> follows them.</p>';
  return `<dl class="totals">${tiles.join("")}</dl>${running}`;
}

function failuresHtml(s: StatusData): string {
  const parts: string[] = [];
  if (s.failures.length > 0) {
    parts.push(
      `<h3 id="failures">Failed tasks (${s.failures.length})</h3><table><thead><tr><th style="width:28%">run</th><th style="width:10%">attempts</th><th>reason</th><th style="width:24%">log</th></tr></thead><tbody>` +
        s.failures
          .map((f) => `<tr><td>${escapeHtml(f.task_id)}</td><td>${f.attempts}</td><td>${escapeHtml(f.reason)}</td><td><code>${escapeHtml(f.logKey)}</code></td></tr>`)
          .join("") +
        "</tbody></table>",
    );
  }
  if (s.problems.length > 0) {
    parts.push(
      `<h3 id="problems">Runs whose output is missing or unreadable (${s.problems.length})</h3><table><thead><tr><th style="width:30%">run</th><th style="width:16%">state</th><th>detail</th></tr></thead><tbody>` +
        s.problems.map((p) => `<tr><td>${escapeHtml(p.run_id)}</td><td>${escapeHtml(p.state)}</td><td>${escapeHtml(p.detail)}</td></tr>`).join("") +
        "</tbody></table>",
    );
  }
  if (s.invalidFragments.length > 0) {
    parts.push(
      `<h3>Unreadable fragments (${s.invalidFragments.length}); their tasks count as not done</h3><table><tbody>` +
        s.invalidFragments.map((f) => `<tr><td>${escapeHtml(f.key)}</td><td>${escapeHtml(f.reason)}</td></tr>`).join("") +
        "</tbody></table>",
    );
  }
  return parts.join("");
}

function figureHtml(f: Figure): string {
  const data = f.csv ? ` <a href="#data-${f.id}">data (CSV)</a>` : "";
  const body = f.html === null ? `<p class="note">${escapeHtml(f.note ?? "Nothing to plot.")}</p>` : `<div class="plot">${f.html}</div>`;
  return `<div class="figure" id="${f.id}"><h3>${escapeHtml(f.title)}</h3>${body}${f.caption ? `<p class="caption">${escapeHtml(f.caption)}${data}</p>` : data ? `<p class="caption">${data}</p>` : ""}</div>`;
}

function scienceSection(data: ReportData, figures: Figure[]): string {
  if (data.science === null) {
    return `<p class="empty">${escapeHtml(data.scienceEmptyReason ?? "No science data.")}</p>`;
  }
  const sci = data.science;
  const nMerging = sci.dco.merges_hubble_time.reduce((n, v) => n + v, 0);
  const intro =
    `<p>${sci.runs.length} run(s) with outputs, ${sci.dco.length} DCOs${sci.mergingOnly ? " (the dataset keeps merging DCOs only)" : ""}, ` +
    `${nMerging} merging within a Hubble time. Yields are ${sci.yieldUnit === "Msol" ? "per solar mass of star formation" : "per simulated binary"}.</p>`;
  const hist = figures.filter((f) => f.id.startsWith("plot-hist-"));
  const other = figures.filter((f) => !f.id.startsWith("plot-hist-"));
  return intro + `<div class="grid">${other.map(figureHtml).join("")}</div>` + `<div class="grid small">${hist.map(figureHtml).join("")}</div>`;
}

function row(label: string, value: string | null | undefined): string {
  return value === null || value === undefined ? "" : `<tr><th style="width:32%">${escapeHtml(label)}</th><td>${value}</td></tr>`;
}

function provenanceSection(data: ReportData, figures: Figure[]): string {
  const p = data.provenance;
  const code = (v: string) => `<code>${escapeHtml(v)}</code>`;
  const n = p.nSystemsPerRun;
  const rows = [
    row("COMPAS version", p.compas ? escapeHtml(p.compas.version) : "not recorded in this source"),
    row("COMPAS sha256", p.compas ? code(p.compas.sha256) : null),
    row("COMPAS binary", p.compas ? code(p.compas.binary) : null),
    row("compas-ensemble (ensemble)", p.libraryVersion ? escapeHtml(p.libraryVersion) : null),
    row("compas-ensemble (report)", escapeHtml(LIBRARY_VERSION)),
    row("flag profile", p.profile ? escapeHtml(p.profile) : null),
    row("binaries per run", n === null ? null : String(n)),
    row("binaries per task", p.systemsPerTask === null ? null : String(p.systemsPerTask)),
    row("seeds", p.seedBase === null || n === null ? null : escapeHtml(`run k (grid index) uses --random-seed ${p.seedBase} + k × ${n}, so runs never share a seed; every run's seed is in runs.csv`)),
    row("spin model", p.spinModel ? code(JSON.stringify(p.spinModel)) : null),
    ...p.extra.map((e) => row(e.label, code(e.value))),
  ].join("");
  const selectors = AXIS_SELECTORS.map((s) => {
    const found = p.commonFlags.find(([name]) => name === s.flag);
    return `<tr><td>${code(s.flag)}</td><td>${found ? code(found[1] ?? "") : "not passed"}</td><td>${escapeHtml(s.axis)} (COMPAS default ${escapeHtml(s.defaultValue)} makes it inert)</td></tr>`;
  }).join("");
  const flags = p.commonFlags.map(([name, value]) => `<tr><td>${code(name)}</td><td>${value === undefined ? "" : code(value)}</td></tr>`).join("");
  const example = p.exampleArgs ? `<h3>Exact COMPAS arguments of the first task</h3><pre>${escapeHtml(["COMPAS", ...p.exampleArgs].join(" "))}</pre><p class="caption">The worker adds --output-path and --output-container for its scratch folder.</p>` : "";
  const downloads = figures
    .filter((f) => f.csv)
    .map((f) => `<li id="data-${f.id}"><a download="${escapeHtml(f.csv!.name)}" href="data:text/csv;base64,${Buffer.from(f.csv!.text, "utf8").toString("base64")}">${escapeHtml(f.csv!.name)}</a>: ${escapeHtml(f.title)}</li>`)
    .join("");
  return (
    `<table><tbody>${rows}</tbody></table>` +
    (p.commonFlags.length > 0
      ? `<h3>Prescription selectors</h3><table><thead><tr><th>flag</th><th>value</th><th>axis it keeps active</th></tr></thead><tbody>${selectors}</tbody></table>` +
        `<h3>Flags every task shares</h3><table><thead><tr><th>flag</th><th>value</th></tr></thead><tbody>${flags}</tbody></table>`
      : "<p>This source does not record the COMPAS flags; report on the ensemble's output directory to see them.</p>") +
    example +
    `<h3>Data behind the plots</h3><ul class="data">${downloads}</ul>`
  );
}
