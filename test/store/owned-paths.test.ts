import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { isWithin, realPathOf, refuseProtectedOutput } from "../../src/store/owned-paths.js";

const root = realpathSync(mkdtempSync(join(tmpdir(), "ce-owned-")));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function refusal(out: string, protect = { inputs: [] as string[], ensembleDirs: [] as string[] }): string | null {
  try {
    refuseProtectedOutput(out, "--out", protect);
    return null;
  } catch (e) {
    if (!isCompasEnsembleError(e, "OUTPUT_PATH_REFUSED")) throw e;
    return e.message;
  }
}

describe("owned paths", () => {
  it("resolves a path that does not exist yet through a symlinked folder above it", () => {
    mkdirSync(join(root, "real"));
    symlinkSync(join(root, "real"), join(root, "alias"));
    expect(realPathOf(join(root, "alias", "new", "file.h5"))).toBe(join(root, "real", "new", "file.h5"));
    expect(isWithin(join(root, "real"), join(root, "alias", "x"))).toBe(true);
    expect(isWithin(join(root, "real"), join(root, "realistic"))).toBe(false);
  });

  it("protects the owned files of any ensemble above the output, even one the command does not read", () => {
    const ens = join(root, "ens");
    mkdirSync(join(ens, "runs"), { recursive: true });
    writeFileSync(join(ens, "plan.json"), "{}");
    expect(refusal(join(ens, "plan.json"))).toBe(`--out ${join(ens, "plan.json")} would overwrite ${join(ens, "plan.json")}, which belongs to the ensemble ${ens}.`);
    expect(refusal(join(ens, "runs", "deep", "x.h5"))).toContain(`lies inside ${join(ens, "runs")}`);
    expect(refusal(join(ens, "sbi.h5"))).toBeNull();
  });

  it("refuses an input, and a folder that holds one", () => {
    const input = join(root, "data", "in.h5");
    const protect = { inputs: [input], ensembleDirs: [] };
    expect(refusal(input, protect)).toContain(`would overwrite the input ${input}`);
    expect(refusal(join(root, "data"), protect)).toContain(`would replace a folder that holds the input ${input}`);
    expect(refusal(join(root, "data", "out.h5"), protect)).toBeNull();
  });
});
