#!/usr/bin/env node
// Runs the built CLI (dist/cli.js), building it first when dist is missing or older than the
// sources, so that `npm ci && npm run demo` works on a fresh clone and an edited checkout never
// runs stale code, while every later start costs one plain node process instead of tsx
// transpiling the sources on each start.
//
//   node scripts/built-cli.mjs <command> [options]   build if needed, then run the CLI
//   node scripts/built-cli.mjs --build-only          build if needed (the `prepare` script)
//
// Plain ESM with no dependencies: it must run before anything is built.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
/** What `npm run build` writes; all must exist and be newer than every input. */
const OUTPUTS = ["dist/cli.js", "dist/index.js", "dist/index.cjs", "dist/index.d.ts"];
/** What the build reads besides node_modules. */
const INPUTS = ["src", "tsup.config.ts", "tsconfig.json", "package.json"];

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return { path, mtimeMs: st.mtimeMs };
  let best = { path, mtimeMs: 0 };
  for (const name of readdirSync(path)) {
    const candidate = newest(join(path, name));
    if (candidate.mtimeMs > best.mtimeMs) best = candidate;
  }
  return best;
}

/**
 * Why dist must be (re)built, or undefined when it is current.
 * @returns {string | undefined}
 */
export function staleReason() {
  const missing = OUTPUTS.filter((f) => !existsSync(join(REPO, f)));
  if (missing.length > 0) return `${missing.join(", ")} missing`;
  const oldest = Math.min(...OUTPUTS.map((f) => statSync(join(REPO, f)).mtimeMs));
  const input = INPUTS.map((p) => join(REPO, p))
    .filter((p) => existsSync(p))
    .map(newest)
    .reduce((a, b) => (b.mtimeMs > a.mtimeMs ? b : a));
  return input.mtimeMs > oldest ? `${relative(REPO, input.path)} is newer than the build` : undefined;
}

/**
 * Builds dist with `npm run build` when it is missing or stale; a current build is left alone.
 * Throws when the build fails or cannot run (an install without devDependencies and no dist).
 */
export function ensureBuilt() {
  const why = staleReason();
  if (why === undefined) return;
  if (!existsSync(join(REPO, "node_modules", "tsup"))) {
    // An install without devDependencies: a dist that exists is the best there is.
    if (existsSync(join(REPO, "dist", "cli.js"))) return;
    throw new Error(`compas-ensemble is not built (${why}) and tsup is not installed; run \`npm ci\` first.`);
  }
  process.stderr.write(`building compas-ensemble once (${why})...\n`);
  const r = spawnSync("npm", ["run", "build", "--silent"], { cwd: REPO, stdio: ["ignore", "ignore", "inherit"] });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`\`npm run build\` failed (exit ${r.status}); see above.`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    ensureBuilt();
  } catch (err) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  }
  const args = process.argv.slice(2);
  if (args[0] !== "--build-only") {
    // The CLI reads process.argv as if it had been started itself.
    const cli = join(REPO, "dist", "cli.js");
    process.argv = [process.argv[0], cli, ...args];
    await import(pathToFileURL(cli).href);
  }
}
