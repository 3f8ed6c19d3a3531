import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO } from "../support/cli.js";

const exec = promisify(execFile);

// scripts/built-cli.mjs (what `npm run demo` and `prepare` run) in a checkout of its own: a
// package whose `npm run build` writes a dist that echoes its arguments and counts builds.
function checkout(options: { tsup?: boolean } = {}): string {
  const root = mkdtempSync(join(tmpdir(), "built-cli-"));
  mkdirSync(join(root, "scripts"));
  copyFileSync(join(REPO, "scripts", "built-cli.mjs"), join(root, "scripts", "built-cli.mjs"));
  mkdirSync(join(root, "src"));
  writeFileSync(join(root, "src", "cli.ts"), "// the sources\n");
  writeFileSync(
    join(root, "build.mjs"),
    `import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
mkdirSync("dist", { recursive: true });
for (const f of ["index.js", "index.cjs", "index.d.ts"]) writeFileSync("dist/" + f, "");
writeFileSync("dist/cli.js", "console.log(JSON.stringify(process.argv.slice(2)));\\n");
appendFileSync("builds.log", "built\\n");
`,
  );
  writeFileSync(join(root, "package.json"), JSON.stringify({ name: "c", version: "1.0.0", type: "module", scripts: { build: "node build.mjs" } }));
  if (options.tsup ?? true) mkdirSync(join(root, "node_modules", "tsup"), { recursive: true });
  return root;
}

async function launch(root: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [join(root, "scripts", "built-cli.mjs"), ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const builds = (root: string): number => (existsSync(join(root, "builds.log")) ? readFileSync(join(root, "builds.log"), "utf8").split("\n").length - 1 : 0);

describe("scripts/built-cli.mjs", () => {
  it("builds a missing dist once, then runs the built CLI with the arguments, without building again", async () => {
    const root = checkout();
    const first = await launch(root, "demo", "--output-dir", "x");
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/^building compas-ensemble once \(dist\/cli\.js, .*missing\)\.\.\.$/m);
    expect(JSON.parse(first.stdout)).toEqual(["demo", "--output-dir", "x"]);
    expect(builds(root)).toBe(1);
    const again = await launch(root, "demo");
    expect([again.code, again.stderr, JSON.parse(again.stdout)]).toEqual([0, "", ["demo"]]);
    expect(builds(root)).toBe(1);
  });

  it("rebuilds when a source is newer than the build, naming it", async () => {
    const root = checkout();
    await launch(root, "--build-only");
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(root, "src", "cli.ts"), later, later);
    const r = await launch(root, "grid");
    expect(r.stderr).toContain("building compas-ensemble once (src/cli.ts is newer than the build)");
    expect(JSON.parse(r.stdout)).toEqual(["grid"]);
    expect(builds(root)).toBe(2);
  });

  it("with --build-only builds and runs nothing else (the prepare script)", async () => {
    const root = checkout();
    const r = await launch(root, "--build-only");
    expect([r.code, r.stdout]).toEqual([0, ""]);
    expect(builds(root)).toBe(1);
  });

  it("says in one sentence what to do when there is neither a build nor tsup", async () => {
    const root = checkout({ tsup: false });
    const r = await launch(root, "demo");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: compas-ensemble is not built (dist/cli.js, dist/index.js, dist/index.cjs, dist/index.d.ts missing) and tsup is not installed; run `npm ci` first.\n");
    expect(builds(root)).toBe(0);
  });
});
