import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ManifestCheckpointer } from "../../src/manifest/checkpoint.js";
import { makeFragment, makePlan } from "./_fixtures.js";

const root = mkdtempSync(join(tmpdir(), "ce-checkpoint-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function manifestRunIds(dir: string): string[] {
  const m = JSON.parse(readFileSync(join(dir, "ensemble_metadata.json"), "utf8"));
  return m.runs.map((r: { run_id: string }) => r.run_id);
}

describe("ManifestCheckpointer", () => {
  const plan = makePlan({ runs: 7 });
  const frags = plan.tasks.map((t) => makeFragment(plan, t.task_id));

  it("rewrites the manifest every N finished tasks and on flush", async () => {
    const dir = join(root, "every3");
    const cp = new ManifestCheckpointer({ dir, plan, every: 3 });
    const wrote: boolean[] = [];
    for (const [i, f] of frags.entries()) {
      wrote.push(await cp.record(f));
      if (i === 1) expect(existsSync(join(dir, "ensemble_metadata.json"))).toBe(false);
      if (i === 2 || i === 4) expect(manifestRunIds(dir)).toEqual(plan.runs.slice(0, 3).map((r) => r.run_id));
      if (i === 5) expect(manifestRunIds(dir)).toHaveLength(6);
    }
    expect(wrote).toEqual([false, false, true, false, false, true, false]);
    await cp.flush();
    expect(manifestRunIds(dir)).toEqual(plan.runs.map((r) => r.run_id));
    expect(cp.writeCount).toBe(3);
    expect(readdirSync(dir)).toEqual(["ensemble_metadata.json"]);
  });

  it("defaults to every 10 tasks and includes fragments found on resume without counting them", async () => {
    const big = makePlan({ runs: 12 });
    const all = big.tasks.map((t) => makeFragment(big, t.task_id));
    const dir = join(root, "resume");
    const cp = new ManifestCheckpointer({ dir, plan: big, fragments: all.slice(0, 2) });
    for (const f of all.slice(2, 11)) await cp.record(f);
    expect(existsSync(join(dir, "ensemble_metadata.json"))).toBe(false);
    expect(await cp.record(all[11] as (typeof all)[number])).toBe(true);
    expect(manifestRunIds(dir)).toHaveLength(12);
  });

  it("keeps the order of concurrent writes: the last flush wins", async () => {
    const dir = join(root, "concurrent");
    const cp = new ManifestCheckpointer({ dir, plan, every: 1 });
    await Promise.all(frags.map((f) => cp.record(f)));
    expect(manifestRunIds(dir)).toHaveLength(7);
    expect(cp.writeCount).toBe(7);
  });

  it("rejects an interval below 1 with OPTIONS_INVALID", () => {
    expect(() => new ManifestCheckpointer({ dir: root, plan, every: 0 })).toThrow(
      expect.objectContaining({ code: "OPTIONS_INVALID" }),
    );
  });
});
