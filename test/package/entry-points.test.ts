import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { heavyIn, LoadRecorder } from "../support/loaded-packages.js";

// What importing an entry point of the built package loads, seen from a fresh Node process
// (test/support/loaded-packages.ts): ES modules through the resolve hook, the CJS build through
// the CommonJS module cache. `npm test` builds dist first.
const repo = fileURLToPath(new URL("../..", import.meta.url));
const dist = (file: string): string => join(repo, "dist", file);

let recorder: LoadRecorder;

beforeAll(() => {
  if (!existsSync(dist("index.js"))) throw new Error("The build output is missing; run `npm run build` first (`npm test` does).");
  recorder = new LoadRecorder();
});

afterAll(() => recorder.close());

/** The node_modules packages a fresh process has loaded after importing (ESM) or requiring (CJS) `file`. */
async function packagesLoadedBy(file: string, how: "import" | "require"): Promise<string[]> {
  const script =
    how === "import"
      ? `await import(${JSON.stringify(pathToFileURL(dist(file)).href)});`
      : `import { createRequire } from "node:module"; createRequire(import.meta.url)(${JSON.stringify(dist(file))});`;
  const r = await recorder.run(["--input-type=module", "-e", script], { cwd: repo });
  if (r.code !== 0) throw new Error(`node exited ${r.code}: ${r.stderr}`);
  return r.packages;
}

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
