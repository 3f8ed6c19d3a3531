import { readFileSync } from "node:fs";
import { Command } from "commander";
import { z } from "zod";
import { CompasEnsembleError } from "../errors.js";
import { parseSpinModelFlag } from "./spin-model-flag.js";
import type { EnsembleEstimate } from "../estimate/estimate.js";
import { formatBytes } from "../util/format.js";
import { wholeNumber } from "./_grid-options.js";

interface ReportFlags {
  out: string;
  title?: string;
  concurrency?: string;
  statusOnly?: boolean;
  spinModel?: string;
  estimate?: string;
  force?: boolean;
  endpoint?: string;
  region?: string;
}

// The fields of `compas-ensemble estimate --json` that the report shows; the rest is ignored.
const EstimateFileSchema = z.looseObject({
  taskHours: z.number(),
  wallSeconds: z.number(),
  costUsd: z.object({ onDemand: z.number(), spot: z.number() }).optional(),
});

function readEstimate(path: string): EnsembleEstimate {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `--estimate ${path} is not a readable JSON file.`, {
      cause,
      hint: "Write it with `compas-ensemble estimate ... --json > estimate.json`.",
    });
  }
  const parsed = EstimateFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `--estimate ${path} is not the output of \`compas-ensemble estimate --json\` (no taskHours or wallSeconds).`, {
      hint: "Write it with `compas-ensemble estimate ... --json > estimate.json`.",
    });
  }
  return parsed.data as unknown as EnsembleEstimate;
}

/** `compas-ensemble report`: one self-contained HTML file with the status, science plots and provenance. */
export function reportCliCommand(): Command {
  return new Command("report")
    .description("write one self-contained HTML report (status, plots, provenance) of an ensemble or an SBI dataset")
    .argument("<source>", "ensemble output directory, s3://bucket/prefix, or an SBI dataset (.h5) from `extract`")
    .requiredOption("--out <file>", "HTML file to write, e.g. report.html")
    .option("--title <text>", "page title")
    .option("--concurrency <n>", "tasks that run at once, for the ETA (default: cores)")
    .option("--status-only", "do not read the run outputs (no science section); fast on large ensembles")
    .option("--spin-model <model>", "bavera2021[:chi_natal=X] (default), qin2018, fixed:X, uniform:X")
    .option("--estimate <file>", "the ensemble's estimate (`compas-ensemble estimate --json` output) to show its cost")
    .option("--force", "replace an existing file that is not an earlier report (files of the ensemble are never replaced)")
    .option("--endpoint <url>", "S3-compatible endpoint (MinIO, Ceph)")
    .option("--region <region>", "AWS region (default: the standard chain)")
    .action(async (source: string, flags: ReportFlags) => {
      // The report module pulls in the plotting library; loaded here, not at CLI start-up.
      const { writeReport } = await import("../report/write.js");
      const result = await writeReport({
        source,
        out: flags.out,
        ...(flags.title ? { title: flags.title } : {}),
        ...(flags.concurrency ? { concurrency: wholeNumber(flags.concurrency, "--concurrency", 1) } : {}),
        science: !flags.statusOnly,
        ...(flags.spinModel ? { spinModel: parseSpinModelFlag(flags.spinModel) } : {}),
        ...(flags.estimate ? { estimate: readEstimate(flags.estimate) } : {}),
        force: flags.force ?? false,
        s3: { ...(flags.endpoint ? { endpoint: flags.endpoint, forcePathStyle: true } : {}), ...(flags.region ? { region: flags.region } : {}) },
        onRun: (done, total) => {
          if (done === total || done % 50 === 0) process.stderr.write(`read ${done}/${total} run outputs\n`);
        },
      });
      for (const o of result.omitted) process.stderr.write(`note: ${o.id} left out: ${o.note}\n`);
      if (result.scienceEmptyReason) process.stderr.write(`note: no science section: ${result.scienceEmptyReason}\n`);
      process.stdout.write(
        `report of ${result.runs} runs -> ${result.path} (${formatBytes(result.bytes)}, ${result.figures.length} plots, ` +
          `${(result.gatherSeconds + result.renderSeconds).toFixed(1)} s)\n`,
      );
    });
}
