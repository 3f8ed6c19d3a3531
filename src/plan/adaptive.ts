import { z } from "zod";
import { withSeeds } from "../compas/argv.js";
import { CompasEnsembleError } from "../errors.js";
import { chunkOutputKey } from "../store/keys.js";
import { KeyNameSchema } from "../store/safe-keys.js";
import type { InspectResult } from "../hdf5/inspect.js";
import {
  type AdaptiveSpec,
  type AdaptiveTarget,
  type Plan,
  type PlanRun,
  RunStopSchema,
  TARGET_DCO_TYPES,
  type Task,
  type TargetDcoType,
} from "./schema.js";

// Adaptive plans (docs/adaptive.md): a run grows by chunks until it holds enough target DCOs.
// plan.json is written once and holds chunk 0 of every run; each wave of further chunks is
// recorded in its own file, and so is the decision that a run stopped. Reading a plan back
// (readPlan, src/store/ensemble-files.ts) expands it with those records, so every reader of
// a plan (worker, manifest, status, dataset) sees the chunks that belong to the ensemble.

/**
 * Seeds between the first seeds of consecutive runs: run k's chunk c starts at
 * seed_base + k * stride + c * chunk, so a run's seeds never depend on how many chunks other
 * runs needed. 10^9 leaves 9 x 10^6 runs below 2^53.
 */
export const DEFAULT_SEED_STRIDE = 1_000_000_000;

/** Names accepted for each DCO kind in `--target-dcos` (NSNS and NSBH are common spellings). */
const TYPE_ALIASES: Readonly<Record<string, TargetDcoType>> = {
  BBH: "BBH",
  BHNS: "BHNS",
  NSBH: "BHNS",
  BNS: "BNS",
  NSNS: "BNS",
  ANY: "any",
};

/** What the caller asks for; checked and completed by {@link adaptiveSpec}. */
export interface AdaptiveOptions {
  target: { dco: string; merging: boolean; count: number };
  /** Binaries per chunk. */
  chunk: number;
  /** Most binaries a run may get (the cap). */
  max: number;
  /** Seeds between runs. Default {@link DEFAULT_SEED_STRIDE}. */
  seedStride?: number;
}

function invalid(message: string, hint: string): CompasEnsembleError {
  return new CompasEnsembleError("OPTIONS_INVALID", message, { hint });
}

/**
 * Parses `--target-dcos TYPE:merging|all:COUNT`, e.g. `BBH:merging:200`.
 * @param text - the flag's value
 */
export function parseTargetDcos(text: string): AdaptiveOptions["target"] {
  const parts = text.split(":");
  const [type, which, count] = parts;
  if (parts.length !== 3 || (which !== "merging" && which !== "all") || type === undefined || count === undefined || !/^[0-9+-]+$/.test(count)) {
    throw invalid(
      `--target-dcos ${JSON.stringify(text)} is not TYPE:merging:COUNT or TYPE:all:COUNT.`,
      "Write it like BBH:merging:200 (TYPE one of BBH, BHNS, BNS, NSNS, any).",
    );
  }
  return { dco: type, merging: which === "merging", count: Number(count) };
}

/**
 * Checks an adaptive request and completes it into the plan's record: one sentence per
 * problem, naming the flag.
 * @param options - target, chunk, cap and seed stride
 */
