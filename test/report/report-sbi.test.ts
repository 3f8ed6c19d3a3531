/**
 * Reports made from an SBI dataset file, with and without what the rates issue adds to it
 * (/rates_combined, yield_per_msun_* in x, /dco/a_final). The library writes format 2 with
 * rates; to know every value the plots must show, the test replaces them with values it
 * chooses (h5py), and strips them to get a format-1 file.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { writeSbiHdf5 } from "../../src/dataset/write-h5.js";
import { writeReport } from "../../src/report/write.js";
import { horizontalOverflow, openFile, screenshot } from "../support/browser.js";
import { python } from "../support/compas-fixtures.js";
import { makeDataset } from "../dataset/dataset-helpers.js";
import { tempDir } from "./_ensembles.js";

// Each test starts chromium (twice for the two widths); a loaded machine needs minutes.
vi.setConfig({ testTimeout: 300_000 });

/** The CSV behind a plot, decoded from its data: link. */
function csvOf(html: string, name: string): string[][] {
  const m = new RegExp(`download="${name}" href="data:text/csv;base64,([^"]+)"`).exec(html);
  if (!m) throw new Error(`no data link for ${name}`);
  return Buffer.from(m[1]!, "base64")
    .toString("utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(","));
}

// Adds what the rates issue writes, with values chosen here: two groups (alpha_ce 0.1 and 1),
// BBH R(z) = 10 (1 + z)^2 and 20 (1 + z)^2, BHNS constant 3 and 4, BNS 5 and 0 (a zero line);
// yield_per_msun_* appended to x; a_final = 0.01 * m1 AU.
// What format 2 added, removed again: the rates groups, the final orbit and x's entries after
// the 52 of format 1 (yield_per_msun_*, rate_*_z0).
const STRIP_V2 = `
def strip_v2(f):
    for k in ["rates", "rates_combined", "dco/a_final", "dco/e_final", "dco/rate_z0"]:
        if k in f:
            del f[k]
    cols = [c.decode() if isinstance(c, bytes) else str(c) for c in f["x"].attrs["columns"]]
    keep = [i for i, c in enumerate(cols) if not (c.startswith("yield_per_msun_") or c.startswith("rate_"))]
    x = f["x"][()][:, keep]
    del f["x"]
    d = f.create_dataset("x", data=x)
    d.attrs["columns"] = np.array([cols[i].encode() for i in keep])
`;

const ADD_RATES = `
import h5py, numpy as np, sys, json
${STRIP_V2}
with h5py.File(sys.argv[1], "r+") as f:
    strip_v2(f)
    z = np.round(np.arange(0, 1001) * 0.01, 2)
    f.create_dataset("rates/z", data=z)
    th = f.create_dataset("rates_combined/theta", data=np.array([[0.1, 0.1, 217, 0.5], [1.0, 0.1, 217, 0.5]]))
    th.attrs["columns"] = np.array([b"alpha_ce", b"lambda_ce", b"kick_sigma", b"mass_transfer_fa"])
    f.create_dataset("rates_combined/runs", data=np.array([[0, 2], [1, -1]], dtype=np.int32))
    f.create_dataset("rates_combined/BBH", data=np.stack([10 * (1 + z) ** 2, 20 * (1 + z) ** 2]))
    f.create_dataset("rates_combined/BHNS", data=np.stack([np.full_like(z, 3.0), np.full_like(z, 4.0)]))
    f.create_dataset("rates_combined/BNS", data=np.stack([np.full_like(z, 5.0), np.zeros_like(z)]))
    x = f["x"][()]; cols = [c.decode() if isinstance(c, bytes) else str(c) for c in f["x"].attrs["columns"]]
    extra = ["yield_per_msun_" + t + s for t in ["BBH", "BHNS", "BNS"] for s in ["", "_merging"]]
    values = np.array([[1e-5 * (i + 1) * (k + 1) for k in range(6)] for i in range(x.shape[0])])
    del f["x"]
    d = f.create_dataset("x", data=np.hstack([x, values]))
    d.attrs["columns"] = np.array([c.encode() for c in cols + extra])
    m1 = f["dco/m1"][()]
    f.create_dataset("dco/a_final", data=0.01 * m1)
    print(json.dumps({"yields": values.tolist(), "m1": m1.tolist()}))
`;

describe("report of an SBI dataset with rates, yields per solar mass and final separations", () => {
  const dir = tempDir("sbi-rates");
  const file = join(dir, "sbi.h5");
  const html = join(dir, "report.html");
  let added: { yields: number[][]; m1: number[] };

  beforeAll(async () => {
    await writeSbiHdf5(makeDataset(), file);
    added = JSON.parse(python(ADD_RATES, [file])) as typeof added;
    const result = await writeReport({ source: file, out: html });
    expect(result.omitted).toEqual([]);
  }, 300_000);

  it("draws R(z) with one line per alpha_ce and DCO type that has a non-zero rate, with units on the axis", async () => {
    const p = await openFile(html, 1280);
    try {
      expect(p.requests).toEqual([]);
      expect(p.errors).toEqual([]);
      // BBH and BHNS: both alpha_ce groups; BNS: only alpha_ce 0.1 (the other is zero).
      expect(await p.page.locator('#plot-rates g[aria-label="line"] path').count()).toBe(5);
      expect(await p.page.locator("#plot-rates").innerText()).toContain("R(z) [Gpc^-3 yr^-1]");
      await screenshot(p.page, "report", "sbi-rates-1280");
    } finally {
      await p.close();
    }
    const rows = csvOf(readFileSync(html, "utf8"), "rates.csv");
    expect(rows[0]).toEqual(["type", "alpha_ce", "groups", "z", "rate"]);
    const at = (type: string, alpha: string, z: string) => Number(rows.find((r) => r[0] === type && r[1] === alpha && r[3] === z)![4]);
    expect(at("BBH", "0.1", "0")).toBe(10);
    expect(at("BBH", "1", "10")).toBeCloseTo(20 * 11 ** 2, 9);
    expect(rows.length - 1).toBe(3 * 2 * 201);
  });

  it("plots yields per solar mass from x's yield_per_msun columns", async () => {
    const text = readFileSync(html, "utf8");
    expect(text).toContain("DCO yields per Msol of star formation");
    const rows = csvOf(text, "yields.csv");
    // makeDataset's runs: 0 (alpha 0.1, Z 1e-4), 1 (alpha 5, Z 0.0142), 2 (alpha 1, Z 1e-4); one run per point.
    const bbh = rows.filter((r) => r[0] === "BBH").map((r) => [Number(r[2]), Number(r[4]), Number(r[5])]);
    expect(bbh).toEqual([
      [0.1, added.yields[0]![0], added.yields[0]![1]],
      [1, added.yields[2]![0], added.yields[2]![1]],
      [5, added.yields[1]![0], added.yields[1]![1]],
    ]);
  });

  it("draws the log10 a_final histogram when the DCO table has a_final", async () => {
    const p = await openFile(html, 390);
    try {
      expect(await p.page.locator('#plot-hist-log10-a-final g[aria-label="rect"] rect').count()).toBeGreaterThan(0);
      expect(await p.page.locator("#plot-hist-log10-a-final .note").count()).toBe(0);
      expect(await horizontalOverflow(p)).toBeLessThanOrEqual(0);
    } finally {
      await p.close();
    }
  });
});

describe("report of an SBI dataset without rates (format 1)", () => {
  it("falls back to yields per binary and leaves out the rate plot and the a_final histogram with a note", async () => {
    const dir = tempDir("sbi-plain");
    const file = join(dir, "sbi.h5");
    await writeSbiHdf5(makeDataset(), file);
    python(`import h5py, numpy as np, sys\n${STRIP_V2}\nwith h5py.File(sys.argv[1], "r+") as f:\n    strip_v2(f)\n`, [file]);
    const html = join(dir, "report.html");
    const result = await writeReport({ source: file, out: html });
    expect(result.omitted.map((o) => o.id).sort()).toEqual(["plot-hist-log10-a-final", "plot-rates"]);
    const p = await openFile(html, 1280);
    try {
      expect(p.errors).toEqual([]);
      expect(await p.page.locator("#plot-rates .note").innerText()).toContain("No merger rates in this source");
      expect(await p.page.locator("#plot-hist-log10-a-final .note").innerText()).toContain("no final separations");
      expect(await p.page.locator("#plot-yields h3").innerText()).toBe("DCO yields per simulated binary");
    } finally {
      await p.close();
    }
  }, 300_000);
});

describe("report of an SBI dataset as extract writes it (format 2)", () => {
  it("plots yields per solar mass and final separations, and says why no R(z) is drawn when no group spans two metallicities", async () => {
    const dir = tempDir("sbi-v2");
    const file = join(dir, "sbi.h5");
    // makeDataset's runs differ in alpha_ce as well as Z, so no group can be combined over Z;
    // its DCOs have no orbit, so give them one (a_final = m1 / 100 AU).
    const d = makeDataset();
    d.dco.a_final = d.dco.m1.map((m) => m / 100);
    await writeSbiHdf5(d, file);
    const html = join(dir, "report.html");
    const result = await writeReport({ source: file, out: html });
    expect(result.omitted.map((o) => o.id)).toEqual(["plot-rates"]);
    const text = readFileSync(html, "utf8");
    expect(text).toContain("DCO yields per Msol of star formation");
    expect(text).toContain("no group of runs spans two or more metallicities");
    expect(csvOf(text, "hist_log10_a_final.csv").length).toBeGreaterThan(1);
  }, 300_000);
});
