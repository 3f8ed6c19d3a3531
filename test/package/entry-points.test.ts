import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// What importing an entry point of the built package loads, seen from a fresh Node process:
// every module the ES module loader resolves (recorded by a resolve hook registered with
// module.register, which runs before the module is loaded) and every file in the CommonJS
// module cache (what require() and the CJS build load). `npm test` builds dist first.
const repo = fileURLToPath(new URL("../..", import.meta.url));
const dist = (file: string): string => join(repo, "dist", file);

/** Packages a script that only runs locally must not pay for. */
const HEAVY = ["@aws-sdk/", "ssh2", "parquet-wasm", "apache-arrow", "@observablehq/plot", "linkedom", "h5wasm"];

let work = "";
let hook = "";

beforeAll(() => {
  if (!existsSync(dist("index.js"))) throw new Error("The build output is missing; run `npm run build` first (`npm test` does).");
  work = mkdtempSync(join(tmpdir(), "entry-points-"));
  // The hook runs in its own thread; appending synchronously before resolving returns means
  // the record is complete once the import has finished, with no waiting.
  hook = join(work, "hook.mjs");
  writeFileSync(
    hook,
    [
      'import { appendFileSync } from "node:fs";',
      "let log;",
      "export async function initialize(data) { log = data.log; }",
      "export async function resolve(specifier, context, next) {",
      "  const result = await next(specifier, context);",
      '  appendFileSync(log, result.url + "\\n");',
      "  return result;",
      "}",
    ].join("\n"),
  );
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

function node(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: repo, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The node_modules packages a fresh process has loaded after importing (ESM) or requiring (CJS) `file`. */
async function packagesLoadedBy(file: string, how: "import" | "require"): Promise<string[]> {
  const log = join(work, `${how}-${file.replace(/\W/g, "_")}.log`);
  writeFileSync(log, "");
  const load =
    how === "import" ? `await import(${JSON.stringify(pathToFileURL(dist(file)).href)});` : `createRequire(import.meta.url)(${JSON.stringify(dist(file))});`;
  const script = [
    'import { register, createRequire } from "node:module";',
    `register(${JSON.stringify(pathToFileURL(hook).href)}, import.meta.url, { data: { log: ${JSON.stringify(log)} } });`,
    load,
    "const cjs = Object.keys(createRequire(import.meta.url).cache);",
    "process.stdout.write(JSON.stringify(cjs));",
  ].join("\n");
  const r = await node(["--input-type=module", "-e", script]);
  if (r.code !== 0) throw new Error(`node exited ${r.code}: ${r.stderr}`);
  const files = [...(JSON.parse(r.stdout) as string[]), ...readFileSync(log, "utf8").split("\n").filter(Boolean).map((u) => (u.startsWith("file:") ? fileURLToPath(u) : u))];
  const packages = new Set<string>();
  for (const f of files) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f);
    if (m) packages.add(m[1]!);
  }
  return [...packages].sort();
}

const heavyIn = (packages: readonly string[]): string[] => packages.filter((p) => HEAVY.some((h) => (h.endsWith("/") ? p.startsWith(h) : p === h)));

describe("the package's entry points", () => {
  it("the root loads neither the AWS SDK, ssh2, the Parquet backend, the plotting library nor h5wasm (ES module)", async () => {
    const loaded = await packagesLoadedBy("index.js", "import");
    expect(loaded).toContain("zod");
    expect(heavyIn(loaded)).toEqual([]);
  });

  it("the root loads none of them either through require (CommonJS)", async () => {
    const loaded = await packagesLoadedBy("index.cjs", "require");
    expect(loaded).toContain("zod");
    expect(heavyIn(loaded)).toEqual([]);
  });

  it("the executors' entry points load their own dependency, which shows the check sees them", async () => {
    expect(heavyIn(await packagesLoadedBy("ssh.js", "import"))).toEqual(["ssh2"]);
    expect(heavyIn(await packagesLoadedBy("batch.cjs", "require"))).toEqual(expect.arrayContaining(["@aws-sdk/client-batch"]));
  });

  it("the store and dataset entry points load the AWS SDK and the Parquet backend only when used", async () => {
    expect(heavyIn(await packagesLoadedBy("store.js", "import"))).toEqual([]);
    expect(heavyIn(await packagesLoadedBy("sbi.cjs", "require"))).toEqual([]);
  });
});
