import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** Root of this checkout. */
export const REPO = fileURLToPath(new URL("../..", import.meta.url));

function newestSource(dir: string): { path: string; mtimeMs: number } {
  let newest = { path: dir, mtimeMs: 0 };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const candidate = entry.isDirectory() ? newestSource(path) : { path, mtimeMs: statSync(path).mtimeMs };
    if (candidate.mtimeMs > newest.mtimeMs) newest = candidate;
  }
  return newest;
}

/**
 * Path of the built CLI (dist/cli.js). Tests that start `compas-ensemble` as a process run
 * the built file, as users do: one plain node process that starts in a fraction of a second
 * (tsx would transform every module, h5wasm's 4 MB included, in every worker). `npm test`
 * builds first; a missing or stale build fails loudly rather than testing old code.
 */
export function builtCli(): string {
  const cli = join(REPO, "dist", "cli.js");
  if (!existsSync(cli)) throw new Error(`${cli} does not exist; run \`npm run build\` first (npm test does).`);
  const newest = newestSource(join(REPO, "src"));
  if (newest.mtimeMs > statSync(cli).mtimeMs) {
    throw new Error(`dist/cli.js is older than ${relative(REPO, newest.path)}; run \`npm run build\` first (npm test does).`);
  }
  return cli;
}

/** argv that starts the built `compas-ensemble` with this node. */
export function cliCommand(): string[] {
  return [process.execPath, builtCli()];
}
