import type { Fragment } from "../../manifest/schema.js";
import type { ExecutorHandle, TaskStatus } from "../types.js";
import { elementLogPath, type SlurmHandleData } from "./handle.js";
import { slurmPhase, type SlurmElement } from "./_jobs.js";

/** Where one task of a handle runs in Slurm. */
export interface TaskSlot {
  taskId: string;
  jobId: string;
  index: number;
}

/**
 * The (array job, index) of every task of a handle: the arrays cover task_ids in order.
 * @param handle - the submission
 * @param data - its parsed data
 */
export function taskSlots(handle: ExecutorHandle, data: SlurmHandleData): TaskSlot[] {
  const slots: TaskSlot[] = [];
  let offset = 0;
  for (const array of data.arrays) {
    for (let i = 0; i < array.size; i++) slots.push({ taskId: handle.task_ids[offset + i]!, jobId: array.job_id, index: i });
    offset += array.size;
  }
  return slots;
}

/** Everything the state of a submission is derived from, read in this order. */
export interface StatusInput {
  handle: ExecutorHandle;
  data: SlurmHandleData;
  /** Elements Slurm still knows (read before the fragments). */
  elements: readonly SlurmElement[];
  /** Fragments in the store (read after Slurm was asked). */
  fragments: readonly Fragment[];
  /** True when the submission's cancel marker exists. */
  cancelled: boolean;
}

/**
 * Each task's state. A success fragment of this submission (attempt >= its first attempt)
 * wins; while Slurm knows the element, Slurm's state says pending or running; once the
 * element ended or was purged, the fragments say what happened and Slurm's end state
 * explains the rest (TIMEOUT, OUT_OF_MEMORY, CANCELLED).
 * @param input - handle, Slurm elements, fragments, cancel marker
 */
export function combineStatus(input: StatusInput): TaskStatus[] {
  const { handle, data } = input;
  const elements = new Map(input.elements.map((e) => [`${e.arrayJobId}_${e.index}`, e]));
  const byTask = new Map<string, Fragment[]>();
  for (const f of input.fragments) {
    if (f.ensemble_id !== handle.ensemble_id) continue;
    const list = byTask.get(f.task_id) ?? [];
    list.push(f);
    byTask.set(f.task_id, list);
  }

  return taskSlots(handle, data).map(({ taskId, jobId, index }): TaskStatus => {
    const label = `${jobId}_${index}`;
    const first = data.first_attempt[taskId] ?? 1;
    const all = (byTask.get(taskId) ?? []).sort((a, b) => a.attempt - b.attempt);
    const own = all.filter((f) => f.attempt >= first);
    const latest = own.at(-1);
    const success = own.find((f) => f.status === "success");
    if (success) return { taskId, state: "succeeded", attempt: success.attempt, where: `slurm ${label} on ${success.host}` };

    const nextAttempt = (latest?.attempt ?? first - 1) + 1;
    const log = elementLogPath(data.log_dir, jobId, index);
    const el = elements.get(label);
    if (el) {
      const where = `slurm ${label}${el.nodes ? ` on ${el.nodes}` : ""}`;
      const phase = slurmPhase(el.state);
      const why = `${el.state}${el.reason ? ` (${el.reason})` : ""}`;
      switch (phase) {
        case "pending":
          return { taskId, state: "pending", attempt: nextAttempt, where, reason: `Slurm: ${why}` };
        case "running":
          return { taskId, state: "running", attempt: nextAttempt, where };
        case "cancelled":
          return { taskId, state: "cancelled", attempt: latest?.attempt, where, reason: `Slurm job ${label} was cancelled (scancel) before the task finished.` };
        case "completed":
          // Exit 0 without a fragment of ours: the worker found an earlier verified success.
          if (all.some((f) => f.status === "success")) return { taskId, state: "succeeded", attempt: all.findLast((f) => f.status === "success")!.attempt, where };
          return { taskId, state: "failed", attempt: latest?.attempt, where, reason: `Slurm job ${label} completed but the worker recorded no result; see ${log}.` };
        case "failed": {
          // A worker failure is the normal case (the fragment says why); other end states
          // (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL) killed the worker before it could record one.
          const workerFailed = el.state.toUpperCase().startsWith("FAILED") && latest?.status === "failed";
          if (workerFailed) return { taskId, state: "failed", attempt: latest.attempt, where, reason: latest.error?.message ?? "failed" };
          const exit = el.exitCode !== undefined ? `, exit ${el.exitCode}` : "";
          return { taskId, state: "failed", attempt: latest?.attempt, where, reason: `Slurm ended job ${label} with ${why}${exit} before the worker recorded a result; see ${log}.` };
        }
      }
    }

    // Slurm has purged the element (MinJobAge): the store alone says what happened.
    if (input.cancelled) return { taskId, state: "cancelled", attempt: latest?.attempt, reason: `Slurm job ${label} was cancelled (scancel) before the task finished.` };
    if (latest?.status === "failed") return { taskId, state: "failed", attempt: latest.attempt, reason: latest.error?.message ?? "failed" };
    // An older success does not count here: it may be the one whose lost output this
    // submission was meant to replace.
    return {
      taskId,
      state: "failed",
      attempt: latest?.attempt,
      reason: `Slurm no longer knows job ${label} and the worker recorded no result; see ${log}.`,
    };
  });
}
