import { CompasEnsembleError } from "../errors.js";
import type { Executor, ExecutorEvent, ExecutorHandle, TaskStatus } from "../executors/types.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/types.js";
import { readHandle, requirePlan } from "../store/ensemble-files.js";
import { HANDLE_KEY } from "../store/keys.js";
import { finalizeEnsemble } from "./finalize.js";
import { summarize, type EnsembleEvent, type EnsembleSummary } from "./run.js";

/** Rebuilds a detached executor from its saved handle (see {@link attachEnsemble}). */
export type Reattach = (handle: ExecutorHandle, store: Store) => Executor | Promise<Executor>;

/** Options of {@link attachEnsemble}. */
export interface AttachEnsembleOptions {
  /** The ensemble's output directory or `s3://bucket/prefix`, or an open Store. */
  output: string | Store;
  /** Builds the executor of the saved handle's kind. */
  reattach: Reattach;
  /** "wait" (default) follows the submission to its end; "cancel" stops it first. */
  action?: "wait" | "cancel";
  /** Stops waiting (the detached jobs keep running). */
  signal?: AbortSignal;
  /** Progress and lifecycle events while attached. */
  onEvent?: (event: EnsembleEvent) => void;
}

/**
 * Re-attaches to a detached submission from any machine, through the store: reads plan.json
 * and executor/handle.json, rebuilds the executor, waits for (or cancels) the tasks, then
 * merges chunked runs and writes the manifest from the fragments, exactly as runEnsemble
 * would at its end.
 * @param options - where the ensemble is and how to rebuild its executor
 */
export async function attachEnsemble(options: AttachEnsembleOptions): Promise<EnsembleSummary & { statuses: TaskStatus[] }> {
  const started = Date.now();
  const store = typeof options.output === "string" ? openStore(options.output) : options.output;
  const plan = await requirePlan(store);
  const handle = await savedHandle(store);
  const executor = await options.reattach(handle, store);
  const emit = (e: EnsembleEvent): void => options.onEvent?.(e);
  if (options.action === "cancel") await executor.cancel(handle);
  const statuses = await executor.wait(handle, { signal: options.signal, onEvent: (e: ExecutorEvent) => emit(e) });
  const summary = await finalizeEnsemble(store, plan, emit);
  const cancelled = options.action === "cancel" || statuses.some((s) => s.state === "cancelled");
  return { ...summarize(plan, store, summary.manifest, 0, handle.task_ids.length, started, cancelled, handle, statuses), statuses };
}

async function savedHandle(store: Store): Promise<ExecutorHandle> {
  const handle = await readHandle(store);
  if (handle === null) {
    throw new CompasEnsembleError(
      "HANDLE_MISSING",
      `${store.uri} has no ${HANDLE_KEY}: nothing was submitted there by a detached executor (local runs cannot be re-attached).`,
      { hint: "Use `compas-ensemble status <dir>` to see what the fragments say.", key: HANDLE_KEY },
    );
  }
  return handle;
}
