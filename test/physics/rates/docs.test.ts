import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SbiDataset } from "../../../src/dataset/types.js";
import { writeSbiHdf5 } from "../../../src/dataset/write-h5.js";
import { makeDataset } from "../../dataset/dataset-helpers.js";

const DOC = readFileSync(new URL("../../../docs/rates.md", import.meta.url), "utf8");

/** The Python block under the "Plotting R(z) from the file" heading of docs/rates.md. */
function plottingSnippet(): string {
  const section = DOC.slice(DOC.indexOf("## Plotting R(z) from the file"));
  const match = /```python\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error("docs/rates.md has no python block under 'Plotting R(z) from the file'");
  return match[1] as string;
}

// Runs the snippet in the folder of an sbi.h5 with a stand-in matplotlib (the test machines
// have no matplotlib) that records what would be drawn.
const RUN_WITH_RECORDING_PYPLOT = `
import json, sys, types, os
calls = []
class Ax:
    def __init__(self, i): self.i = i
    def plot(self, x, y, label=None): calls.append({"ax": self.i, "x": [float(v) for v in x], "y": [float(v) for v in y], "label": label})
    def __getattr__(self, name): return lambda *a, **k: None
class Fig:
    def __getattr__(self, name): return lambda *a, **k: None
pyplot = types.ModuleType("matplotlib.pyplot")
pyplot.subplots = lambda n, m, **k: (Fig(), [Ax(i) for i in range(m)])
matplotlib = types.ModuleType("matplotlib")
matplotlib.pyplot = pyplot
sys.modules["matplotlib"] = matplotlib
sys.modules["matplotlib.pyplot"] = pyplot
os.chdir(sys.argv[1])
exec(compile(sys.argv[2], "docs/rates.md", "exec"), {})
print(json.dumps(calls))
`;

describe("docs/rates.md", () => {
  let dir: string;
  let dataset: SbiDataset;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rates-doc-"));
    // Runs 0 and 1 form one metallicity group; run 2 is alone and combined only on request.
    dataset = makeDataset({ alphas: [1, 1, 3], rates: { combineSingleMetallicity: true } });
    await writeSbiHdf5(dataset, join(dir, "sbi.h5"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("has a Python snippet that parses", () => {
    const r = spawnSync("/usr/bin/python3", ["-c", "import ast, sys; ast.parse(sys.argv[1])", plottingSnippet()], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
  });

  it("whose snippet plots R(z) of every group and type from the file alone", () => {
    const r = spawnSync("/usr/bin/python3", ["-c", RUN_WITH_RECORDING_PYPLOT, dir, plottingSnippet()], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const calls = JSON.parse(r.stdout) as { ax: number; x: number[]; y: number[]; label: string }[];
    expect(calls).toHaveLength(3 * 2);
    const combined = dataset.rates.combined!;
    (["BBH", "BHNS", "BNS"] as const).forEach((type, ax) => {
      const lines = calls.filter((c) => c.ax === ax);
      expect(lines.map((c) => c.y)).toEqual(combined[type].map((row) => Array.from(row)));
      for (const line of lines) expect(line.x).toEqual(Array.from(dataset.rates.z!));
    });
    expect(calls[0]!.label).toBe("alpha_ce 1, lambda_ce 0.1, kick_sigma 217, mass_transfer_fa 0.5");
  });
});
