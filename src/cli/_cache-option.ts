import type { Command } from "commander";

/**
 * Adds `--no-cache` (run, estimate, demo): the COMPAS binary's sha256, --version and --help are
 * read afresh instead of from the cache (src/compas/identity-cache.ts). Commander turns it
 * into `cache: false` (default true), passed on as the API's `probeCache`.
 * @param cmd - the command
 */
export function addNoCacheOption(cmd: Command): Command {
  return cmd.option("--no-cache", "hash and probe the COMPAS binary afresh instead of trusting the cache of its sha256 and --help");
}
