import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
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

  describe("with a minimum interval", () => {
    // Only the clock and its timers are faked; the manifest is written to a real disk.
    const fakeClock = (): void => void vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    afterEach(() => void vi.useRealTimers());
    const [f0, f1, f2] = frags as [(typeof frags)[number], (typeof frags)[number], (typeof frags)[number]];

    it("puts a rewrite that falls due sooner off to the interval's end, with every fragment recorded by then", async () => {
      fakeClock();
      const dir = join(root, "interval");
      const cp = new ManifestCheckpointer({ dir, plan, every: 1, minIntervalMs: 10_000 });
      expect(await cp.record(f0)).toBe(true);
      expect(await cp.record(f1)).toBe(false);
      await vi.advanceTimersByTimeAsync(4_000);
      expect(await cp.record(f2)).toBe(false);
      expect(manifestRunIds(dir)).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(5_999);
      expect(cp.writeCount).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      await cp.close();
      expect(manifestRunIds(dir)).toEqual(plan.runs.slice(0, 3).map((r) => r.run_id));
      expect(cp.writeCount).toBe(2);
    });

    it("writes at once when the interval has passed since the last rewrite", async () => {
      fakeClock();
      const dir = join(root, "interval-passed");
      const cp = new ManifestCheckpointer({ dir, plan, every: 1, minIntervalMs: 10_000 });
      expect(await cp.record(f0)).toBe(true);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(await cp.record(f1)).toBe(true);
      expect(manifestRunIds(dir)).toHaveLength(2);
    });

    it("close drops a put-off rewrite and waits for one under way, so none lands after the final manifest", async () => {
      fakeClock();
      const dir = join(root, "interval-close");
      const cp = new ManifestCheckpointer({ dir, plan, every: 1, minIntervalMs: 10_000 });
      await cp.record(f0);
      expect(await cp.record(f1)).toBe(false);
      const underWay = cp.flush();
      await cp.close();
      expect(cp.writeCount).toBe(2);
      await vi.advanceTimersByTimeAsync(60_000);
      await underWay;
      expect(cp.writeCount).toBe(2);
      expect(await cp.record(f2)).toBe(false);
      expect(manifestRunIds(dir)).toHaveLength(2);
    });
  });

  it("rejects an interval below 1 with OPTIONS_INVALID", () => {
    expect(() => new ManifestCheckpointer({ dir: root, plan, every: 0 })).toThrow(
      expect.objectContaining({ code: "OPTIONS_INVALID" }),
    );
  });
});
