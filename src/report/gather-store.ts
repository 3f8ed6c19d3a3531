import { availableParallelism, tmpdir } from "node:os";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseFlags } from "../compas/argv.js";
import { requirePlan } from "../store/ensemble-files.js";
import { readFragments } from "../store/fragments.js";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { liveScratchProcesses } from "../worker/process.js";
import { scratchFolderTask } from "../worker/task.js";
import { logKey, RUNS_PREFIX, SCRATCH_DIR } from "../store/keys.js";
import { stackDcoTables } from "../dataset/assemble.js";
import type { SpinModelRecord } from "../dataset/types.js";
import type { DcoTable } from "../physics/dco-table.js";
import { extractDcos } from "../physics/dco.js";
import type { SpinModelInput } from "../physics/spins.js";
import { computeSummary } from "../dataset/summary.js";
import { errorText, outcomesByTask, relevantFragments, type TaskOutcome } from "../manifest/outcomes.js";
import { runProgressState } from "../manifest/run-states.js";
import type { Fragment } from "../manifest/schema.js";
import type { Plan, PlanRun } from "../plan/schema.js";
import { estimateRemainingSeconds, summarizeStatus } from "../manifest/status.js";
import type { EnsembleEstimate } from "../estimate/estimate.js";
import { LocalStore } from "../store/local.js";
import type { Store } from "../store/types.js";
import { RUN_STATES, type ProvenanceData, type ReportFailure, type ReportProblem, type ReportRun, type RunState, type ScienceData, type StatusData } from "./types.js";

/** Options of {@link gatherFromStore}. */
export interface GatherStoreOptions {
  /** Tasks at once, for the ETA. Default: this machine's cores. */
  concurrency?: number;
  /** Task ids known to be running (from an executor's status); local stores are also checked for live COMPAS processes. */
  running?: Iterable<string>;
  /** Read the run outputs for the science section. Default true. */
  science?: boolean;
  /** Spin model for the DCO extraction; default bavera2021 (as `extract`). */
  spinModel?: SpinModelInput;
  /** The ensemble's estimate (`compas-ensemble estimate --json`), shown in the status section. */
  estimate?: EnsembleEstimate;
  /** Called after each run's output is read. */
  onRun?: (done: number, total: number, runId: string) => void;
}

/** What {@link gatherFromStore} returns: the three sections' data. */
export interface GatheredEnsemble {
  status: StatusData;
  science: ScienceData | null;
  scienceEmptyReason: string | null;
  provenance: ProvenanceData;
  plan: Plan;
}

/**
 * Gathers a report's data from an ensemble's store (local directory or S3): the state of every
 * run from the plan and the fragments, missing outputs from one listing of `runs/`, and, unless
 * switched off, the DCOs of every finished run read from its COMPAS output. A missing or
 * unreadable output marks its run and is listed; it never stops the report.
 * @param store - the ensemble's store
 * @param options - see {@link GatherStoreOptions}
 */
