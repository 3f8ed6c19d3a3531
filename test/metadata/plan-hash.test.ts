import { describe, expect, it } from "vitest";
import { type CompasEnsembleError, isCompasEnsembleError } from "../../src/errors.js";
import { assertSamePlan, comparePlans, planHash } from "../../src/metadata/plan-hash.js";
import type { Plan } from "../../src/metadata/schemas.js";
import { makePlan } from "./_fixtures.js";

function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reversedKeys(v)]));
  }
  return value;
}

describe("planHash", () => {
  const plan = makePlan({ runs: 4, chunks: 2 });

  it("is a sha256 hex that does not depend on key order", () => {
    const h = planHash(plan);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(planHash(reversedKeys(plan) as Plan)).toBe(h);
  });

  it("ignores ensemble_id, created_at and library_version", () => {
    const { ensemble_id: _a, created_at: _b, library_version: _c, ...content } = plan;
    const later = { ...plan, ensemble_id: "x", created_at: "2030-01-01T00:00:00Z", library_version: "9.9.9" };
    expect(planHash(later)).toBe(planHash(plan));
    expect(planHash(content)).toBe(planHash(plan));
  });

  it("changes when anything that defines the ensemble changes", () => {
    const h = planHash(plan);
    expect(planHash({ ...plan, seed_base: plan.seed_base + 1 })).not.toBe(h);
    expect(planHash({ ...plan, compas: { ...plan.compas, sha256: "00".repeat(32) } })).not.toBe(h);
    expect(planHash({ ...plan, tasks: [...plan.tasks].reverse() })).not.toBe(h);
  });
});

describe("comparePlans", () => {
  const plan = makePlan({ runs: 4 });

  it("says nothing for the same ensemble planned again later", () => {
    expect(comparePlans(plan, { ...reversedKeys(plan) as Plan, created_at: "2027-01-01T00:00:00Z" })).toBeNull();
    expect(() => assertSamePlan(plan, plan, "/data/ens")).not.toThrow();
  });

  it("explains a different grid", () => {
    expect(comparePlans(plan, makePlan({ runs: 6 }))).toBe(
      "The number of grid points differs: 4 in the existing plan, 6 in the proposed plan.",
    );
    const moved = structuredClone(plan);
    (moved.points[2] as Plan["points"][number]).params.metallicity = 0.00011;
    expect(comparePlans(plan, moved)).toBe(
      `Parameter metallicity of grid point 2 (${plan.points[2]?.run_id}) differs: 0.0001 in the existing plan, 0.00011 in the proposed plan.`,
    );
  });

  it("explains a different N, seed, COMPAS build, profile and arguments", () => {
    expect(comparePlans(plan, makePlan({ runs: 4, nSystems: 2000 }))).toMatch(/^The number of systems per run differs: 1000 in the existing plan, 2000/);
    expect(comparePlans(plan, { ...plan, seed_base: 7 })).toBe("The seed base differs: 1000 in the existing plan, 7 in the proposed plan.");
    expect(comparePlans(plan, { ...plan, compas: { ...plan.compas, sha256: "12".repeat(32) } })).toBe(
      `The COMPAS binary (sha256) differs: ${"ab".repeat(6)}… in the existing plan, ${"12".repeat(6)}… in the proposed plan.`,
    );
    expect(comparePlans(plan, { ...plan, compas: { ...plan.compas, version: "03.08.01" } })).toBe(
      'The COMPAS version differs: "03.07.00" in the existing plan, "03.08.01" in the proposed plan.',
    );
    expect(comparePlans(plan, makePlan({ runs: 4, profile: "detailed" }))).toBe(
      'The profile differs: "fast" in the existing plan, "detailed" in the proposed plan.',
    );
    const args = structuredClone(plan);
    const task = args.tasks[1] as Plan["tasks"][number];
    task.args[5] = "0.2";
    expect(comparePlans(plan, args)).toBe(
      `The COMPAS command line of task ${task.task_id} differs: "--common-envelope-lambda 0.1" in the existing plan, "--common-envelope-lambda 0.2" in the proposed plan.`,
    );
  });

  it("turns a difference into PLAN_MISMATCH naming the directory", () => {
    let caught: unknown;
    try {
      assertSamePlan(plan, { ...plan, seed_base: 7 }, "/data/ens");
    } catch (err) {
      caught = err;
    }
    expect(isCompasEnsembleError(caught, "PLAN_MISMATCH")).toBe(true);
    expect((caught as Error).message).toBe("/data/ens holds a different ensemble: the seed base differs: 1000 in the existing plan, 7 in the proposed plan.");
  });

  it("hints at --restart and says the old plan, manifest and fragments are archived", () => {
    let caught: unknown;
    try {
      assertSamePlan(plan, { ...plan, n_systems_per_run: 7 }, "/data/ens");
    } catch (err) {
      caught = err;
    }
    const hint = (caught as CompasEnsembleError).hint ?? "";
    expect(hint).toContain("--restart (restart in the API)");
    expect(hint).toContain("the old plan, manifest and fragments are moved to archive/<old ensemble id>/");
  });
});
