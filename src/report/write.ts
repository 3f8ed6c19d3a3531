import { existsSync, mkdirSync, openSync, readSync, closeSync, statSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { CompasEnsembleError } from "../errors.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import type { S3StoreOptions } from "../store/s3-client.js";
import { ENSEMBLE_OWNED_ENTRIES } from "../store/keys.js";
import { LocalStore } from "../store/local.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/types.js";
import { gatherFromSbiFile } from "./gather-sbi.js";
import { gatherFromStore, type GatherStoreOptions } from "./gather-store.js";
import { renderReportHtml, REPORT_GENERATOR, type ReportFigures } from "./html.js";
import { loadPlotLib } from "./plots/plot-lib.js";
import { channelsFigure } from "./plots/channels.js";
import { histogramFigures } from "./plots/histograms.js";
import { massesFigure } from "./plots/masses.js";
import { ratesFigure } from "./plots/rates.js";
import { statusHeatmap } from "./plots/status-heatmap.js";
import { yieldsFigure } from "./plots/yields.js";
import type { ReportData } from "./types.js";

/** Options of {@link writeReport}. */
export interface WriteReportOptions extends GatherStoreOptions {
  /** An ensemble (output directory, `s3://bucket/prefix` or an open Store) or an SBI dataset file (`.h5`). */
  source: string | Store;
  /** The HTML file to write. */
  out: string;
  /** Page title; default names the source. */
  title?: string;
  /** S3 options (endpoint, region, credentials) for an `s3://` source. */
  s3?: S3StoreOptions;
  /** Replace an existing file that is not a report this library wrote. Never replaces a file of the ensemble. */
  force?: boolean;
}

/** What {@link writeReport} wrote. */
export interface WriteReportResult {
  path: string;
  bytes: number;
  /** Seconds spent gathering (reading the store and the outputs) and rendering (plots and HTML). */
  gatherSeconds: number;
  renderSeconds: number;
  runs: number;
  /** Plots drawn, by id; plots left out, with the reason. */
  figures: string[];
  omitted: { id: string; note: string }[];
  /** Why the science section is empty, if it is. */
  scienceEmptyReason: string | null;
}

/** Store keys (first path segment) that belong to an ensemble: a report never lands there. */
const ENSEMBLE_ENTRIES: ReadonlySet<string> = new Set(ENSEMBLE_OWNED_ENTRIES);

/**
 * Makes the report of an ensemble or an SBI dataset: one self-contained HTML file (inline SVG
 * and CSS, no script, no network request) with the status of every run, the science plots
 * (yields, channels, histograms, masses, rates) and the provenance, each plot's data embedded
 * as a CSV download. The plotting library is loaded only here. The file is written atomically
 * and never over a file the ensemble owns.
 * @param options - see {@link WriteReportOptions}
 */
export async function writeReport(options: WriteReportOptions): Promise<WriteReportResult> {
  const out = resolve(options.out);
  const started = performance.now();
  const sbiPath = typeof options.source === "string" && isSbiFile(options.source) ? resolve(options.source) : null;
  const store = sbiPath === null ? (typeof options.source === "string" ? openStore(options.source, options.s3) : options.source) : null;
  await checkTarget(out, { sbiPath, store, force: options.force ?? false });

  const gathered = sbiPath !== null ? await gatherFromSbiFile(sbiPath) : await gatherFromStore(store!, options);
  const data: ReportData = {
    title: options.title ?? `COMPAS ensemble report: ${basename(sbiPath ?? store!.uri)}`,
    createdAt: new Date().toISOString(),
    status: gathered.status,
    science: gathered.science,
    scienceEmptyReason: gathered.scienceEmptyReason,
    provenance: gathered.provenance,
  };
  const gatherSeconds = (performance.now() - started) / 1000;

  const rendering = performance.now();
  const lib = await loadPlotLib();
  const figures: ReportFigures = {
    status: data.status.runs.length > 0 ? [statusHeatmap(data.status, lib)] : [],
    science: data.science
      ? [yieldsFigure(data.science, lib), channelsFigure(data.science, lib), massesFigure(data.science, lib), ...histogramFigures(data.science, lib), ratesFigure(data.science.rates, lib)]
      : [],
  };
  const html = renderReportHtml(data, figures);
  mkdirSync(dirname(out), { recursive: true });
  await writeFileAtomic(out, html);
  const all = [...figures.status, ...figures.science];
  return {
    path: out,
    bytes: Buffer.byteLength(html, "utf8"),
    gatherSeconds,
    renderSeconds: (performance.now() - rendering) / 1000,
    runs: data.status.runs.length,
    figures: all.filter((f) => f.html !== null).map((f) => f.id),
    omitted: all.filter((f) => f.html === null).map((f) => ({ id: f.id, note: f.note ?? "" })),
    scienceEmptyReason: data.scienceEmptyReason,
  };
}

function isSbiFile(source: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return false;
  const path = resolve(source);
  return /\.(h5|hdf5)$/i.test(path) && existsSync(path) && statSync(path).isFile();
}

function basename(uri: string): string {
  return uri.replace(/\/+$/, "").split("/").at(-1) ?? uri;
}

/**
 * Refuses a target that is part of the ensemble or is the dataset itself, and an existing file
 * that is not an earlier report (unless forced): the report must never destroy anything.
 */
async function checkTarget(out: string, ctx: { sbiPath: string | null; store: Store | null; force: boolean }): Promise<void> {
  const refuse = (why: string, hint: string): never => {
    throw new CompasEnsembleError("OUTPUT_PATH_REFUSED", `--out ${out} ${why}.`, { hint });
  };
  if (existsSync(out) && statSync(out).isDirectory()) refuse("is a directory", "Give a file name, e.g. --out report.html.");
  if (ctx.sbiPath !== null && out === ctx.sbiPath) refuse("is the SBI dataset the report reads", "Give another file name, e.g. --out report.html.");
  if (ctx.store instanceof LocalStore) {
    const rel = relative(ctx.store.root, out);
    if (rel !== "" && !rel.startsWith("..") && !isAbsolute(rel)) {
      const key = rel.split(/[\\/]/).join("/");
      if (ENSEMBLE_ENTRIES.has(key.split("/")[0]!) || (await ctx.store.exists(key))) {
        refuse(`is a file of the ensemble in ${ctx.store.root}, which the report never overwrites`, "Write the report elsewhere, e.g. --out report.html in the current folder.");
      }
    }
  }
  if (existsSync(out) && !ctx.force && !isReport(out)) {
    refuse("already exists and is not a report made by compas-ensemble", "Choose another file name, or pass --force to replace it.");
  }
}

function isReport(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(2048);
    const n = readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, n).toString("utf8").includes(`content="${REPORT_GENERATOR} `);
  } finally {
    closeSync(fd);
  }
}
