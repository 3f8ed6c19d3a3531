import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The API reference is generated from TSDoc (`npm run docs`, typedoc.json). This runs typedoc
// without writing anything, with its validation warnings as errors, so an export without
// TSDoc, a broken {@link} or a public type that cannot be named fails the suite.
const repo = fileURLToPath(new URL("../..", import.meta.url));

function typedoc(): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const bin = join(repo, "node_modules", "typedoc", "bin", "typedoc");
    execFile(process.execPath, [bin, "--emit", "none", "--treatValidationWarningsAsErrors"], { cwd: repo, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      // typedoc colours its output; the checks read plain text.
      resolve({ code, output: `${stdout}\n${stderr}`.replace(/\u001b\[[0-9;]*m/g, "") });
    });
  });
}

describe("API reference (typedoc)", () => {
  it(
    "documents every public export, resolves every link and names every type the API uses",
    async () => {
      const { code, output } = await typedoc();
      const lines = output.split("\n").filter((l) => /^\[(warning|error)\]/.test(l));
      expect.soft(lines.filter((l) => /does not have any documentation/.test(l)), "exports without TSDoc").toEqual([]);
      expect.soft(lines.filter((l) => /links to|Failed to resolve link/.test(l)), "broken or unexported {@link} targets").toEqual([]);
      expect.soft(lines.filter((l) => /is referenced by .* but not included in the documentation/.test(l)), "types the API uses but does not export").toEqual([]);
      expect(code, output).toBe(0);
    },
    300_000,
  );
});
