import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatInspectSbi } from "../../src/cli/format-inspect.js";
import { inspectSbi, isSbiFile } from "../../src/dataset/inspect-sbi.js";
import { writeSbiHdf5 } from "../../src/dataset/write-h5.js";
import { FIXTURES, gunzipFixture, makeTempDir, python } from "../support/compas-fixtures.js";
import { makeDataset } from "./dataset-helpers.js";

const tmp = makeTempDir("inspect-sbi-");
let sbi: string;

beforeAll(async () => {
  sbi = join(tmp.dir, "sbi.h5");
  // Runs 0 and 1 share alpha (one group, two metallicities); run 2 is alone.
  await writeSbiHdf5(makeDataset({ alphas: [1, 1, 3] }), sbi);
}, 120_000);
afterAll(() => tmp.cleanup());

describe("inspectSbi", () => {
  it("shows each run's star-forming mass and rates at z = 0, as h5py reads them from the file", async () => {
    const r = await inspectSbi(sbi);
    const want = JSON.parse(
      python(
        `import h5py, json, sys
f = h5py.File(sys.argv[1], "r")
print(json.dumps({"ids": list(f["runs/run_id"].asstr()[()]), "mass": f["runs/star_forming_mass"][()].tolist(),
  "z": f["theta"][:, 3].tolist(), "rates": {t: f["rates/" + t][:, 0].tolist() for t in ("BBH", "BHNS", "BNS")},
  "combined": {t: f["rates_combined/" + t][:, 0].tolist() for t in ("BBH", "BHNS", "BNS")}}))`,
        [sbi],
      ),
    ) as { ids: string[]; mass: number[]; z: number[]; rates: Record<string, number[]>; combined: Record<string, number[]> };
    expect(r.formatVersion).toBe(2);
    expect(r.nRuns).toBe(3);
    expect(r.nDco).toBe(4);
    expect(r.runs.map((x) => x.run_id)).toEqual(want.ids);
    r.runs.forEach((x, i) => {
      expect(x.metallicity).toBe(want.z[i]);
      expect(x.starFormingMass).toBe(want.mass[i]);
      for (const t of ["BBH", "BHNS", "BNS"] as const) expect(x.rateZ0![t]).toBe(want.rates[t]![i]);
    });
    expect(r.runs[0]!.rateZ0!.BBH).toBeGreaterThan(0);
    expect(r.groups).toHaveLength(1);
    expect(r.groups[0]!.runs).toEqual([want.ids[0], want.ids[1]]);
    expect(r.groups[0]!.theta).toEqual([1, 0.1, 217, 0.5]);
    expect(r.groups[0]!.rateZ0.BBH).toBe(want.combined.BBH![0]);
    expect(r.rates).toMatchObject({ f_bin: 0.7 });
  });

  it("prints one line per run and per group with the rates at z = 0", async () => {
    const text = formatInspectSbi(await inspectSbi(sbi));
    expect(text).toContain("SBI dataset, format_version 2: 3 runs, 4 DCOs");
    expect(text).toContain("merger rates at z = 0 per run (single metallicity), Gpc^-3 yr^-1:");
    expect(text).toMatch(/^alpha0\.100_lambda0\.10_kick217_Z0\.00010_fa0\.50 +0\.0001000 +5\.086e\+5 /m);
    expect(text).toMatch(/^1 0\.1 217 0\.5 +2 /m);
  });

  it("tells an SBI file from a COMPAS file, and says when a file has no rates", async () => {
    expect(await isSbiFile(sbi)).toBe(true);
    const compas = await gunzipFixture(FIXTURES.detailed, tmp.dir);
    expect(await isSbiFile(compas)).toBe(false);
    const off = join(tmp.dir, "off.h5");
    await writeSbiHdf5(makeDataset({ rates: { enabled: false } }), off);
    const r = await inspectSbi(off);
    expect(r.runs.every((x) => x.rateZ0 === null && x.starFormingMass! > 0)).toBe(true);
    expect(formatInspectSbi(r)).toContain("(merger rates were switched off: extract --no-rates)");
  });
});
