import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The rules of the source layout (docs/architecture.md), checked on every import in src/.
const repo = fileURLToPath(new URL("../..", import.meta.url));
const src = join(repo, "src");

interface Import {
  /** The importing file, relative to the repository. */
  from: string;
  /** The imported file, relative to the repository. */
  to: string;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith(".ts") ? [path] : [];
  });
}

// Static imports, re-exports and dynamic imports of relative paths.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;

function importsOf(files: readonly { path: string; text: string }[]): Import[] {
  return files.flatMap(({ path, text }) =>
    [...text.matchAll(SPECIFIER)].map((m) => ({
      from: relative(repo, path),
      to: relative(repo, resolve(dirname(path), m[1]!.replace(/\.js$/, ".ts"))),
    })),
  );
}

/**
 * Imports of a folder's private file (`_name.ts`) from outside that folder (its subfolders
 * count as inside).
 * @param imports - resolved imports
 */
function privateImportsFromOutside(imports: readonly Import[]): Import[] {
  return imports.filter(({ from, to }) => {
    const name = to.split(sep).at(-1)!;
    if (!name.startsWith("_")) return false;
    const folder = dirname(to) + sep;
    return !(dirname(from) + sep).startsWith(folder);
  });
}

const all = importsOf(sources(src).map((path) => ({ path, text: readFileSync(path, "utf8") })));

describe("the source layout", () => {
  it("finds the imports it checks", () => {
    expect(all.length).toBeGreaterThan(500);
    expect(all).toContainEqual({ from: join("src", "store", "local.ts"), to: join("src", "store", "_hash.ts") });
  });

  it("imports a folder's _private file only from inside that folder", () => {
    expect(privateImportsFromOutside(all)).toEqual([]);
  });

  it("would catch a file that imports another folder's _private file", () => {
    const planted = importsOf([
      { path: join(src, "ensemble", "x.ts"), text: 'import { a } from "../store/_hash.js";\nconst b = await import("../store/_disk.js");' },
      { path: join(src, "store", "y.ts"), text: 'import { a } from "./_hash.js";' },
      { path: join(src, "report", "z.ts"), text: 'export { f } from "./plots/_inner.js";' },
      { path: join(src, "report", "plots", "w.ts"), text: 'import { f } from "./_inner.js";' },
    ]);
    expect(privateImportsFromOutside(planted).map((i) => `${i.from} -> ${i.to}`)).toEqual([
      `${join("src", "ensemble", "x.ts")} -> ${join("src", "store", "_hash.ts")}`,
      `${join("src", "ensemble", "x.ts")} -> ${join("src", "store", "_disk.ts")}`,
      `${join("src", "report", "z.ts")} -> ${join("src", "report", "plots", "_inner.ts")}`,
    ]);
  });

  it("keeps the executors from importing the orchestrator (src/ensemble), which drives them", () => {
    const executors = join("src", "executors") + sep;
    const ensemble = join("src", "ensemble") + sep;
    expect(all.filter(({ from, to }) => from.startsWith(executors) && to.startsWith(ensemble))).toEqual([]);
  });
});
