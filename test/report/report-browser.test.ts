/**
 * The report as a person sees it: opened from disk in Debian's chromium with the network
 * blocked, at a desktop width (1280 px) and a phone width (390 px). Marks are counted against
 * what the tests read themselves from the store (fragments, h5py on the COMPAS outputs).
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { runEnsemble, type EnsembleEvent } from "../../src/ensemble/run.js";
import { LocalExecutor } from "../../src/executors/local/executor.js";
import { STATE_COLOURS } from "../../src/report/plots/status-heatmap.js";
import { writeReport } from "../../src/report/write.js";
import { horizontalOverflow, openFile, screenshot, type OpenedPage } from "../support/browser.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { python } from "../support/compas-fixtures.js";
import { partialEnsemble, planOf, sparsePoints, statesFromFragments, tempDir } from "./_ensembles.js";

// Each test starts chromium (twice for the two widths); a loaded machine needs minutes.
vi.setConfig({ testTimeout: 300_000 });

/** Cells of the visible heatmap variant: title (run id first) and fill colour. */
// Code that runs in the page is given as text: this package compiles without the DOM types.
async function heatmapCells(p: OpenedPage): Promise<{ run: string; fill: string; title: string }[]> {
  return p.page.evaluate(`(() => {
    const variants = [...document.querySelectorAll("#plot-status-heatmap .plot > div, #plot-status-heatmap .plot > figure, #plot-status-heatmap .plot > svg")];
    const visible = variants.filter((v) => v.getClientRects().length > 0);
    return visible.flatMap((v) =>
      [...v.querySelectorAll('g[aria-label="cell"] rect')].map((r) => {
        const title = r.querySelector("title")?.textContent ?? "";
        return { run: title.split("\\n")[0], fill: r.getAttribute("fill") ?? "", title };
      }),
    );
  })()`);
}

async function count(p: OpenedPage, selector: string): Promise<number> {
  return p.page.locator(selector).count();
}

describe("report of a partly run ensemble with a failure, a missing and a corrupt output", () => {
  const out = tempDir("mixed");
  const html = join(tempDir("mixed-html"), "report.html");
  let expected: Map<string, string>;
  let readable: string[];

  beforeAll(async () => {
    // 8 runs: the first fails, 4 more finish, then the ensemble stops (3 stay queued).
    await partialEnsemble(out, 8, 5, { failFirst: true });
    expected = statesFromFragments(out);
    const succeeded = [...expected].filter(([, s]) => s === "succeeded").map(([id]) => id);
    expect(succeeded.length).toBe(4);
    // A partial sync loses one output; another output is corrupt.
    rmSync(join(out, "runs", succeeded[0]!, "COMPAS_Output", "COMPAS_Output.h5"));
    expected.set(succeeded[0]!, "output missing");
    writeFileSync(join(out, "runs", succeeded[1]!, "COMPAS_Output", "COMPAS_Output.h5"), Buffer.alloc(4096, 7));
    expected.set(succeeded[1]!, "unreadable");
    readable = succeeded.slice(2);
    await writeReport({ source: out, out: html, concurrency: 2 });
  }, 600_000);

  it("opens from disk with no request and no console error, and fits a 390 px phone without horizontal scrolling", async () => {
    for (const width of [1280, 390]) {
      const p = await openFile(html, width);
      try {
        expect(p.requests).toEqual([]);
        expect(p.errors).toEqual([]);
        expect(await horizontalOverflow(p)).toBeLessThanOrEqual(0);
        await screenshot(p.page, "report", `mixed-${width}`);
      } finally {
        await p.close();
      }
    }
  });

  it("draws one heatmap cell per run in the colour of its state, on a desktop and on a phone", async () => {
    for (const width of [1280, 390]) {
      const p = await openFile(html, width);
      try {
        const cells = await heatmapCells(p);
        expect(cells.length).toBe(8);
        const want = Object.fromEntries([...expected].map(([run, state]) => [run, STATE_COLOURS[state as keyof typeof STATE_COLOURS]]));
        expect(Object.fromEntries(cells.map((c) => [c.run, c.fill]))).toEqual(want);
        // Hovering shows the run time of the 5 runs that finished (an SVG <title>).
        expect(cells.filter((c) => /\nrun time \S+ \(\d+\.\d s\)/.test(c.title)).length).toBe(5);
      } finally {
        await p.close();
      }
    }
  });

  it("lists the failed task with its reason and log key, and the runs whose output is missing or unreadable", async () => {
    const p = await openFile(html, 1280);
    try {
      const failed = [...expected].find(([, s]) => s === "failed")![0];
      const failures = await p.page.locator("#failures + table tbody tr").allInnerTexts();
      expect(failures.length).toBe(1);
      expect(failures[0]).toContain(failed);
      expect(failures[0]).toContain("COMPAS_FAILED");
      expect(failures[0]).toContain(`logs/${failed}.a1.log`);
      expect(existsSync(join(out, "logs", `${failed}.a1.log`))).toBe(true);
      const problems = (await p.page.locator("#problems + table tbody tr").allInnerTexts()).join("\n");
      for (const [run, state] of expected) {
        if (state === "output missing" || state === "unreadable") expect(problems).toMatch(new RegExp(`${run}\\s+${state}`));
      }
    } finally {
      await p.close();
    }
  });

  it("plots one dot per merging DCO and one bar per non-empty m1 bin of the readable runs (counted with h5py)", async () => {
    const files = readable.map((id) => join(out, "runs", id, "COMPAS_Output", "COMPAS_Output.h5"));
    const plan = planOf(out);
    const zs = readable.map((id) => plan.runs.find((r) => r.run_id === id)!.params.metallicity);
    const truth = JSON.parse(
      python(
        `
import h5py, json, sys, numpy as np
files = json.loads(sys.argv[1]); zs = json.loads(sys.argv[2])
merging = 0; m1 = []; z = []
for path, zz in zip(files, zs):
    with h5py.File(path, "r") as f:
        if "BSE_Double_Compact_Objects" not in f: continue
        g = f["BSE_Double_Compact_Objects"]
        mh = g["Merges_Hubble_Time"][()] == 1
        merging += int(mh.sum())
        t1, t2 = g["Stellar_Type(1)"][()], g["Stellar_Type(2)"][()]
        bbh = mh & (t1 == 14) & (t2 == 14)
        m = np.maximum(g["Mass(1)"][()], g["Mass(2)"][()])[bbh]
        m1 += m.tolist(); z += [zz] * len(m)
bars = 0
if m1:
    edges = np.linspace(min(m1), max(m1), 21) if max(m1) > min(m1) else None
    for zz in sorted(set(z)):
        vals = [v for v, w in zip(m1, z) if w == zz]
        counts = np.histogram(vals, bins=edges)[0] if edges is not None else np.array([len(vals)])
        bars += int((counts > 0).sum())
print(json.dumps({"merging": merging, "bars": bars}))
`,
        [JSON.stringify(files), JSON.stringify(zs)],
      ),
    ) as { merging: number; bars: number };
    const p = await openFile(html, 1280);
    try {
      expect(await count(p, '#plot-masses g[aria-label="dot"] circle')).toBe(truth.merging);
      expect(await count(p, '#plot-hist-m1 g[aria-label="rect"] rect')).toBe(truth.bars);
    } finally {
      await p.close();
    }
  });
});

