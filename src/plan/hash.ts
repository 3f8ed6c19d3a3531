import { CompasEnsembleError } from "../errors.js";
import { canonicalJson, canonicalJsonSha256 } from "../util/canonical-json.js";
import type { Plan } from "./schema.js";

/** Plan fields that describe when and by what the plan was made, not what it computes. */
const NON_DEFINING = ["ensemble_id", "created_at", "library_version"] as const;

/** A plan before (or regardless of) its id, timestamp and library version. */
export type PlanContent = Omit<Plan, (typeof NON_DEFINING)[number]> & Partial<Pick<Plan, (typeof NON_DEFINING)[number]>>;

/**
 * The ensemble id: sha256 (hex) of the plan's canonical JSON (keys sorted) without
 * ensemble_id, created_at and library_version, so re-planning the same ensemble later or with
 * a newer library gives the same id.
 * @param plan - a plan, with or without those three fields
 */
export function planHash(plan: PlanContent): string {
  const defining: Record<string, unknown> = { ...plan };
  for (const key of NON_DEFINING) delete defining[key];
  return canonicalJsonSha256(defining);
}

/**
 * Explains in one sentence the first way two plans differ, checking what users change most
 * (grid, N, chunking, seeds, COMPAS build, profile, arguments) before the rest.
 * @param existing - the plan already in the ensemble directory
 * @param proposed - the plan the current command would run
 * @returns the sentence, or null when both plans define the same ensemble
 */
export function comparePlans(existing: PlanContent, proposed: PlanContent): string | null {
  if (planHash(existing) === planHash(proposed)) return null;
  return firstDifference(existing, proposed);
}

/**
 * Throws PLAN_MISMATCH when resuming in a directory whose plan defines another ensemble.
 * @param existing - the plan already in the ensemble directory
 * @param proposed - the plan the current command would run
 * @param dir - the ensemble directory, for the message
 */
export function assertSamePlan(existing: PlanContent, proposed: PlanContent, dir: string): void {
  const diff = comparePlans(existing, proposed);
  if (diff === null) return;
  throw new CompasEnsembleError("PLAN_MISMATCH", `${dir} holds a different ensemble: ${lowerFirst(diff)}`, {
    hint:
      "Resume with the settings it was planned with, use a new output directory, or pass --restart (restart in the API) " +
      "to start this ensemble there instead: the old plan, manifest and fragments are moved to archive/<old ensemble id>/ " +
      "and the old run outputs are replaced as the new runs finish.",
  });
}

