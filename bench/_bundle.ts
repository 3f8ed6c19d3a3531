/**
 * What the benchmarks share: bundling a measured script with esbuild (so it runs in a plain
 * `node` process, timed without tsx's transform) and reading `--name value` arguments.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const HERE = fileURLToPath(new URL(".", import.meta.url));

/**
 * Bundles `entry` (relative to bench/) into bench/.out/`outName` as an ES module for Node 20.
 * @param external - packages left to node_modules: h5wasm by default (it loads its own
 *   WebAssembly next to its module), or "all" for every dependency, as the published build has
 * @returns the bundle's path
 */
export async function bundleForBench(entry: string, outName: string, external: "h5wasm" | "all" = "h5wasm"): Promise<string> {
  const outfile = join(HERE, ".out", outName);
  await build({
    entryPoints: [join(HERE, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    ...(external === "all" ? { packages: "external" as const } : { external: ["h5wasm", "h5wasm/node"] }),
    logLevel: "warning",
  });
  return outfile;
}

/** The value after `name` in `args`, if the flag is there. */
export function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
