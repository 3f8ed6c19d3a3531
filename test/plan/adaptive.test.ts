import { describe, expect, it } from "vitest";
import { CompasEnsembleError } from "../../src/errors.js";
import { expandGrid } from "../../src/grid/index.js";
import { adaptiveSpec, chunkTask, DEFAULT_SEED_STRIDE, expandAdaptivePlan, parseTargetDcos } from "../../src/plan/adaptive.js";
import { buildPlan } from "../../src/plan/build.js";
import { comparePlans, planHash } from "../../src/plan/hash.js";

const points = expandGrid({ alpha_ce: [1, 2], lambda_ce: [0.1], kick_sigma: [217], metallicity: [0.0001, 0.01], mass_transfer_fa: [0.5] });
const compas = { binary: "/opt/COMPAS", version: "03.07.00", sha256: "a".repeat(64) };
const rule = { target: { dco: "BBH", merging: true, count: 50 }, chunk: 1000, max: 4500 };

function thrown(f: () => unknown): CompasEnsembleError {
  try {
    f();
  } catch (err) {
    if (err instanceof CompasEnsembleError) return err;
    throw err;
  }
  throw new Error("expected a CompasEnsembleError");
}

function argValue(args: readonly string[], flag: string): string | undefined {
  return args[args.indexOf(flag) + 1];
}

describe("adaptive plans", () => {
  it("records the rule and the default seed stride, and starts each run with chunk 0 at seedBase + k * stride", () => {
    const plan = buildPlan({ points, nSystems: 1, seedBase: 7, compas, adaptive: rule });
    expect(plan.adaptive).toEqual({ target: { dco: "BBH", merging: true, count: 50 }, chunk: 1000, max: 4500, seed_stride: DEFAULT_SEED_STRIDE });
    expect(DEFAULT_SEED_STRIDE).toBe(1e9);
    expect(plan.tasks.map((t) => [t.task_id, t.seed, t.n_systems])).toEqual(points.map((p, k) => [`${p.run_id}.c0`, 7 + k * 1e9, 1000]));
    for (const t of plan.tasks) {
      expect(argValue(t.args, "--random-seed")).toBe(String(t.seed));
      expect(argValue(t.args, "--number-of-systems")).toBe("1000");
    }
    expect(plan.runs.every((r) => r.open === true)).toBe(true);
  });

  it("gives chunk c of run k the seeds seedBase + k * stride + c * chunk, the last chunk cut at the cap, and the rest of chunk 0's command line", () => {
    const plan = buildPlan({ points, nSystems: 1, seedBase: 7, compas, adaptive: { ...rule, seedStride: 10_000 } });
    const first = plan.tasks[3]!;
    const c2 = chunkTask(plan, first, 2);
    expect([c2.task_id, c2.seed, c2.n_systems, c2.first_system]).toEqual([`${first.run_id}.c2`, 7 + 3 * 10_000 + 2000, 1000, 2000]);
    const c4 = chunkTask(plan, first, 4);
    expect([c4.seed, c4.n_systems]).toEqual([7 + 3 * 10_000 + 4000, 500]);
    expect(c4.args.filter((a, i) => i !== c4.args.indexOf("--random-seed") + 1 && i !== c4.args.indexOf("--number-of-systems") + 1)).toEqual(
      first.args.filter((a, i) => i !== first.args.indexOf("--random-seed") + 1 && i !== first.args.indexOf("--number-of-systems") + 1),
    );
    expect(() => chunkTask(plan, first, 5)).toThrow(/beyond the 5 chunks/);
  });

  it("gives a run the same seeds in a slice of the grid as in the whole grid, whatever the other runs need", () => {
    const whole = buildPlan({ points, nSystems: 1, compas, adaptive: rule });
    const slice = buildPlan({ points: points.slice(2, 3), nSystems: 1, compas, adaptive: rule });
    const grown = expandAdaptivePlan(whole, [{ ensemble_id: whole.ensemble_id, wave: 1, chunks: [0, 1, 2, 3].map((c) => ({ run_id: points[0]!.run_id, chunk_index: c })), progress: [], created_at: "" }], []);
    const seedsOf = (p: typeof whole, runId: string) => p.tasks.filter((t) => t.run_id === runId).map((t) => t.seed);
    expect(seedsOf(slice, points[2]!.run_id)).toEqual(seedsOf(whole, points[2]!.run_id));
    expect(seedsOf(grown, points[2]!.run_id)).toEqual(seedsOf(whole, points[2]!.run_id));
    // Disjoint: every seed range of every possible chunk lies in its own run's stride.
    const ranges = grown.tasks.map((t) => [t.seed, t.seed + t.n_systems - 1] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1]);
  });

  it("expands with its waves and stop records, and expanding the expanded plan again changes nothing", () => {
    const base = buildPlan({ points, nSystems: 1, compas, adaptive: rule });
    const run = points[1]!.run_id;
    const wave = { ensemble_id: base.ensemble_id, wave: 1, chunks: [1, 2, 3].map((c) => ({ run_id: run, chunk_index: c })), progress: [], created_at: "" };
    const stop = {
      ensemble_id: base.ensemble_id,
      run_id: run,
      chunks: [0, 1].map((c) => ({ task_id: `${run}.c${c}`, sha256: "b", dcos: 30 })),
      dcos: 60,
      reason: "target" as const,
      surplus_task_ids: [`${run}.c2`, `${run}.c3`],
      decided_at: "",
    };
    const plan = expandAdaptivePlan(base, [wave], [stop]);
    const r = plan.runs[1]!;
    expect(r.task_ids).toEqual([`${run}.c0`, `${run}.c1`]);
    expect(r.n_systems).toBe(2000);
    expect(r.open).toBeUndefined();
    expect(r.stop).toEqual({ dcos: 60, reason: "target", surplus_task_ids: [`${run}.c2`, `${run}.c3`] });
    expect(plan.tasks.filter((t) => t.run_id === run)).toHaveLength(4);
    expect(plan.runs[0]!.open).toBe(true);
    expect(expandAdaptivePlan(plan, [], [])).toEqual(plan);
    // Records of another ensemble are not this one's.
    expect(expandAdaptivePlan(base, [{ ...wave, ensemble_id: "other" }], [])).toEqual(expandAdaptivePlan(base, [], []));
  });

  it("hashes differently from a fixed plan of the same N, and says which kind each is", () => {
    const adaptive = buildPlan({ points, nSystems: 1, compas, adaptive: { ...rule, chunk: 4500 } });
    const fixed = buildPlan({ points, nSystems: 4500, compas });
    expect(adaptive.ensemble_id).not.toBe(fixed.ensemble_id);
    expect(planHash(adaptive)).toBe(adaptive.ensemble_id);
    expect(comparePlans(fixed, adaptive)).toBe(
      "The kind of plan differs: a fixed number of systems per run in the existing plan, adaptive (runs grow until a DCO target) in the proposed plan.",
    );
    const other = buildPlan({ points, nSystems: 1, compas, adaptive: { ...rule, target: { ...rule.target, count: 60 } } });
    expect(comparePlans(adaptive, other)).toMatch(/^The adaptive rule \(target, chunk, cap, seed stride\) differs/);
  });
});

