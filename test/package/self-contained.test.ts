import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// A clone must test on its own: nothing the tests, benchmarks, scripts or examples read may
// live outside the repository (the shared fixture folder beside it, or a path of one machine).
const repo = fileURLToPath(new URL("../..", import.meta.url));
const ROOTS = ["test", "bench", "scripts", "examples", ".ci"];
const SOURCE = /\.(ts|mts|mjs|js|py|sh|json|yaml|yml)$|^run$/;
const FORBIDDEN = [/\.\.\/shared\b/, /shared\/fixtures/, /\/work\//];

/** Every file below `dir` that is not in test/fixtures or node_modules. */
function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules" || relative(repo, path) === join("test", "fixtures")) return [];
    return statSync(path).isDirectory() ? walk(path) : SOURCE.test(name) ? [path] : [];
  });
}

/**
 * The files of `root` a clone has or a commit would add: tracked and untracked, but not what
 * .gitignore leaves out (a benchmark's own output under bench/.out names this machine's paths
 * and never reaches a clone). Outside a git checkout, every file.
 */
function files(root: string): string[] {
  let listed: string;
  try {
    listed = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", root], { cwd: repo, encoding: "utf8" });
  } catch {
    return walk(join(repo, root));
  }
  return listed
    .split("\0")
    .filter((f) => f !== "" && !f.startsWith("test/fixtures/") && SOURCE.test(f.split("/").pop()!))
    .map((f) => join(repo, f))
    .filter((f) => statSync(f, { throwIfNoEntry: false })?.isFile() === true);
}

describe("the repository tests on its own", () => {
  it("no test, benchmark, script or example names a path outside the repository", () => {
    const offenders: string[] = [];
    for (const root of ROOTS) {
      for (const file of files(root)) {
        readFileSync(file, "utf8")
          .split("\n")
          .forEach((line, i) => {
            if (FORBIDDEN.some((re) => re.test(line))) offenders.push(`${relative(repo, file)}:${i + 1}: ${line.trim()}`);
          });
      }
    }
    expect(offenders).toEqual([]);
  });

  it("the fixtures the tests read are in the repository", () => {
    const readme = readFileSync(join(repo, "test/fixtures/compas/README.md"), "utf8");
    expect(readme).toMatch(/COMPAS version string/);
    expect(statSync(join(repo, "test/fixtures/compas/alpha0.1_lambda0.1_Z0.0001_fa0.5_kick217_N5000_seed100000/COMPAS_Output/COMPAS_Output.h5.gz")).size).toBe(2_436_906);
  });
});
