import { describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { mergeMetadata } from "../../src/manifest/merge.js";
import { type Fragment, ManifestSchema } from "../../src/manifest/schema.js";
import { makeFragment, makePlan, shuffled } from "./_fixtures.js";

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

describe("mergeMetadata", () => {
  const plan = makePlan({ runs: 4, chunks: 2 });
  const [r0, r1, r2, r3] = plan.runs.map((r) => r.run_id) as [string, string, string, string];
  // r0: both chunks fine; r1: c1 failed then succeeded; r2: c0 failed twice; r3: only c0 done.
  const mixed: Fragment[] = [
    makeFragment(plan, `${r0}.c0`),
    makeFragment(plan, `${r0}.c1`),
    makeFragment(plan, `${r1}.c0`),
    makeFragment(plan, `${r1}.c1`, { attempt: 1, status: "failed" }),
    makeFragment(plan, `${r1}.c1`, { attempt: 2 }),
    makeFragment(plan, `${r2}.c0`, { attempt: 1, status: "failed" }),
    makeFragment(plan, `${r2}.c0`, { attempt: 2, status: "failed" }),
    makeFragment(plan, `${r2}.c1`),
    makeFragment(plan, `${r3}.c0`),
  ];

  it("gives the same manifest text for every order of the fragments", () => {
    const reference = JSON.stringify(mergeMetadata(mixed, plan));
    for (let seed = 1; seed <= 30; seed++) {
      expect(JSON.stringify(mergeMetadata(shuffled(mixed, seed), plan))).toBe(reference);
    }
  });

  it("is idempotent: fragments merged twice equal fragments merged once", () => {
    const once = mergeMetadata(mixed, plan);
    expect(mergeMetadata([...mixed, ...shuffled(mixed, 7)], plan)).toEqual(once);
    expect(mergeMetadata(structuredClone(mixed).concat(mixed), plan)).toEqual(once);
  });

  it("decides runs from their chunks and leaves pending runs out", () => {
    const m = mergeMetadata(mixed, plan);
    expect(ManifestSchema.safeParse(m).success).toBe(true);
    expect(m.runs.map((r) => [r.run_id, r.status])).toEqual([
      [r0, "success"],
      [r1, "success"],
      [r2, "failed"],
    ]);
    expect(m.summary).toEqual({ runs: 4, success: 2, failed: 1, pending: 1 });
    expect(m.creation_time).toBe(plan.created_at);
    expect(m.compas_binary).toBe(plan.compas.binary);
    expect(m.n_systems_per_run).toBe(plan.n_systems_per_run);
    expect(m.ensemble_id).toBe(plan.ensemble_id);
  });

  it("points a chunked run's output_file at the run's merged output, not a chunk", () => {
    const run = mergeMetadata(mixed, plan).runs[0];
    expect(run?.output_file).toBe(plan.runs[0]?.output_key);
    expect(run?.output_file).not.toContain("/chunks/");
    expect(run?.params).toEqual({ ...plan.runs[0]?.params, run_id: r0 });
  });

  it("needs a success of every chunk before a run is a success", () => {
    const onlyFirst = [makeFragment(plan, `${r0}.c0`)];
    expect(mergeMetadata(onlyFirst, plan).runs).toEqual([]);
    const secondFailed = [...onlyFirst, makeFragment(plan, `${r0}.c1`, { status: "failed" })];
    expect(mergeMetadata(secondFailed, plan).runs[0]?.status).toBe("failed");
    const both = [...secondFailed, makeFragment(plan, `${r0}.c1`, { attempt: 2 })];
    expect(mergeMetadata(both, plan).runs[0]?.status).toBe("success");
  });

  it("lets success beat failure whatever the attempt numbers and order", () => {
    const single = makePlan({ runs: 1 });
    const id = single.runs[0]?.run_id as string;
    const cases = [
      [makeFragment(single, id, { attempt: 1, status: "failed" }), makeFragment(single, id, { attempt: 2 })],
      [makeFragment(single, id, { attempt: 1 }), makeFragment(single, id, { attempt: 2, status: "failed" })],
    ];
    for (const pair of cases) {
      for (const order of [pair, [...pair].reverse()]) {
        const run = mergeMetadata(order, single).runs[0];
        expect(run?.status).toBe("success");
        expect(run?.error).toBeUndefined();
      }
    }
  });

  it("gives a failed run the code and message of its latest failed attempt", () => {
    const run = mergeMetadata(mixed, plan).runs.find((r) => r.run_id === r2);
    expect(run?.error).toBe("COMPAS_FAILED: COMPAS exited with code 2 (attempt 2)");
    expect(run?.output_file).toBe(plan.runs[2]?.output_key);
  });

  it("reports two successes with different output sha256 as METADATA_CONFLICT naming both fragments", () => {
    const frags = [
      makeFragment(plan, `${r0}.c0`, { attempt: 1, sha: "11".repeat(32) }),
      makeFragment(plan, `${r0}.c0`, { attempt: 3, sha: "22".repeat(32) }),
    ];
    for (const order of [frags, [...frags].reverse()]) {
      const err = catchError(() => mergeMetadata(order, plan));
      expect(isCompasEnsembleError(err, "METADATA_CONFLICT")).toBe(true);
      expect((err as Error).message).toContain(`fragments/${r0}.c0.a1.json`);
      expect((err as Error).message).toContain(`fragments/${r0}.c0.a3.json`);
      expect((err as Error).message).toContain("output sha256");
    }
  });

  it("reports two successes with different seeds as a conflict", () => {
    const frags = [makeFragment(plan, `${r1}.c0`, { attempt: 1 }), makeFragment(plan, `${r1}.c0`, { attempt: 2, seed: 5 })];
    const err = catchError(() => mergeMetadata(frags, plan));
    expect(isCompasEnsembleError(err, "METADATA_CONFLICT")).toBe(true);
    expect((err as Error).message).toMatch(/seed/);
  });

  it("accepts two identical successes that ran in different scratch folders and hosts", () => {
    const frags = [
      makeFragment(plan, `${r0}.c0`, { attempt: 1, host: "a" }),
      makeFragment(plan, `${r0}.c0`, { attempt: 2, host: "b" }),
      makeFragment(plan, `${r0}.c1`),
    ];
    const run = mergeMetadata(frags, plan).runs[0] as Record<string, unknown>;
    expect(run.status).toBe("success");
    expect(run.attempts).toBe(3);
  });

  it("orders runs by grid index whatever order the fragments arrive in", () => {
    const single = makePlan({ runs: 6 });
    const frags = [...single.tasks].reverse().map((t) => makeFragment(single, t.task_id));
    expect(mergeMetadata(frags, single).runs.map((r) => r.run_id)).toEqual(single.runs.map((r) => r.run_id));
  });

  it("records provenance per run and task", () => {
    const single = makePlan({ runs: 1 });
    const id = single.runs[0]?.run_id as string;
    const f = makeFragment(single, id, { sha: "ef".repeat(32), host: "ip-10-0-0-7" });
    const run = mergeMetadata([f], single, { outputRoot: "s3://bucket/ens/" }).runs[0] as Record<string, unknown>;
    expect(run.output_file).toBe(`s3://bucket/ens/${single.runs[0]?.output_key}`);
    expect(run.output_sha256).toBe("ef".repeat(32));
    expect(run.output_bytes).toBe(f.output?.bytes);
    expect(run.hosts).toEqual(["ip-10-0-0-7"]);
    expect(run.seed).toBe(single.runs[0]?.seed);
    const task = (run.tasks as Record<string, unknown>[])[0];
    expect(task?.argv).toEqual(f.argv);
    expect(task?.compas_sha256).toBe(single.compas.sha256);
  });

  it("ignores fragments of another ensemble when given the plan", () => {
    const stranger = { ...makeFragment(plan, `${r0}.c0`, { sha: "99".repeat(32) }), ensemble_id: "other" };
    const m = mergeMetadata([...mixed, stranger], plan);
    expect(m.ignored_fragments).toBe(1);
    expect(JSON.stringify(m.runs)).toBe(JSON.stringify(mergeMetadata(mixed, plan).runs));
  });

  it("merges without the plan from fragment contexts, with the same runs and order", () => {
    const withPlan = mergeMetadata(mixed, plan);
    const without = mergeMetadata(shuffled(mixed, 3));
    expect(without.runs.map((r) => [r.run_id, r.status, r.output_file])).toEqual(
      withPlan.runs.map((r) => [r.run_id, r.status, r.output_file]),
    );
    expect(without.n_systems_per_run).toBe(plan.n_systems_per_run);
  });

  it("refuses to merge without the plan when a fragment has no context", () => {
    const { context: _drop, ...bare } = makeFragment(plan, `${r0}.c0`);
    const err = catchError(() => mergeMetadata([bare]));
    expect(isCompasEnsembleError(err, "METADATA_INVALID")).toBe(true);
    expect((err as Error).message).toContain(`fragments/${r0}.c0.a1.json`);
  });
});