describe("bad adaptive input gets one sentence each, naming the flag", () => {
  const cases: [string, () => unknown, RegExp][] = [
    ["an unknown DCO type", () => adaptiveSpec({ ...rule, target: { ...rule.target, dco: "WD" } }), /^--target-dcos type "WD" is not a DCO type\.$/],
    ["a zero count", () => adaptiveSpec({ ...rule, target: { ...rule.target, count: 0 } }), /^--target-dcos count 0 is not a whole number >= 1\.$/],
    ["a negative count", () => adaptiveSpec({ ...rule, target: { ...rule.target, count: -3 } }), /^--target-dcos count -3 is not a whole number >= 1\.$/],
    ["a chunk larger than the cap", () => adaptiveSpec({ ...rule, chunk: 5000, max: 1000 }), /^--chunk 5000 is larger than --max-systems 1000, so no run could ever grow\.$/],
    ["a cap above the seed stride", () => adaptiveSpec({ ...rule, max: 2e9 }), /^--max-systems 2000000000 is larger than the seed stride 1000000000 between runs/],
    ["a malformed rule", () => parseTargetDcos("BBH:200"), /^--target-dcos "BBH:200" is not TYPE:merging:COUNT or TYPE:all:COUNT\.$/],
  ];
  for (const [what, f, sentence] of cases) {
    it(`refuses ${what}`, () => {
      const err = thrown(f);
      expect(err.code).toBe("OPTIONS_INVALID");
      expect(err.message).toMatch(sentence);
      expect(err.message.split(". ").length).toBe(1);
      expect(err.hint).toBeTruthy();
    });
  }

  it("refuses seeds past 2^53 - 1 at the far end of the grid, naming the seed stride", () => {
    const err = thrown(() => buildPlan({ points, nSystems: 1, seedBase: Number.MAX_SAFE_INTEGER - 2e9, compas, adaptive: rule }));
    expect(err.code).toBe("OPTIONS_INVALID");
    expect(err.message).toMatch(/^Grid index 2 with --seed-stride 1000000000 and --seed-base \d+ needs seeds up to \d+, beyond 2\^53 - 1/);
  });

  it("accepts NSNS and NSBH for BNS and BHNS, and 'all' for every DCO of the kind", () => {
    expect(adaptiveSpec({ ...rule, target: parseTargetDcos("NSNS:all:5") }).target).toEqual({ dco: "BNS", merging: false, count: 5 });
    expect(adaptiveSpec({ ...rule, target: parseTargetDcos("nsbh:merging:5") }).target).toEqual({ dco: "BHNS", merging: true, count: 5 });
    expect(adaptiveSpec({ ...rule, target: parseTargetDcos("any:merging:5") }).target.dco).toBe("any");
  });
});
