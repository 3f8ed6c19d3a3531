import { type Command, Option } from "commander";
import { PROFILE_NAMES, type ProfileName } from "../compas/profiles.js";
import type { GridFlags } from "./_grid-options.js";

/** Flags of `run` and `command`: the grid's and COMPAS's. */
export interface RunFlags extends GridFlags {
  nSystems: string;
  outputDir: string;
  compasBinary?: string;
  systemsPerTask?: string;
  profile: ProfileName;
  seedBase: string;
  detach?: boolean;
  restart?: boolean;
  allowInertAxes?: boolean;
  checkpointEvery?: string;
}

/**
 * Adds the COMPAS flags of `run` and `command` (N, binary, profile, seeds, extra flags).
 * @param cmd - the command
 */
export function addCompasOptions(cmd: Command): Command {
  return cmd
    .option("--n-systems <n>", "binaries per grid point", "10000")
    .option("--compas-binary <path>", "COMPAS executable (else COMPAS_BINARY, $COMPAS_ROOT_DIR/src/bin/COMPAS, PATH)")
    .addOption(new Option("--profile <name>", "COMPAS flag profile").choices([...PROFILE_NAMES]).default("default"))
    .option("--seed-base <n>", "first seed; run k starts at seed-base + k * n-systems", "0")
    .option("--allow-inert-axes", "allow extra COMPAS flags that make a grid axis have no effect")
    .argument("[compasFlags...]", "extra COMPAS flags after --, e.g. -- --quiet TRUE");
}
