import { execFile } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createGunzip } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_ROOT } from "../support/fixtures.js";

// What a user gets from the registry: the packed tarball, installed into an empty project,
// used through `import`, `require`, TypeScript and the CLI. `npm test` builds dist first.
const repo = fileURLToPath(new URL("../..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { name: string; version: string };
const fixture = join(FIXTURE_ROOT, "detailed_alpha0.1_lambda0.1_Z0.0001_fa0.5_kick217_N5_seed100315/COMPAS_Output/COMPAS_Output.h5.gz");
/** The subpath entry points besides the root (package.json "exports", tsup.config.ts). */
const ENTRIES = ["ssh", "batch", "slurm", "store", "manifest", "sbi", "estimate", "compas", "worker", "report", "doctor"];
const BUILD = [
  ...["index", ...ENTRIES].flatMap((name) => [`dist/${name}.js`, `dist/${name}.cjs`, `dist/${name}.d.ts`, `dist/${name}.d.cts`]),
  "dist/cli.js",
];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: string[], cwd: string): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function ok(r: Result, what: string): Result {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

let files: string[] = [];
let project = "";
let h5 = "";
const npm = "npm";

beforeAll(async () => {
  const missing = BUILD.filter((f) => !existsSync(join(repo, f)));
  if (missing.length > 0) throw new Error(`The build output is missing (${missing.join(", ")}); run \`npm run build\` first (\`npm test\` does).`);
  const work = mkdtempSync(join(tmpdir(), "pack-"));
  const packed = ok(await exec(npm, ["pack", "--json", "--pack-destination", work], repo), "npm pack");
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = info!.files.map((f) => f.path).sort();
  const tarball = join(work, info!.filename);

  project = join(work, "consumer");
  ok(await exec("mkdir", ["-p", project], work), "mkdir");
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true }));
  // Dependencies come from the npm cache that `npm ci` filled; only a missing one may be fetched.
  // Install scripts are off as in npm 11's default (ssh2's optional native speed-up is not needed).
  const flags = ["--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock"];
  let install = await exec(npm, ["install", "--offline", ...flags, tarball], project);
  if (install.code !== 0 && /ENOTCACHED/.test(install.stderr)) install = await exec(npm, ["install", "--prefer-offline", ...flags, tarball], project);
  ok(install, "npm install of the tarball");

  h5 = join(work, "COMPAS_Output.h5");
  await pipeline(createReadStream(fixture), createGunzip(), createWriteStream(h5));
}, 300_000);

