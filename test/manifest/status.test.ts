import { describe, expect, it } from "vitest";
import { nextAttempt, planResume } from "../../src/manifest/resume.js";
import { estimateRemainingSeconds, summarizeStatus } from "../../src/manifest/status.js";
import { makeFragment, makePlan } from "./_fixtures.js";

const plan = makePlan({ runs: 3, chunks: 2 });
const ids = plan.tasks.map((t) => t.task_id);
const [t0, t1, t2, t3] = ids as [string, string, string, string];
const frags = [
  makeFragment(plan, t0),
  { ...makeFragment(plan, t1, { attempt: 1, status: "failed" }), duration_s: 5 },
  { ...makeFragment(plan, t1, { attempt: 2 }), duration_s: 50 },
  makeFragment(plan, t2, { attempt: 1, status: "failed" }),
  makeFragment(plan, t2, { attempt: 2, status: "failed" }),
  { ...makeFragment(plan, t3), ensemble_id: "an-older-plan" },
];

describe("planResume", () => {
  it("puts tasks with a success of this ensemble in done and the rest in todo, in plan order", () => {
    const { done, todo } = planResume(plan, frags);
    expect(done).toEqual([t0, t1]);
    expect(todo).toEqual(ids.filter((id) => id !== t0 && id !== t1));
    expect(planResume(plan, [])).toEqual({ done: [], todo: ids });
  });

  it("numbers the next attempt after every recorded one, even another ensemble's", () => {
    expect(nextAttempt(t1, frags)).toBe(3);
    expect(nextAttempt(t2, frags)).toBe(3);
    expect(nextAttempt(t3, frags)).toBe(2);
    expect(nextAttempt(ids[5] as string, frags)).toBe(1);
  });
});

describe("summarizeStatus", () => {
  it("counts tasks, lists failures with their latest reason and attempts, and sums systems", () => {
    const s = summarizeStatus(plan, frags);
    const perTask = plan.tasks[0]?.n_systems as number;
    expect(s).toEqual({
      total: 6,
      succeeded: 2,
      failed: 1,
      pending: 3,
      running: 0,
      failures: [{ task_id: t2, run_id: plan.tasks[2]?.run_id, reason: "COMPAS_FAILED: COMPAS exited with code 2 (attempt 2)", attempts: 2 }],
      invalidOutputs: [],
      systemsDone: 2 * perTask,
      systemsTotal: 6 * perTask,
      meanTaskSeconds: (30 + 50) / 2,
    });
  });

  it("counts a success whose output the store contradicts as invalid, naming its task and run, not as succeeded", () => {
    const reason = "its output runs/x/COMPAS_Output/COMPAS_Output.h5 has 10 bytes where 8800000 were recorded";
    const s = summarizeStatus(plan, frags, new Map([[t1, reason]]));
    expect(s.succeeded).toBe(1);
    expect(s.invalidOutputs).toEqual([{ task_id: t1, run_id: plan.tasks[1]?.run_id, reason }]);
    expect(s.pending).toBe(3);
    expect(s.systemsDone).toBe(plan.tasks[0]?.n_systems);
  });

  it("estimates the time left from the mean task time and the concurrency", () => {
    const s = summarizeStatus(plan, frags);
    // 4 unfinished tasks, 2 at a time, 40 s each.
    expect(estimateRemainingSeconds(s, 2)).toBe(80);
    expect(estimateRemainingSeconds(s, 3)).toBe(80);
    expect(estimateRemainingSeconds(s, 8)).toBe(40);
    expect(estimateRemainingSeconds(summarizeStatus(plan, []), 2)).toBeNull();
    const finished = summarizeStatus(plan, ids.map((id) => makeFragment(plan, id)));
    expect(estimateRemainingSeconds(finished, 2)).toBe(0);
    expect(() => estimateRemainingSeconds(s, 0)).toThrow(expect.objectContaining({ code: "OPTIONS_INVALID" }));
  });
});
