/**
 * Refreshes the README's screenshot of a report: runs the sparse grid (40 runs, 100 binaries
 * each) with the COMPAS it finds (COMPAS_BINARY; else the test stand-in), writes its report and
 * photographs it in headless chromium (Debian's /usr/bin/chromium) at 1280 px.
 *
 *   npm run docs:screenshots
 *
 * Writes docs/images/report.png; the ensemble and the HTML stay in example-output/docs/.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { runEnsemble } from "../src/ensemble/run.js";
import { LocalExecutor } from "../src/executors/local/executor.js";
import { expandGrid, sparseGrid } from "../src/grid/index.js";
import { writeReport } from "../src/report/write.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const work = join(REPO, "example-output", "docs");
const ensemble = join(work, "sparse");
const html = join(work, "report.html");
const image = join(REPO, "docs", "images", "report.png");
const compas = process.env.COMPAS_BINARY ?? join(REPO, "test", "support", "fake-compas", "COMPAS");

mkdirSync(work, { recursive: true });
console.log(`running the sparse grid with ${compas} into ${ensemble} (finished runs are reused)...`);
await runEnsemble({ points: expandGrid(sparseGrid()), nSystems: 100, compasBinary: compas, output: ensemble, executor: new LocalExecutor() });
const result = await writeReport({ source: ensemble, out: html, title: "COMPAS ensemble report: sparse grid", force: true });
console.log(`report ${result.path} (${result.bytes} bytes)`);

const profile = mkdtempSync(join(tmpdir(), "chromium-profile-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 1600 },
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(pathToFileURL(html).href);
  mkdirSync(join(REPO, "docs", "images"), { recursive: true });
  // The status heatmap and the first science plots: what a reader should see first.
  await page.screenshot({ path: image, clip: { x: 0, y: 0, width: 1280, height: 1600 } });
  console.log(`wrote ${image}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