export function adaptiveSpec(options: AdaptiveOptions): AdaptiveSpec {
  const { target, chunk, max } = options;
  const stride = options.seedStride ?? DEFAULT_SEED_STRIDE;
  const dco = TYPE_ALIASES[String(target.dco).toUpperCase()];
  if (dco === undefined) {
    throw invalid(
      `--target-dcos type ${JSON.stringify(target.dco)} is not a DCO type.`,
      `Use one of ${TARGET_DCO_TYPES.join(", ")} (NSNS and NSBH are accepted for BNS and BHNS).`,
    );
  }
  if (!Number.isInteger(target.count) || target.count < 1) {
    throw invalid(`--target-dcos count ${target.count} is not a whole number >= 1.`, "Ask for at least one DCO per run, e.g. BBH:merging:200.");
  }
  if (!Number.isInteger(chunk) || chunk < 1) {
    throw invalid(`--chunk ${chunk} is not a whole number >= 1.`, "Give the binaries per chunk, e.g. --chunk 5000.");
  }
  if (!Number.isInteger(max) || max < 1) {
    throw invalid(`--max-systems ${max} is not a whole number >= 1.`, "Give the most binaries a run may get, e.g. --max-systems 2000000.");
  }
  if (chunk > max) {
    throw invalid(
      `--chunk ${chunk} is larger than --max-systems ${max}, so no run could ever grow.`,
      "Make --chunk at most --max-systems (chunk and max in the API).",
    );
  }
  if (!Number.isInteger(stride) || stride < 1) {
    throw invalid(`--seed-stride ${stride} is not a whole number >= 1.`, `Leave it out for the default ${DEFAULT_SEED_STRIDE}.`);
  }
  if (max > stride) {
    throw invalid(
      `--max-systems ${max} is larger than the seed stride ${stride} between runs, so a run's seeds could overlap the next run's.`,
      "Lower --max-systems or raise --seed-stride (seedStride in the API).",
    );
  }
  return { target: { dco, merging: target.merging, count: target.count }, chunk, max, seed_stride: stride };
}

/** One-line description of a target, e.g. "200 merging BBH". */
export function describeTarget(target: AdaptiveTarget): string {
  return `${target.count} ${target.merging ? "merging " : ""}${target.dco === "any" ? "DCOs" : target.dco}`;
}

/**
 * DCOs of the target's kind in an inspect result: merging ones (COMPAS's Merges_Hubble_Time)
 * or all.
 * @param counts - from inspect()
 * @param target - the rule's target
 */
export function countTarget(counts: Pick<InspectResult, "dco" | "merging">, target: AdaptiveTarget): number {
  const table = target.merging ? counts.merging : counts.dco;
  return target.dco === "any" ? table.total : table[target.dco];
}

/** Most chunks a run may get. */
export function maxChunks(spec: AdaptiveSpec): number {
  return Math.ceil(spec.max / spec.chunk);
}

/** Binaries of chunk c (the last one below the cap may be shorter). */
export function chunkSystems(spec: AdaptiveSpec, c: number): number {
  return Math.min(spec.chunk, spec.max - c * spec.chunk);
}

/** Task id of chunk c of a run in an adaptive plan. */
export function chunkTaskId(runId: string, c: number): string {
  return `${runId}.c${c}`;
}

/**
 * True when a run's output is merged from its chunk files: every run of an adaptive plan
 * (even one that stopped after one chunk), and fixed runs of more than one task.
 */
export function runIsMerged(plan: Pick<Plan, "adaptive">, run: Pick<PlanRun, "task_ids">): boolean {
  return plan.adaptive !== undefined || run.task_ids.length > 1;
}

/**
 * Chunk c of a run: the run's chunk 0 (in plan.json) with the seeds and size of chunk c.
 * Pure, so every process derives the same task from the plan.
 * @param plan - an adaptive plan
 * @param first - the run's chunk-0 task
 * @param c - chunk index, below {@link maxChunks}
 */
export function chunkTask(plan: Plan, first: Task, c: number): Task {
  const spec = requireAdaptive(plan);
  if (!Number.isInteger(c) || c < 0 || c >= maxChunks(spec)) {
    throw new CompasEnsembleError("METADATA_INVALID", `Chunk ${c} of run ${first.run_id} is beyond the ${maxChunks(spec)} chunks its cap allows.`);
  }
  const nSystems = chunkSystems(spec, c);
  const seed = first.seed + c * spec.chunk;
  return {
    ...first,
    task_id: chunkTaskId(first.run_id, c),
    chunk_index: c,
    first_system: c * spec.chunk,
    n_systems: nSystems,
    seed,
    args: withSeeds(first.args, { nSystems, seed }),
    output_key: chunkOutputKey(first.run_id, c),
  };
}

function requireAdaptive(plan: Plan): AdaptiveSpec {
  if (plan.adaptive === undefined) throw new CompasEnsembleError("METADATA_INVALID", `Plan ${plan.ensemble_id} is not adaptive.`);
  return plan.adaptive;
}

/** One chunk as a wave record names it. */
const ChunkRefSchema = z.strictObject({ run_id: KeyNameSchema, chunk_index: z.number().int().nonnegative() });