export async function gatherFromStore(store: Store, options: GatherStoreOptions = {}): Promise<GatheredEnsemble> {
  const plan = await requirePlan(store, {
    hint: "Give the --output-dir of `compas-ensemble run`, or an SBI dataset file (.h5) made by `compas-ensemble extract`.",
  });
  const { fragments, invalid } = await readFragments(store);
  const relevant = relevantFragments(fragments, plan).fragments;
  const outcomes = outcomesByTask(relevant);
  const running = new Set(options.running ?? []);
  const runningKnown = store instanceof LocalStore || options.running !== undefined;
  if (store instanceof LocalStore) for (const id of liveTasks(store)) running.add(id);

  const stored = new Set((await store.list(RUNS_PREFIX)).map((e) => e.key));
  const problems: ReportProblem[] = [];
  const runs = plan.runs.map((run) => reportRun(run, outcomes, running));
  runs.forEach((r, i) => {
    const key = plan.runs[i]!.output_key;
    if (r.state === "succeeded" && !stored.has(key)) {
      r.state = "output missing";
      problems.push({ run_id: r.run_id, state: "output missing", detail: `${key} is not in ${store.uri} (a partial sync?)` });
    }
  });

  const concurrency = options.concurrency ?? availableParallelism();
  const summary = summarizeStatus(plan, fragments);
  const status: StatusData = {
    kind: "ensemble",
    source: store.uri,
    ensembleId: plan.ensemble_id,
    runs,
    counts: countStates(runs),
    tasks: { total: summary.total, succeeded: summary.succeeded, failed: summary.failed, pending: summary.pending },
    ...timing(relevant),
    etaSeconds: estimateRemainingSeconds(summary, concurrency),
    concurrency,
    runningKnown,
    failures: failuresOf(plan, outcomes, running),
    problems,
    invalidFragments: invalid.map(({ key, reason }) => ({ key, reason })),
    ...(options.estimate ? { estimate: options.estimate } : {}),
  };

  let science: ScienceData | null = null;
  let scienceEmptyReason: string | null = null;
  let spinModel: SpinModelRecord | null = null;
  if (options.science === false) {
    scienceEmptyReason = "The science section was not requested (status only).";
  } else {
    const read = await readOutputs(store, plan, runs, options);
    problems.push(...read.problems);
    status.counts = countStates(runs);
    science = read.science;
    spinModel = read.spinModel;
    scienceEmptyReason = science ? null : emptyReason(runs, read.problems.length);
  }
  return { status, science, scienceEmptyReason, provenance: provenanceOf(plan, spinModel), plan };
}

function liveTasks(store: LocalStore): string[] {
  // The local executor's scratch folders hold compas.pid while COMPAS runs (src/worker/task.ts).
  return liveScratchProcesses(join(store.root, SCRATCH_DIR))
    .map(({ dir }) => scratchFolderTask(dir))
    .filter((id): id is string => id !== null);
}

function reportRun(run: PlanRun, outcomes: Map<string, TaskOutcome>, running: ReadonlySet<string>): ReportRun {
  const taskOutcomes = run.task_ids.map((id) => outcomes.get(id));
  const attempts = taskOutcomes.reduce((n, o) => n + (o?.attempts.length ?? 0), 0);
  const state: RunState = runProgressState(run, outcomes, running);
  const finished = taskOutcomes.every((o) => o !== undefined);
  return {
    run_id: run.run_id,
    grid_index: run.grid_index,
    params: run.params,
    state,
    seconds: finished ? taskOutcomes.reduce((s, o) => s + o!.decisive.duration_s, 0) : null,
    attempts,
    seed: run.seed,
    nSystems: run.n_systems,
  };
}

/** Runs per state, every state present (0 when none). */
export function countStates(runs: readonly ReportRun[]): Record<RunState, number> {
  const counts = Object.fromEntries(RUN_STATES.map((s) => [s, 0])) as Record<RunState, number>;
  for (const r of runs) counts[r.state]++;
  return counts;
}

function timing(fragments: readonly Fragment[]): { cpuHours: number | null; wallSeconds: number | null } {
  if (fragments.length === 0) return { cpuHours: null, wallSeconds: null };
  let seconds = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const f of fragments) {
    seconds += f.duration_s;
    first = Math.min(first, Date.parse(f.started_at));
    last = Math.max(last, Date.parse(f.finished_at));
  }
  return { cpuHours: seconds / 3600, wallSeconds: Number.isFinite(last - first) ? (last - first) / 1000 : null };
}

function failuresOf(plan: Plan, outcomes: Map<string, TaskOutcome>, running: ReadonlySet<string>): ReportFailure[] {
  const out: ReportFailure[] = [];
  for (const task of plan.tasks) {
    const o = outcomes.get(task.task_id);
    if (o === undefined || o.status !== "failed" || running.has(task.task_id)) continue;
    out.push({
      run_id: task.run_id,
      task_id: task.task_id,
      reason: errorText(o.decisive),
      attempts: o.attempts.length,
      logKey: logKey(task.task_id, o.decisive.attempt),
    });
  }
  return out;
}

