import type { Command } from "commander";
import { CompasEnsembleError } from "../errors.js";
import { DEFAULT_SEED_STRIDE } from "../plan/adaptive.js";
import { wholeNumber } from "./_grid-options.js";

// The adaptive flags of `run` and `estimate` (docs/adaptive.md): one parser, so both commands
// accept the same rule and refuse bad input with the same sentences.

/** The adaptive flags as commander gives them. */
export interface AdaptiveFlags {
  targetDcos?: string;
  chunk?: string;
  maxSystems?: string;
  seedStride?: string;
}

/** Sizes of the runs: a fixed N, or the adaptive rule (unchecked; adaptiveSpec checks it). */
export interface RunSizes {
  nSystems: number | { chunk: number; max: number };
  target?: { dco: string; merging: boolean; count: number };
  seedStride?: number;
}

/**
 * Adds `--target-dcos`, `--chunk`, `--max-systems` and `--seed-stride`.
 * @param cmd - the command
 */
export function addAdaptiveOptions(cmd: Command): Command {
  return cmd
    .option("--target-dcos <rule>", "adaptive: grow each run until it holds this many DCOs, TYPE:merging|all:COUNT (e.g. BBH:merging:200; TYPE BBH, BHNS, BNS/NSNS, any)")
    .option("--chunk <n>", "adaptive: binaries per chunk (with --target-dcos)")
    .option("--max-systems <n>", "adaptive: most binaries a run may get; a run that reaches it stops with a warning (with --target-dcos)")
    .option("--seed-stride <n>", `adaptive: seeds between runs, run k starts at seed-base + k * stride (default ${DEFAULT_SEED_STRIDE})`);
}

/**
 * A fixed `--n-systems`, or the adaptive rule of `--target-dcos` with its chunk and cap.
 * @param flags - the command's flags
 * @param nSystems - `--n-systems` as given, or its default; undefined when neither
 * @param nSystemsGiven - true when `--n-systems` was given on the command line
 */
export async function sizesFromFlags(flags: AdaptiveFlags, nSystems: string | undefined, nSystemsGiven: boolean): Promise<RunSizes> {
  if (flags.targetDcos === undefined) {
    const stray = ([["--chunk", flags.chunk], ["--max-systems", flags.maxSystems], ["--seed-stride", flags.seedStride]] as const).find(([, v]) => v !== undefined);
    if (stray) throw new CompasEnsembleError("OPTIONS_INVALID", `${stray[0]} only applies to adaptive runs; add --target-dcos (e.g. BBH:merging:200) or drop ${stray[0]}.`);
    if (nSystems === undefined) {
      throw new CompasEnsembleError("OPTIONS_INVALID", "--n-systems is missing: give the binaries per grid point, or --target-dcos with --chunk and --max-systems for adaptive runs.");
    }
    return { nSystems: wholeNumber(nSystems, "--n-systems", 1) };
  }
  if (nSystemsGiven) {
    throw new CompasEnsembleError("OPTIONS_INVALID", "--n-systems cannot be combined with --target-dcos: an adaptive run's size is set by --chunk and --max-systems.");
  }
  if (flags.chunk === undefined || flags.maxSystems === undefined) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `--target-dcos needs ${flags.chunk === undefined ? "--chunk" : "--max-systems"} too, e.g. --chunk 5000 --max-systems 2000000.`);
  }
  const { parseTargetDcos } = await import("../plan/adaptive.js");
  return {
    nSystems: { chunk: wholeNumber(flags.chunk, "--chunk", 1), max: wholeNumber(flags.maxSystems, "--max-systems", 1) },
    target: parseTargetDcos(flags.targetDcos),
    ...(flags.seedStride === undefined ? {} : { seedStride: wholeNumber(flags.seedStride, "--seed-stride", 1) }),
  };
}
