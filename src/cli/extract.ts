import { Command, Option } from "commander";
import { LIBRARY_VERSION } from "../version.js";
import { SBI_FORMATS } from "../dataset/types.js";
import { parseRatesFlags, type RatesFlags } from "./rates-flags.js";

interface ExtractFlags {
  out: string;
  format?: string;
  spinModel?: string;
  mergingOnly?: boolean;
  /** False with --no-verify. */
  verify: boolean;
  nSystemsFromOutput?: boolean;
}

/** `compas-ensemble extract`: the SBI dataset from an ensemble's successful runs. */
export function extractCliCommand(): Command {
  return new Command("extract")
    .description("build the SBI dataset (per-DCO table, theta and x per run) from an ensemble")
    .argument("<source>", "ensemble output directory or its ensemble_metadata.json")
    .requiredOption("--out <file>", "output file (h5, parquet) or directory (npy)")
    .addOption(new Option("--format <format>", "output format (default: from --out's extension, else h5)").choices([...SBI_FORMATS]))
    .option("--spin-model <model>", "bavera2021[:chi_natal=X] (default), qin2018, fixed:X, uniform:X")
    .option("--merging-only", "keep only DCOs that merge in a Hubble time in the DCO table")
    .option("--no-verify", "read the outputs without checking their size and sha256 against the task records")
    .option("--n-systems-from-output", "when a run's COMPAS file holds another number of binaries than the manifest says, divide its yields by the file's count instead of stopping")
    .option("--fbin <f>", "binary fraction for the star-forming mass (default 0.7; docs/rates.md)")
    .option("--sfr <a,b,c,d>", "star-formation rate a (1+z)^b / (1 + ((1+z)/c)^d) (default 0.01,2.77,2.90,4.70)")
    .option("--mssfr <mu0,muz,sigma0>", "metallicity log-normal: mean mu0 10^(muz z), width sigma0 (default 0.035,-0.23,0.39)")
    .option("--z-max <z>", "largest redshift of the rate grid (default 10)")
    .option("--z-step <dz>", "redshift step of the rate grid, 0.01 or finer (default 0.01)")
    .option("--outer-z-bins <mode>", "drop (default) or extend the outer metallicity bins of a group")
    .option("--no-rates", "skip the merger rates R(z) (star-forming mass and yields per Msol are kept)")
    .action(async (source: string, flags: ExtractFlags & RatesFlags) => {
      // Bad rates flags fail here, before any run is read.
      const rates = parseRatesFlags(flags);
      const { extractCommand } = await import("./extract-command.js");
      const result = await extractCommand({
        source,
        out: flags.out,
        format: flags.format,
        spinModel: flags.spinModel,
        mergingOnly: flags.mergingOnly,
        verify: flags.verify,
        nSystemsFromOutput: flags.nSystemsFromOutput,
        rates,
        libraryVersion: LIBRARY_VERSION,
        onRun: (done, total, runId) => process.stderr.write(`extracted ${done}/${total} ${runId}\n`),
      });
      for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(
        `${result.nRuns} runs, ${result.nDco} DCOs, x of length ${result.xLength} -> ${result.paths.join(", ")} (${result.format})\n`,
      );
      if (result.failedRunIds.length > 0) {
        process.stdout.write(`${result.failedRunIds.length} failed run(s) left out: ${result.failedRunIds.join(", ")}\n`);
      }
      if (result.rateGroups !== null) {
        const { combined, runsNotCombined } = result.rateGroups;
        process.stdout.write(
          `rates: ${combined} metallicity group(s) combined${runsNotCombined > 0 ? `; ${runsNotCombined} run(s) in single-metallicity groups not combined (see diagnostics)` : ""}\n`,
        );
      }
    });
}