async function readOutputs(
  store: Store,
  plan: Plan,
  runs: ReportRun[],
  options: GatherStoreOptions,
): Promise<{ science: ScienceData | null; problems: ReportProblem[]; spinModel: SpinModelRecord | null }> {
  const problems: ReportProblem[] = [];
  let spinModel: SpinModelRecord | null = null;
  const todo = runs.map((r, i) => ({ r, run: plan.runs[i]! })).filter(({ r }) => r.state === "succeeded");
  const kept: { r: ReportRun; table: DcoTable }[] = [];
  const temp = store instanceof LocalStore ? null : mkdtempSync(join(tmpdir(), "compas-report-"));
  try {
    for (const [i, { r, run }] of todo.entries()) {
      try {
        const path = await localPath(store, run.output_key, temp);
        const extraction = await extractDcos(path, options.spinModel === undefined ? {} : { spinModel: options.spinModel });
        kept.push({ r, table: extraction.table });
        spinModel ??= extraction.spinModel;
        if (temp) rmSync(path, { force: true });
      } catch (err) {
        if (!isCompasEnsembleError(err)) throw err;
        r.state = "unreadable";
        problems.push({ run_id: r.run_id, state: "unreadable", detail: err.message });
      }
      options.onRun?.(i + 1, todo.length, r.run_id);
    }
  } finally {
    if (temp) rmSync(temp, { recursive: true, force: true });
  }
  if (kept.length === 0) return { science: null, problems, spinModel };
  const summary = computeSummary(
    kept.map((k) => k.table),
    kept.map((k) => k.r.nSystems),
  );
  return {
    science: {
      runs: kept.map(({ r }) => ({ run_id: r.run_id, params: r.params, nSystems: r.nSystems })),
      x: summary.x,
      xColumns: summary.columns,
      yieldUnit: "binary",
      dco: stackDcoTables(kept.map((k) => k.table)),
      mergingOnly: false,
      rates: null,
    },
    problems,
    spinModel,
  };
}

async function localPath(store: Store, key: string, temp: string | null): Promise<string> {
  if (store instanceof LocalStore) {
    const path = await store.pathForRead(key);
    if (path === null) throw new CompasEnsembleError("OUTPUT_INCOMPLETE", `${key} is not in ${store.uri}.`);
    return path;
  }
  const path = join(temp!, key.replaceAll("/", "__"));
  await store.getFile(key, path);
  return path;
}

function emptyReason(runs: readonly ReportRun[], unreadable: number): string {
  // Called when no output could be read, so no run is in state "succeeded" any more.
  const missing = runs.filter((r) => r.state === "output missing").length;
  if (unreadable > 0 || missing > 0) {
    return (
      `No run has a readable COMPAS output: ${unreadable} unreadable and ${missing} missing from the store ` +
      `(sync the runs/ folder, or rerun the runs listed below).`
    );
  }
  return `No run has finished yet (${runs.length} runs: ${runs.filter((r) => r.state === "failed").length} failed, the rest queued or running), so there is nothing to plot.`;
}

function provenanceOf(plan: Plan, spinModel: SpinModelRecord | null): ProvenanceData {
  const first = plan.tasks[0];
  const pairs = first ? parseFlags(first.args) : [];
  const common = pairs.filter(([name, value]) => plan.tasks.every((t) => sameFlag(t.args, name, value)));
  return {
    compas: plan.compas,
    libraryVersion: plan.library_version,
    profile: plan.profile,
    nSystemsPerRun: plan.n_systems_per_run,
    systemsPerTask: plan.systems_per_task,
    seedBase: plan.seed_base,
    exampleArgs: first ? [...first.args] : null,
    commonFlags: common,
    spinModel,
    extra: [
      { label: "plan created", value: plan.created_at },
      { label: "HDF5 chunk size", value: String(plan.hdf5_chunk_size) },
    ],
  };
}

function sameFlag(args: readonly string[], name: string, value: string | undefined): boolean {
  const i = args.indexOf(name);
  if (i < 0) return false;
  const next = args[i + 1];
  return value === undefined ? next === undefined || next.startsWith("--") : next === value;
}
