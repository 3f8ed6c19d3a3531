/**
 * Debian's chromium, driven headless by playwright-core (no browser download), for tests of
 * what a person sees. Every request other than the page itself is routed, aborted and
 * counted, so a page that would reach the network fails its test instead of doing so.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { REPO } from "./cli.js";

/** The system browser (apt-get install chromium). */
export const CHROMIUM = "/usr/bin/chromium";

/** Folder for screenshots the tests save (git-ignored). */
export const ARTIFACTS = join(REPO, "test", ".artifacts");

// Without these, chromium phones home (component updates, sync, QUIC probes) on start.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A page opened from disk with the network blocked. */
export interface OpenedPage {
  page: Page;
  /** URLs the page asked for besides itself (each was aborted). */
  requests: string[];
  /** Console messages of type error, and uncaught page errors. */
  errors: string[];
  close(): Promise<void>;
}

/**
 * Opens a local HTML file in headless chromium with a fresh profile, at the given viewport
 * width, with every other request blocked and counted.
 * @param file - absolute path of the HTML file
 * @param width - viewport width in CSS pixels
 */
export async function openFile(file: string, width: number): Promise<OpenedPage> {
  const profile = mkdtempSync(join(tmpdir(), "chromium-profile-"));
  const context: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    viewport: { width, height: 900 },
  });
  const self = pathToFileURL(file).href;
  const requests: string[] = [];
  const errors: string[] = [];
  await context.route("**/*", (route) => {
    if (route.request().url() === self) return route.continue();
    requests.push(route.request().url());
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("request", (r) => {
    if (r.url() !== self && !requests.includes(r.url())) requests.push(r.url());
  });
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(self, { waitUntil: "load" });
  return {
    page,
    requests,
    errors,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Saves a full-page screenshot under test/.artifacts/<folder>/<name>.png and returns its path.
 * @param page - the page
 * @param folder - sub-folder (the test file's topic)
 * @param name - file name without extension
 */
export async function screenshot(page: Page, folder: string, name: string): Promise<string> {
  const dir = join(ARTIFACTS, folder);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * How many CSS pixels the page is wider than its viewport (0 or less: no horizontal scrolling).
 * @param p - an opened page
 */
export async function horizontalOverflow(p: OpenedPage): Promise<number> {
  return p.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth");
}