function firstDifference(a: PlanContent, b: PlanContent): string {
  const both = (what: string, x: unknown, y: unknown) =>
    `${what} differs: ${show(x)} in the existing plan, ${show(y)} in the proposed plan.`;

  if (a.points.length !== b.points.length) return both("The number of grid points", a.points.length, b.points.length);
  for (let i = 0; i < a.points.length; i++) {
    const p = a.points[i];
    const q = b.points[i];
    if (p === undefined || q === undefined || canonicalJson(p) === canonicalJson(q)) continue;
    if (p.run_id !== q.run_id) return both(`Grid point ${i}`, p.run_id, q.run_id);
    for (const key of Object.keys(p.params) as (keyof typeof p.params)[]) {
      if (p.params[key] !== q.params[key]) return both(`Parameter ${key} of grid point ${i} (${p.run_id})`, p.params[key], q.params[key]);
    }
    return both(`Grid point ${i}`, p, q);
  }
  if (a.n_systems_per_run !== b.n_systems_per_run) return both("The number of systems per run", a.n_systems_per_run, b.n_systems_per_run);
  if (a.systems_per_task !== b.systems_per_task) return both("The number of systems per task (chunking)", a.systems_per_task, b.systems_per_task);
  if (a.seed_base !== b.seed_base) return both("The seed base", a.seed_base, b.seed_base);
  for (let i = 0; i < Math.min(a.runs.length, b.runs.length); i++) {
    const r = a.runs[i];
    const s = b.runs[i];
    if (r !== undefined && s !== undefined && r.seed !== s.seed) return both(`The seed of run ${r.run_id}`, r.seed, s.seed);
  }
  for (let i = 0; i < Math.min(a.tasks.length, b.tasks.length); i++) {
    const t = a.tasks[i];
    const u = b.tasks[i];
    if (t !== undefined && u !== undefined && t.seed !== u.seed) return both(`The seed of task ${t.task_id}`, t.seed, u.seed);
  }
  if (a.compas.sha256 !== b.compas.sha256) return both("The COMPAS binary (sha256)", a.compas.sha256, b.compas.sha256);
  if (a.compas.version !== b.compas.version) return both("The COMPAS version", a.compas.version, b.compas.version);
  if (a.compas.binary !== b.compas.binary) return both("The COMPAS binary path", a.compas.binary, b.compas.binary);
  if (a.profile !== b.profile) return both("The profile", a.profile, b.profile);
  for (let i = 0; i < Math.min(a.tasks.length, b.tasks.length); i++) {
    const t = a.tasks[i];
    const u = b.tasks[i];
    if (t === undefined || u === undefined || canonicalJson(t.args) === canonicalJson(u.args)) continue;
    const j = firstIndexDiffering(t.args, u.args);
    return both(`The COMPAS command line of task ${t.task_id}`, argAt(t.args, j), argAt(u.args, j));
  }
  if (a.hdf5_chunk_size !== b.hdf5_chunk_size) return both("The HDF5 chunk size", a.hdf5_chunk_size, b.hdf5_chunk_size);
  if (a.schema_version !== b.schema_version) return both("The plan schema version", a.schema_version, b.schema_version);
  if (a.runs.length !== b.runs.length) return both("The number of runs", a.runs.length, b.runs.length);
  if (a.tasks.length !== b.tasks.length) return both("The number of tasks", a.tasks.length, b.tasks.length);
  for (let i = 0; i < a.runs.length; i++) {
    const r = a.runs[i];
    const s = b.runs[i];
    if (r !== undefined && s !== undefined && canonicalJson(r) !== canonicalJson(s)) {
      return both(`Run ${i}`, differingField(r, s), differingField(s, r));
    }
  }
  for (let i = 0; i < a.tasks.length; i++) {
    const t = a.tasks[i];
    const u = b.tasks[i];
    if (t !== undefined && u !== undefined && canonicalJson(t) !== canonicalJson(u)) {
      return both(`Task ${t.task_id}`, differingField(t, u), differingField(u, t));
    }
  }
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const key = keys.find(
    (k) => !(NON_DEFINING as readonly string[]).includes(k) && canonicalJson((a as Record<string, unknown>)[k]) !== canonicalJson((b as Record<string, unknown>)[k]),
  );
  return `The plans differ in ${key ?? "their content"}.`;
}

function firstIndexDiffering(x: readonly string[], y: readonly string[]): number {
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return i;
}

// Shows the option being set at position i (flag and value together) so the sentence says
// "--metallicity 0.0142" rather than a bare number.
function argAt(args: readonly string[], i: number): string {
  if (i >= args.length) return "(no further arguments)";
  let start = i;
  if (!(args[i] as string).startsWith("-") && i > 0 && (args[i - 1] as string).startsWith("-")) start = i - 1;
  const next = args[start + 1];
  const end = (args[start] as string).startsWith("-") && next !== undefined && !next.startsWith("--") ? start + 2 : start + 1;
  return args.slice(start, end).join(" ");
}

function differingField(x: object, y: object): string {
  const xr = x as Record<string, unknown>;
  const yr = y as Record<string, unknown>;
  const key = Object.keys(xr).find((k) => canonicalJson(xr[k]) !== canonicalJson(yr[k]));
  return key === undefined ? "(same)" : `${key}=${canonicalJson(xr[key])}`;
}

function show(v: unknown): string {
  if (typeof v === "string") return v.length > 20 && /^[0-9a-f]+$/.test(v) ? `${v.slice(0, 12)}…` : JSON.stringify(v);
  return typeof v === "object" ? canonicalJson(v) : String(v);
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
