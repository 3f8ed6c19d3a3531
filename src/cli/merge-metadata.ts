import { Command } from "commander";
import { LEGACY_PATTERN, mergeLegacyManifests } from "../manifest/legacy.js";

/** `compas-ensemble merge-metadata`: the older Python tool's merge script, same flags. */
export function mergeMetadataCommand(): Command {
  return new Command("merge-metadata")
    .description("merge per-slice ensemble_metadata.json files (the older Python tool's or ours)")
    .requiredOption("--input-dir <dir>", "directory the pattern is relative to")
    .option("--pattern <glob>", "manifests to merge", LEGACY_PATTERN)
    .option("--output <file>", "merged manifest (default <input-dir>/ensemble_metadata.json)")
    .option("--dry-run", "print what would be merged, write nothing")
    .action(async (flags: { inputDir: string; pattern: string; output?: string; dryRun?: boolean }) => {
      const s = await mergeLegacyManifests({
        inputDir: flags.inputDir,
        pattern: flags.pattern,
        output: flags.output,
        dryRun: flags.dryRun,
        print: (line) => process.stdout.write(line + "\n"),
      });
      process.stdout.write(
        `merged ${s.files} file(s): ${s.runs} runs (${s.success} success, ${s.failed} failed, ${s.duplicates} duplicate entries)` +
          `${s.output ? ` -> ${s.output}` : " (dry run, nothing written)"}\n`,
      );
    });
}
