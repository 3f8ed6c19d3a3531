import { requirePlan } from "../store/ensemble-files.js";
import { readFragments } from "../store/fragments.js";
import { CompasEnsembleError } from "../errors.js";
import { abortableDelay } from "../util/delay.js";
import { outcomesByTask, relevantFragments } from "../manifest/outcomes.js";
import { runProgressState } from "../manifest/run-states.js";
import { estimateRemainingSeconds, summarizeStatus } from "../manifest/status.js";
import type { Store } from "../store/types.js";
import { formatLiveLine, LiveLine, nextSteps, type LiveCounts } from "./_live.js";

/**
 * Seconds of `--watch [seconds]`: 2 when given alone, else a positive number (fractions allowed).
 * @param flag - the option's value (`true` when given without a number)
 */
export function watchSeconds(flag: string | true): number {
  if (flag === true) return 2;
  const s = Number(flag);
  if (!Number.isFinite(s) || s <= 0 || flag.trim() === "") {
    throw new CompasEnsembleError("OPTIONS_INVALID", `--watch ${JSON.stringify(flag)} is not a positive number of seconds.`, {
      hint: "Use e.g. --watch 5, or --watch alone for every 2 seconds.",
    });
  }
  return s;
}

/** Options of {@link watchStatus}. */
export interface WatchOptions {
  /** Seconds between two reads of the store. */
  intervalS: number;
  /** Tasks at once, for the ETA. */
  concurrency: number;
  /** Where the view goes. */
  stream: NodeJS.WritableStream & { columns?: number; isTTY?: boolean };
  /** Ctrl-C: stops watching. */
  signal?: AbortSignal;
  /** The location as the user gave it, for the next-step hints. */
  display: string;
  /** Clock (ms); default Date.now. */
  now?: () => number;
}

/**
 * `compas-ensemble status --watch`: the same one-line view as `run`, read from the store every
 * `intervalS` seconds (so it works from any machine, for local, SSH, Batch and Slurm stores),
 * with a log line for each task that fails for good, until every task has an outcome or the
 * signal aborts. The store holds finished attempts only, so running runs are counted with the
 * queued ones.
 * @param store - the ensemble's store
 * @param options - see {@link WatchOptions}
 * @returns whether the ensemble ended (false when stopped by the signal)
 */
export async function watchStatus(store: Store, options: WatchOptions): Promise<boolean> {
  const now = options.now ?? Date.now;
  const line = new LiveLine(options.stream);
  const reported = new Set<string>();
  for (;;) {
    const plan = await requirePlan(store);
    const { fragments } = await readFragments(store);
    const relevant = relevantFragments(fragments, plan).fragments;
    const outcomes = outcomesByTask(relevant);
    const summary = summarizeStatus(plan, fragments);
    for (const f of summary.failures) {
      const key = `${f.task_id}\u0000${f.attempts}`;
      if (reported.has(key)) continue;
      reported.add(key);
      line.log(`failed ${f.task_id} after ${f.attempts} attempt(s): ${f.reason}`);
    }
    const counts: LiveCounts = { total: plan.runs.length, done: 0, running: null, failed: 0, queued: 0, elapsedS: 0, etaS: null };
    for (const run of plan.runs) {
      const state = runProgressState(run, outcomes, new Set());
      if (state === "succeeded") counts.done++;
      else if (state === "failed") counts.failed++;
      else counts.queued++;
    }
    const first = relevant.reduce((t, f) => Math.min(t, Date.parse(f.started_at)), Infinity);
    const ended = summary.pending === 0;
    const last = relevant.reduce((t, f) => Math.max(t, Date.parse(f.finished_at)), -Infinity);
    counts.elapsedS = Number.isFinite(first) ? ((ended ? last : now()) - first) / 1000 : 0;
    counts.etaS = estimateRemainingSeconds(summary, options.concurrency);
    line.update(formatLiveLine(counts));
    if (ended) {
      line.end();
      if (summary.succeeded > 0) for (const l of nextSteps(options.display)) line.log(l);
      return true;
    }
    if (!(await abortableDelay(options.intervalS * 1000, options.signal))) {
      line.end();
      return false;
    }
  }
}
