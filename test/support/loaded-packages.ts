import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// What a fresh Node process loads, seen from inside it: every module the ES module loader
// resolves (recorded by a resolve hook registered with module.register, which runs before the
// module is loaded) and, when the process exits, every file in the CommonJS module cache (what
// require() loads, which the hook does not see). The hook runs in its own thread; it appends
// synchronously before resolving returns, so the record is complete once the import is.

/** Packages a script or a command that only runs locally must not pay for. */
export const HEAVY = ["@aws-sdk/", "ssh2", "parquet-wasm", "apache-arrow", "@observablehq/plot", "linkedom", "h5wasm"] as const;

/**
 * The heavy packages among `packages`.
 * @param packages - package names as returned by the recorders below
 */
export function heavyIn(packages: readonly string[]): string[] {
  return packages.filter((p) => HEAVY.some((h) => (h.endsWith("/") ? p.startsWith(h) : p === h)));
}

const HOOK = [
  'import { appendFileSync } from "node:fs";',
  "let log;",
  "export async function initialize(data) { log = data.log; }",
  "export async function resolve(specifier, context, next) {",
  "  const result = await next(specifier, context);",
  '  appendFileSync(log, result.url + "\\n");',
  "  return result;",
  "}",
].join("\n");

// Preloaded with --import: registers the hook for the log named in the environment, and
// writes the CommonJS cache to it on the way out, however the process ends its work.
const REGISTER = [
  'import { appendFileSync } from "node:fs";',
  'import { register, createRequire } from "node:module";',
  "const log = process.env.LOADED_PACKAGES_LOG;",
  'register(new URL("./hook.mjs", import.meta.url).href, import.meta.url, { data: { log } });',
  "const cache = createRequire(import.meta.url).cache;",
  'process.on("exit", () => appendFileSync(log, Object.keys(cache).join("\\n") + "\\n"));',
].join("\n");

/** Result of one recorded process. */
export interface Recorded {
  code: number;
  stdout: string;
  stderr: string;
  /** node_modules packages the process loaded, sorted. */
  packages: string[];
}

/** Records what processes load; `close()` removes its folder. */
export class LoadRecorder {
  private readonly work = mkdtempSync(join(tmpdir(), "loaded-packages-"));
  private runs = 0;

  constructor() {
    writeFileSync(join(this.work, "hook.mjs"), HOOK);
    writeFileSync(join(this.work, "register.mjs"), REGISTER);
  }

  /**
   * Runs `node <args>` with the recorder preloaded and returns what it loaded.
   * @param args - node's arguments (a script and its arguments, or -e ...)
   * @param options - working folder and extra environment
   */
  run(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Recorded> {
    const log = join(this.work, `run-${this.runs++}.log`);
    writeFileSync(log, "");
    const nodeArgs = ["--import", pathToFileURL(join(this.work, "register.mjs")).href, ...args];
    const env = { ...process.env, ...options.env, LOADED_PACKAGES_LOG: log };
    return new Promise((resolve) => {
      execFile(process.execPath, nodeArgs, { cwd: options.cwd, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr, packages: packagesIn(readFileSync(log, "utf8")) });
      });
    });
  }

  close(): void {
    rmSync(this.work, { recursive: true, force: true });
  }
}

function packagesIn(log: string): string[] {
  const packages = new Set<string>();
  for (const line of log.split("\n")) {
    if (!line) continue;
    const file = line.startsWith("file:") ? fileURLToPath(line) : line;
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (m) packages.add(m[1]!);
  }
  return [...packages].sort();
}