describe("report of an ensemble with no finished run", () => {
  it("shows the status section and says why the science section is empty", async () => {
    const out = tempDir("none");
    await runEnsemble({
      points: sparsePoints(2),
      nSystems: 5,
      compasBinary: fakeCompasPath(),
      output: out,
      executor: new LocalExecutor({ concurrency: 2, retries: 0, env: { ...process.env, FAKE_COMPAS_FAIL: "exit3" } }),
    });
    const html = join(tempDir("none-html"), "report.html");
    const result = await writeReport({ source: out, out: html });
    expect(result.scienceEmptyReason).toMatch(/^No run has finished yet \(2 runs: 2 failed/);
    const p = await openFile(html, 390);
    try {
      expect(p.errors).toEqual([]);
      expect(await p.page.locator("#science .empty").innerText()).toContain("No run has finished yet");
      expect(await count(p, "#science svg")).toBe(0);
      expect((await heatmapCells(p)).map((c) => c.fill)).toEqual([STATE_COLOURS.failed, STATE_COLOURS.failed]);
      await screenshot(p.page, "report", "no-finished-run-390");
    } finally {
      await p.close();
    }
  }, 300_000);
});

describe("report while an ensemble runs on this machine", () => {
  it("colours the runs whose COMPAS is running as running, and the rest as queued", async () => {
    const out = tempDir("running");
    const controller = new AbortController();
    let started = 0;
    let reached!: () => void;
    const twoStarted = new Promise<void>((r) => (reached = r));
    const run = runEnsemble({
      points: sparsePoints(3),
      nSystems: 5,
      compasBinary: fakeCompasPath(),
      output: out,
      executor: new LocalExecutor({ concurrency: 2, retries: 0, env: { ...process.env, FAKE_COMPAS_HANG: "1" } }),
      signal: controller.signal,
      onEvent: (e: EnsembleEvent) => {
        if (e.type === "task-started" && ++started === 2) reached();
      },
    });
    try {
      await twoStarted;
      const html = join(tempDir("running-html"), "report.html");
      await writeReport({ source: out, out: html, science: false });
      const p = await openFile(html, 1280);
      try {
        const fills = (await heatmapCells(p)).map((c) => c.fill).sort();
        expect(fills).toEqual([STATE_COLOURS.queued, STATE_COLOURS.running, STATE_COLOURS.running].sort());
      } finally {
        await p.close();
      }
    } finally {
      controller.abort();
      await run;
    }
  }, 300_000);
});
