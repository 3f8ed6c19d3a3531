import { describe, expect, it } from "vitest";
import { reconcile, type LiveJob, type ReconcileInput } from "../../src/executors/ssh/_reconcile.js";
import type { Fragment } from "../../src/manifest/schema.js";

const NOW = Date.parse("2026-01-01T12:00:00Z");

function fragment(task: string, attempt: number, status: "success" | "failed", retryable = true, finishedAgoMs = 60_000): Fragment {
  return {
    schema_version: 1,
    ensemble_id: "e",
    task_id: task,
    run_id: task,
    attempt,
    status,
    host: "h",
    started_at: new Date(NOW - finishedAgoMs - 1000).toISOString(),
    finished_at: new Date(NOW - finishedAgoMs).toISOString(),
    duration_s: 1,
    seed: 0,
    n_systems: 10,
    argv: [],
    compas: { binary: "/c", version: "1", sha256: "x" },
    library_version: "0",
    output: status === "success" ? { key: `runs/${task}/o.h5`, bytes: 1, sha256: "y", rows: 10 } : null,
    error: status === "failed" ? { code: "COMPAS_FAILED", message: `boom ${attempt}`, retryable } : null,
  } as Fragment;
}

function input(over: Partial<ReconcileInput> & { taskIds?: string[]; fragments?: Fragment[] }): ReconcileInput {
  const { taskIds = ["t1", "t2", "t3", "t4"], fragments = [], ...rest } = over;
  return {
    now: NOW,
    tasks: taskIds.map((id) => ({ taskId: id, nSystems: 10, fragments: fragments.filter((f) => f.task_id === id) })),
    live: [],
    reachable: [
      { name: "a", slots: 2 },
      { name: "b", slots: 1 },
    ],
    unknownJobsPossible: false,
    retries: 2,
    retryBackoffMs: 1000,
    dead: new Map(),
    hardFailures: new Map(),
    cancelled: false,
    ...rest,
  };
}

const job = (host: string, jobId: string, task: string, state: LiveJob["state"], extra: Partial<LiveJob> = {}): LiveJob => ({ host, job: jobId, task, state, reachable: true, ...extra });

describe("reconcile (the SSH executor's decisions)", () => {
  it("places unplaced tasks on the least loaded host per slot", () => {
    const out = reconcile(input({ taskIds: ["t1", "t2", "t3", "t4", "t5", "t6"] }));
    const count = (h: string) => out.place.filter((p) => p.host === h).length;
    expect(count("a")).toBe(4);
    expect(count("b")).toBe(2);
    expect(out.statuses.every((s) => s.state === "pending")).toBe(true);
  });

  it("keeps one live job per task, the one furthest along, and stops the others", () => {
    const out = reconcile(
      input({
        taskIds: ["t1", "t2"],
        live: [job("a", "j1", "t1", "Q"), job("b", "j2", "t1", "R", { progress: 3 }), job("a", "j3", "t2", "R", { progress: 2 }), job("b", "j4", "t2", "R", { progress: 7 })],
      }),
    );
    expect(out.kill).toEqual([
      { host: "a", job: "j1" },
      { host: "a", job: "j3" },
    ]);
    expect(out.place).toEqual([]);
    expect(out.statuses.map((s) => [s.state, s.where])).toEqual([
      ["running", "b"],
      ["running", "b"],
    ]);
  });

  it("stops live jobs of tasks that already succeeded, but never a job whose results are being brought home", () => {
    const out = reconcile(
      input({ taskIds: ["t1"], fragments: [fragment("t1", 1, "success")], live: [job("a", "j1", "t1", "R"), job("b", "j2", "t1", "P")] }),
    );
    expect(out.statuses[0]!.state).toBe("succeeded");
    expect(out.kill).toEqual([{ host: "a", job: "j1" }]);
  });

  it("leaves a running job alone for a moment after its task's fragment appeared (it is the worker exiting)", () => {
    const fresh = reconcile(input({ taskIds: ["t1"], fragments: [fragment("t1", 1, "success", true, 2000)], live: [job("a", "j1", "t1", "R")] }));
    expect(fresh.kill).toEqual([]);
    const stale = reconcile(input({ taskIds: ["t1"], fragments: [fragment("t1", 1, "success", true, 2000)], live: [job("a", "j1", "t1", "R")], exitGraceMs: 1000 }));
    expect(stale.kill).toEqual([{ host: "a", job: "j1" }]);
  });

  it("cannot stop jobs of a host that does not answer, and prefers a reachable copy", () => {
    const out = reconcile(input({ taskIds: ["t1"], live: [job("b", "old", "t1", "R", { reachable: false, progress: 9 }), job("a", "new", "t1", "Q")] }));
    expect(out.kill).toEqual([]);
    expect(out.statuses[0]).toMatchObject({ state: "pending", where: "a" });
  });

  it("retries a retryable failure after its backoff and gives up after the retries", () => {
    const backoff = reconcile(input({ taskIds: ["t1"], fragments: [fragment("t1", 1, "failed", true, 100)] }));
    expect(backoff.place).toEqual([]);
    expect(backoff.nextRetryAt).toBe(NOW - 100 + 1000);
    const due = reconcile(input({ taskIds: ["t1"], fragments: [fragment("t1", 1, "failed", true, 5000)] }));
    expect(due.place).toEqual([{ task: "t1", host: "a" }]);
    const spent = reconcile(input({ taskIds: ["t1"], fragments: [1, 2, 3].map((n) => fragment("t1", n, "failed")) }));
    expect(spent.statuses[0]).toMatchObject({ state: "failed", reason: expect.stringContaining("gave up after 3 attempts") });
    const dead = reconcile(input({ taskIds: ["t1"], fragments: [fragment("t1", 1, "failed")], dead: new Map([["t1", { count: 2, reason: "worker died" }]]) }));
    expect(dead.statuses[0]!.state).toBe("failed");
  });

  it("fails a non-retryable failure at once and a task with a hard failure", () => {
    const out = reconcile(input({ taskIds: ["t1", "t2"], fragments: [fragment("t1", 1, "failed", false)], hardFailures: new Map([["t2", "usage"]]) }));
    expect(out.statuses.map((s) => s.state)).toEqual(["failed", "failed"]);
    expect(out.place).toEqual([]);
  });

  it("places nothing while a host that never answered may hold the tasks", () => {
    const out = reconcile(input({ unknownJobsPossible: true }));
    expect(out.place).toEqual([]);
  });

  it("moves queued jobs from a full host to a host with free slots", () => {
    const out = reconcile(
      input({
        taskIds: ["t1", "t2", "t3", "t4"],
        reachable: [
          { name: "a", slots: 1 },
          { name: "b", slots: 2 },
        ],
        live: [job("a", "j1", "t1", "R"), job("a", "j2", "t2", "Q"), job("a", "j3", "t3", "Q"), job("b", "j4", "t4", "R")],
      }),
    );
    expect(out.steal).toEqual([{ host: "a", job: "j3", task: "t3", to: "b" }]);
    expect(out.kill).toEqual([]);
  });

  it("reports unfinished tasks cancelled after a cancel and stops their jobs", () => {
    const out = reconcile(input({ taskIds: ["t1", "t2"], fragments: [fragment("t1", 1, "success")], live: [job("a", "j2", "t2", "R")], cancelled: true }));
    expect(out.statuses.map((s) => s.state)).toEqual(["succeeded", "cancelled"]);
    expect(out.kill).toEqual([{ host: "a", job: "j2" }]);
    expect(out.place).toEqual([]);
  });
});