describe("the packed tarball", () => {
  it("ships only dist, package.json, README, LICENSE and CHANGELOG", () => {
    expect(files.filter((f) => !/^(dist\/.+|package\.json|README\.md|LICENSE|CHANGELOG\.md)$/.test(f))).toEqual([]);
    for (const f of [...BUILD, "package.json", "README.md", "LICENSE", "CHANGELOG.md"]) expect(files).toContain(f);
  });

  it("works with import from an ES module and gives the 40 sparse points", async () => {
    const code = `
      import { runEnsemble, sparseGrid, expandGrid, LIBRARY_VERSION } from "compas-ensemble";
      const points = expandGrid(sparseGrid());
      console.log(JSON.stringify({ n: points.length, first: points[0].run_id, run: typeof runEnsemble, version: LIBRARY_VERSION }));`;
    const r = ok(await exec(process.execPath, ["--input-type=module", "-e", code], project), "import");
    expect(JSON.parse(r.stdout)).toEqual({ n: 40, first: "alpha0.100_lambda0.10_kick217_Z0.00010_fa0.50", run: "function", version: pkg.version });
  });

  it("works with require from CommonJS, including reading HDF5 through h5wasm", async () => {
    const code = `
      const m = require("compas-ensemble");
      const sbi = require("compas-ensemble/sbi");
      sbi.inspect(${JSON.stringify(h5)}).then((r) => console.log(JSON.stringify({
        n: m.expandGrid(m.sparseGrid()).length,
        run: typeof m.runEnsemble,
        systems: r.groups.find((g) => g.name === "BSE_System_Parameters").rows,
        dco: r.dco,
      })));`;
    const r = ok(await exec(process.execPath, ["-e", code], project), "require");
    // Fixture README: 5 binaries, one DCO, a BBH.
    expect(JSON.parse(r.stdout)).toEqual({ n: 40, run: "function", systems: 5, dco: { total: 1, BBH: 1, BHNS: 0, BNS: 0, other: 0 } });
  });

  it("gives every subpath entry point to import and to require, sharing one set of classes with the root", async () => {
    const probe = `
      const names = { ssh: "SshExecutor", batch: "BatchExecutor", slurm: "SlurmExecutor", store: "LocalStore", manifest: "mergeMetadata",
        sbi: "buildSbiDataset", estimate: "estimateEnsemble", compas: "buildCompasArgs", worker: "runWorker", report: "writeReport" };
      const out = {};
      for (const [entry, name] of Object.entries(names)) out[entry] = typeof (await load("compas-ensemble/" + entry))[name];
      // An error thrown under a subpath is the root's CompasEnsembleError (one class, not a copy per entry).
      const root = await load("compas-ensemble");
      const store = await load("compas-ensemble/store");
      try { store.openStore("gs://bucket/x"); } catch (e) { out.shared = e instanceof root.CompasEnsembleError && root.isCompasEnsembleError(e, "OPTIONS_INVALID"); }
      console.log(JSON.stringify(out));`;
    const expected = { ssh: "function", batch: "function", slurm: "function", store: "function", manifest: "function", sbi: "function", estimate: "function", compas: "function", worker: "function", report: "function", shared: true };
    const esm = ok(await exec(process.execPath, ["--input-type=module", "-e", `const load = (s) => import(s);\n(async () => { ${probe} })();`], project), "import of the entry points");
    expect(JSON.parse(esm.stdout)).toEqual(expected);
    const cjs = ok(await exec(process.execPath, ["-e", `const load = async (s) => require(s);\n(async () => { ${probe} })();`], project), "require of the entry points");
    expect(JSON.parse(cjs.stdout)).toEqual(expected);
  });

  it("gives TypeScript users types for both import (.d.ts) and require (.d.cts)", async () => {
    writeFileSync(join(project, "check.mts"), 'import { expandGrid, sparseGrid, type GridPoint } from "compas-ensemble";\nexport const n: number = (expandGrid(sparseGrid()) as GridPoint[]).length;\n');
    writeFileSync(join(project, "check.cts"), 'import m = require("compas-ensemble");\nexport const n: number = (m.expandGrid(m.sparseGrid()) as m.GridPoint[]).length;\n');
    writeFileSync(join(project, "bad.cts"), 'import m = require("compas-ensemble");\nexport const s: string = m.sparseGrid();\n');
    const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
    const flags = ["--module", "node16", "--moduleResolution", "node16", "--target", "ES2022", "--strict", "--noEmit", "--skipLibCheck", "--types", "node"];
    const good = ok(await exec(process.execPath, [tsc, ...flags, "--listFiles", "check.mts", "check.cts"], project), "tsc");
    expect(good.stdout).toContain(join(project, "node_modules", pkg.name, "dist", "index.d.ts"));
    expect(good.stdout).toContain(join(project, "node_modules", pkg.name, "dist", "index.d.cts"));
    // The same check must be able to fail: a wrong type is an error.
    const bad = await exec(process.execPath, [tsc, ...flags, "bad.cts"], project);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toMatch(/bad\.cts.*error TS2322/);
    // The subpaths have types too, with today's resolution (node16) and the older one (node10,
    // through typesVersions), where a wrong type is again an error.
    writeFileSync(join(project, "sub.mts"), 'import { SshExecutor } from "compas-ensemble/ssh";\nimport { estimateEnsemble, type EnsembleEstimate } from "compas-ensemble/estimate";\nexport const k: string = new SshExecutor({}).kind;\nexport const e: Promise<EnsembleEstimate> = estimateEnsemble({ nSystems: 1, points: [] });\n');
    ok(await exec(process.execPath, [tsc, ...flags, "sub.mts"], project), "tsc of subpath imports (node16)");
    writeFileSync(join(project, "sub.ts"), 'import { LocalStore } from "compas-ensemble/store";\nexport const s: number = new LocalStore("/tmp/x").root;\n');
    const node10 = ["--module", "commonjs", "--moduleResolution", "node10", "--target", "ES2022", "--strict", "--noEmit", "--skipLibCheck", "--types", "node"];
    const badNode10 = await exec(process.execPath, [tsc, ...node10, "sub.ts"], project);
    expect(badNode10.stdout).toMatch(/sub\.ts.*error TS2322/);
    writeFileSync(join(project, "sub.ts"), 'import { LocalStore } from "compas-ensemble/store";\nexport const s: string = new LocalStore("/tmp/x").root;\n');
    ok(await exec(process.execPath, [tsc, ...node10, "--listFiles", "sub.ts"], project), "tsc of subpath imports (node10)");
  });

  it("installs the compas-ensemble command, which runs with npx", async () => {
    const bin = join(project, "node_modules", pkg.name, "dist", "cli.js");
    expect(readFileSync(bin, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(statSync(bin).mode & 0o111).not.toBe(0);
    const help = ok(await exec("npx", ["compas-ensemble", "--help"], project), "npx compas-ensemble --help");
    expect(help.stdout).toMatch(/^Usage: compas-ensemble/);
    expect(help.stdout).toMatch(/\brun \[options\]/);
    const version = ok(await exec("npx", ["compas-ensemble", "--version"], project), "npx compas-ensemble --version");
    expect(version.stdout.trim()).toBe(pkg.version);
  });
});