/** A run's progress when a wave was decided (for `status`; decisions come from the files). */
export const RunProgressSchema = z.strictObject({
  run_id: KeyNameSchema,
  chunks_done: z.number().int().nonnegative(),
  systems_done: z.number().int().nonnegative(),
  dcos: z.number().int().nonnegative(),
});
/** A run's progress when a wave was decided. */
export type RunProgress = z.infer<typeof RunProgressSchema>;

/** `adaptive/wave-<n>.json`: chunks a wave added, written once before they are submitted. */
export const WaveRecordSchema = z.strictObject({
  ensemble_id: z.string(),
  wave: z.number().int().positive(),
  chunks: z.array(ChunkRefSchema),
  progress: z.array(RunProgressSchema),
  created_at: z.string(),
});
/** A wave record. */
export type WaveRecord = z.infer<typeof WaveRecordSchema>;

/** `adaptive/runs/<run_id>.json`: a run stopped; its chunks, counted from their files. */
export const StopRecordSchema = z.strictObject({
  ensemble_id: z.string(),
  run_id: KeyNameSchema,
  /** The run's chunks in seed order: the shortest prefix that reached the target (or the cap). */
  chunks: z.array(z.strictObject({ task_id: KeyNameSchema, sha256: z.string(), dcos: z.number().int().nonnegative() })).min(1),
  ...RunStopSchema.shape,
  decided_at: z.string(),
});
/** A stop record. */
export type StopRecord = z.infer<typeof StopRecordSchema>;

/**
 * The plan as it stands: plan.json's chunk 0 of each run plus the chunks of every wave, and
 * for runs that stopped, the chunks their stop record names (`open` is false, `stop` set).
 * A fixed plan comes back as it is.
 * @param base - plan.json as written
 * @param waves - wave records (any order)
 * @param stops - stop records
 */
export function expandAdaptivePlan(base: Plan, waves: readonly WaveRecord[], stops: readonly StopRecord[]): Plan {
  if (base.adaptive === undefined) return base;
  const spec = base.adaptive;
  const firstOf = new Map(base.tasks.filter((t) => t.chunk_index === 0).map((t) => [t.run_id, t]));
  // A plan that was expanded already (the copy an SSH host gets) keeps its chunks: expanding is idempotent.
  const submitted = new Map<string, Set<number>>(base.runs.map((r) => [r.run_id, new Set([0])]));
  for (const t of base.tasks) submitted.get(t.run_id)?.add(t.chunk_index);
  for (const wave of waves) {
    if (wave.ensemble_id !== base.ensemble_id) continue;
    for (const c of wave.chunks) submitted.get(c.run_id)?.add(c.chunk_index);
  }
  const stopOf = new Map(stops.filter((s) => s.ensemble_id === base.ensemble_id).map((s) => [s.run_id, s]));
  const runs: PlanRun[] = [];
  const tasks: Task[] = [];
  for (const run of base.runs) {
    const first = firstOf.get(run.run_id);
    if (first === undefined) {
      throw new CompasEnsembleError("METADATA_INVALID", `The adaptive plan ${base.ensemble_id} has no first chunk for run ${run.run_id}; restore plan.json as compas-ensemble wrote it.`);
    }
    const chunks = [...(submitted.get(run.run_id) ?? [])].filter((c) => c < maxChunks(spec)).sort((a, b) => a - b);
    const own = chunks.map((c) => (c === 0 ? first : chunkTask(base, first, c)));
    tasks.push(...own);
    const stop = stopOf.get(run.run_id) ?? (run.stop ? { ...run.stop, chunks: run.task_ids.map((task_id) => ({ task_id })) } : undefined);
    const members = stop ? stop.chunks.map((c) => c.task_id) : own.map((t) => t.task_id);
    const byId = new Map(own.map((t) => [t.task_id, t]));
    const nSystems = members.reduce((sum, id) => sum + (byId.get(id)?.n_systems ?? 0), 0);
    const { open: _open, stop: _stop, ...rest } = run;
    runs.push({
      ...rest,
      task_ids: members,
      n_systems: nSystems > 0 ? nSystems : run.n_systems,
      ...(stop ? { stop: { dcos: stop.dcos, reason: stop.reason, surplus_task_ids: stop.surplus_task_ids } } : { open: true }),
    });
  }
  return { ...base, runs, tasks };
}
