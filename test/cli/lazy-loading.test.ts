import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtCli } from "../support/cli.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { heavyIn, LoadRecorder } from "../support/loaded-packages.js";

// A command loads only what it uses (docs/architecture.md): what the built CLI's process has
// loaded when it exits, recorded from inside it (test/support/loaded-packages.ts). A static
// import of the AWS SDK, ssh2, the Parquet backend, the plotting library or h5wasm anywhere on
// these commands' paths shows up here.

let recorder: LoadRecorder;
let work = "";

beforeAll(() => {
  recorder = new LoadRecorder();
  work = mkdtempSync(join(tmpdir(), "lazy-loading-"));
});

afterAll(() => {
  recorder.close();
  rmSync(work, { recursive: true, force: true });
});

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const r = await recorder.run([builtCli(), ...args], { cwd: work, env });
  if (r.code !== 0) throw new Error(`compas-ensemble ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.packages;
}

describe("what a command of the CLI loads", () => {
  it("--version loads commander and no other package", async () => {
    expect(await cli(["--version"])).toEqual(["commander"]);
  });

  it("grid loads none of the heavy packages, for a preset and for a YAML grid file", async () => {
    expect(heavyIn(await cli(["grid", "--sparse"]))).toEqual([]);
    const file = join(work, "grid.yaml");
    writeFileSync(file, "alpha_ce: [0.5, 1.0]\nlambda_ce: [0.1]\nkick_sigma: [217]\nmetallicity: [0.0142]\nmass_transfer_fa: [0.5]\n");
    const loaded = await cli(["grid", "--file", file]);
    // yaml is loaded when a YAML file is read, and only then (the preset above does not).
    expect(loaded).toContain("yaml");
    expect(heavyIn(loaded)).toEqual([]);
  });

  it("command prints a COMPAS command line without loading any heavy package", async () => {
    expect(heavyIn(await cli(["command", "--sparse", "--index", "3"], { COMPAS_BINARY: fakeCompasPath() }))).toEqual([]);
  });

  it("a local run loads h5wasm to check its outputs and none of the remote, Parquet or plotting packages", async () => {
    const out = join(work, "run");
    const loaded = await cli(["run", "--sparse", "--test-run", "--n-systems", "5", "--concurrency", "2", "--output-dir", out], {
      COMPAS_BINARY: fakeCompasPath(),
    });
    expect(existsSync(join(out, "ensemble_metadata.json"))).toBe(true);
    expect(heavyIn(loaded)).toEqual(["h5wasm"]);
  });

  it("the preset grid does not load yaml", async () => {
    expect(await cli(["grid", "--full"])).not.toContain("yaml");
  });
});

// The check is only as good as its record: a command that does need a heavy package shows it.
describe("the record of loaded packages", () => {
  it("shows the plotting library and the DOM when a report is written", async () => {
    const out = join(work, "report-source");
    await cli(["run", "--sparse", "--test-run", "--n-systems", "5", "--output-dir", out], { COMPAS_BINARY: fakeCompasPath() });
    const loaded = await cli(["report", out, "--out", join(work, "report.html")]);
    expect(heavyIn(loaded)).toEqual(expect.arrayContaining(["@observablehq/plot", "linkedom", "h5wasm"]));
  });
});
