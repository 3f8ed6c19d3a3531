/**
 * Ensembles for the report tests, made by runEnsemble with the COMPAS stand-in, and what the
 * tests expect of them read straight from the store's files (never from the report code).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runEnsemble, type EnsembleEvent } from "../../src/ensemble/run.js";
import { LocalExecutor } from "../../src/executors/local/executor.js";
import { expandGrid, sliceGrid, sparseGrid } from "../../src/grid/index.js";
import type { Fragment } from "../../src/manifest/schema.js";
import type { Plan } from "../../src/plan/schema.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";

/** A temp folder. */
export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `report-${name}-`));
}

/** The first `n` points of the sparse grid (alpha 0.1 and 0.154 x lambda x Z for n = 8). */
export function sparsePoints(n: number) {
  return sliceGrid(expandGrid(sparseGrid()), 0, n);
}

/**
 * Runs `n` sparse points with the stand-in, one task at a time, and stops after `finish`
 * tasks have finished (the rest stay queued). The first task fails once (and is not retried).
 */
export async function partialEnsemble(out: string, n: number, finish: number, options: { failFirst?: boolean } = {}): Promise<void> {
  const controller = new AbortController();
  let finished = 0;
  const failOnce = join(tempDir("fail-once"), "marker");
  await runEnsemble({
    points: sparsePoints(n),
    nSystems: 20,
    compasBinary: fakeCompasPath(),
    output: out,
    executor: new LocalExecutor({
      concurrency: 1,
      retries: 0,
      env: { ...process.env, ...(options.failFirst ? { FAKE_COMPAS_FAIL_ONCE_FILE: failOnce } : {}) },
    }),
    signal: controller.signal,
    onEvent: (e: EnsembleEvent) => {
      if (e.type === "task-finished" && ++finished === finish) controller.abort();
    },
  });
}

/** The plan of an ensemble folder. */
export function planOf(dir: string): Plan {
  return JSON.parse(readFileSync(join(dir, "plan.json"), "utf8")) as Plan;
}

/** Every fragment file of an ensemble folder. */
export function fragmentsOf(dir: string): Fragment[] {
  const f = join(dir, "fragments");
  if (!existsSync(f)) return [];
  return readdirSync(f)
    .filter((n) => n.endsWith(".json"))
    .map((n) => JSON.parse(readFileSync(join(f, n), "utf8")) as Fragment);
}

/** Run id -> "succeeded" | "failed" | "queued", from the fragment files (one task per run here). */
export function statesFromFragments(dir: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const run of planOf(dir).runs) states.set(run.run_id, "queued");
  for (const f of fragmentsOf(dir)) {
    if (f.status === "success") states.set(f.run_id, "succeeded");
    else if (states.get(f.run_id) !== "succeeded") states.set(f.run_id, "failed");
  }
  return states;
}
