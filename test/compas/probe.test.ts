import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildCompasArgs, withOutput } from "../../src/compas/argv.js";
import { checkCompletion } from "../../src/compas/completion.js";
import { checkFlagsKnown, hashFile, probeCompas, resolveCompasBinary } from "../../src/compas/probe.js";
import { isCompasEnsembleError } from "../../src/errors.js";
import { expandGrid, sparseGrid } from "../../src/grid/index.js";
import { fakeCompasPath, runFakeCompas } from "../support/fake-compas/index.js";

function codeAndMessage(fn: () => unknown): { code: string; message: string; hint?: string } {
  try {
    fn();
  } catch (e) {
    if (!isCompasEnsembleError(e)) throw e;
    return { code: e.code, message: e.message, hint: e.hint };
  }
  throw new Error("expected an error");
}

describe("resolveCompasBinary", () => {
  const dir = mkdtempSync(join(tmpdir(), "probe-"));

  it("says every place it looked and what to do when there is no COMPAS anywhere", () => {
    const err = codeAndMessage(() => resolveCompasBinary({ env: { PATH: dir } }));
    expect(err.code).toBe("COMPAS_NOT_FOUND");
    expect(err.message).toContain("--compas-binary (not given)");
    expect(err.message).toContain("COMPAS_BINARY (not set)");
    expect(err.message).toContain("$COMPAS_ROOT_DIR/src/bin/COMPAS (COMPAS_ROOT_DIR not set)");
    expect(err.message).toContain("COMPAS on PATH (not found)");
    expect(err.hint).toMatch(/--compas-binary/);
  });

  it("names a missing --compas-binary and a file that is not executable", () => {
    expect(codeAndMessage(() => resolveCompasBinary({ compasBinary: join(dir, "nope") })).message).toMatch(/nope \(from --compas-binary\) does not exist/);
    const plain = join(dir, "COMPAS-noexec");
    writeFileSync(plain, "#!/bin/sh\n");
    chmodSync(plain, 0o644);
    const err = codeAndMessage(() => resolveCompasBinary({ env: { COMPAS_BINARY: plain } }));
    expect(err.message).toMatch(/\(from COMPAS_BINARY\) is not executable/);
    expect(err.hint).toMatch(/chmod \+x/);
  });

  it("finds COMPAS under $COMPAS_ROOT_DIR/src/bin, then on PATH, in that order", () => {
    const root = join(dir, "root");
    mkdirSync(join(root, "src", "bin"), { recursive: true });
    copyFileSync(fakeCompasPath(), join(root, "src", "bin", "COMPAS"));
    chmodSync(join(root, "src", "bin", "COMPAS"), 0o755);
    const onPath = join(dir, "bin");
    mkdirSync(onPath, { recursive: true });
    copyFileSync(fakeCompasPath(), join(onPath, "COMPAS"));
    chmodSync(join(onPath, "COMPAS"), 0o755);
    expect(resolveCompasBinary({ env: { COMPAS_ROOT_DIR: root, PATH: onPath } })).toBe(join(root, "src", "bin", "COMPAS"));
    expect(resolveCompasBinary({ env: { PATH: `/nonexistent:${onPath}` } })).toBe(join(onPath, "COMPAS"));
    expect(resolveCompasBinary({ compasBinary: fakeCompasPath(), env: { COMPAS_ROOT_DIR: root } })).toBe(fakeCompasPath());
  });
});

describe("probeCompas", () => {
  it("records the version, the binary's sha256 and the options --help lists", async () => {
    const probe = await probeCompas(fakeCompasPath());
    expect(probe.version).toBe("03.07.00");
    expect(probe.sha256).toBe(await hashFile(fakeCompasPath()));
    expect(probe.options.has("--common-envelope-lambda-prescription")).toBe(true);
    expect(probe.options.has("--number-of-systems")).toBe(true);
  });

  it("rejects an extra flag the binary does not know, naming flag, binary and version", async () => {
    const probe = await probeCompas(fakeCompasPath());
    expect(() => checkFlagsKnown(probe, ["--quiet", "TRUE"])).not.toThrow();
    const err = codeAndMessage(() => checkFlagsKnown(probe, ["--common-envelope-lamda", "0.1"]));
    expect(err.code).toBe("COMPAS_FLAG_UNKNOWN");
    expect(err.message).toMatch(/--common-envelope-lamda is not an option of .*COMPAS \(version 03\.07\.00/);
  });

  it("fails clearly for an executable that is not COMPAS", async () => {
    const dir = mkdtempSync(join(tmpdir(), "probe-false-"));
    const fake = join(dir, "COMPAS");
    writeFileSync(fake, "#!/bin/sh\nexit 1\n");
    chmodSync(fake, 0o755);
    await expect(probeCompas(fake)).rejects.toThrow(/--(version|help) failed, so it does not look like a working COMPAS binary/);
  });
});

describe("checkCompletion", () => {
  const point = expandGrid(sparseGrid())[0]!;

  async function runStandIn(n: number, env: Record<string, string> = {}) {
    const dir = mkdtempSync(join(tmpdir(), "complete-"));
    const args = withOutput(buildCompasArgs(point, { nSystems: n, seed: 7 }), dir, "C");
    const r = await runFakeCompas(args, { env });
    return { ...r, container: join(dir, "C") };
  }

  it("accepts a run that COMPAS finished, with every condition checked", async () => {
    const r = await runStandIn(12);
    expect(r.code).toBe(0);
    const check = await checkCompletion({ containerDir: r.container, nSystems: 12, stdoutTail: r.stdout.slice(-4096) });
    expect(check).toMatchObject({ complete: true, problems: [] });
    expect(check.rows.BSE_System_Parameters).toBe(12);
  });

  it("rejects exit 0 after an aborted evolution", async () => {
    const r = await runStandIn(12, { FAKE_COMPAS_INCOMPLETE: "1" });
    expect(r.code).toBe(0);
    const check = await checkCompletion({ containerDir: r.container, nSystems: 12, stdoutTail: r.stdout });
    expect(check.complete).toBe(false);
    expect(check.problems.join("; ")).toMatch(/Evolution stopped/);
    expect(check.problems.join("; ")).toMatch(/Objects-Created 6/);
    expect(check.problems.join("; ")).toMatch(/BSE_System_Parameters has 6 rows, expected 12/);
  });

  it("rejects the unreadable file a killed COMPAS leaves", async () => {
    const r = await runStandIn(12, { FAKE_COMPAS_KILL_AFTER: "3" });
    expect(r.signal ?? r.code).not.toBe(0);
    const check = await checkCompletion({ containerDir: r.container, nSystems: 12, stdoutTail: r.stdout });
    expect(check.complete).toBe(false);
    expect(check.problems.join("; ")).toMatch(/COMPAS_Output\.h5 is truncated|not a readable HDF5 file/);
  });
});
