import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CompasEnsembleError, isCompasEnsembleError } from "../../src/errors.js";
import { assertSamePlan, comparePlans, planHash } from "../../src/plan/hash.js";
import type { Plan } from "../../src/plan/schema.js";
import { makePlan } from "../manifest/_fixtures.js";

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

// The ensemble id as Python computes it, independently of this library: json's streaming
// encoder with sorted keys and no spaces, fed to hashlib piece by piece. With `copies`, the
// plan's one task is repeated that many times and its last argument made a MiB long.
function pythonPlanHash(plan: Plan, copies = 0): string {
  const file = join(mkdtempSync(join(tmpdir(), "plan-hash-")), "plan.json");
  writeFileSync(file, JSON.stringify(plan));
  const script = `
import hashlib, json, sys
plan = json.load(open(sys.argv[1]))
for key in ("ensemble_id", "created_at", "library_version"):
    plan.pop(key, None)
copies = int(sys.argv[2])
if copies:
    task = plan["tasks"][0]
    task["args"][-1] = "x" * 2**20
    plan["tasks"] = [task] * copies
h = hashlib.sha256()
for chunk in json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).iterencode(plan):
    h.update(chunk.encode("utf-8"))
print(h.hexdigest())
`;
  const r = spawnSync("/usr/bin/python3", ["-c", script, file, String(copies)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`/usr/bin/python3 exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}

describe("planHash against Python's json (ensemble ids of existing plans stay valid)", () => {
  it("is the sha256 of the plan's JSON with sorted keys and no spaces", () => {
    const plan = makePlan({ runs: 4, chunks: 2 });
    expect(planHash(plan)).toBe(pythonPlanHash(plan));
  });

  it("hashes a plan whose JSON is longer than the longest JavaScript string", () => {
    const small = makePlan({ runs: 1 });
    const task = structuredClone(small.tasks[0]!);
    task.args[task.args.length - 1] = "x".repeat(2 ** 20);
    // 600 tasks of over 1 MiB each: more than the ~512 MiB a string may hold.
    const big: Plan = { ...small, tasks: new Array<Plan["tasks"][number]>(600).fill(task) };
    expect(planHash(big)).toBe(pythonPlanHash(small, 600));
    // Hashing over 600 MiB twice takes seconds of CPU, many more on a loaded machine.
  }, 180_000);
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
