import type { Fragment } from "../../manifest/schema.js";
import type { TaskState, TaskStatus } from "../types.js";
import { CANCEL_REASON } from "./_submission.js";

/** Batch job states that end a job. */
export function isBatchTerminal(status: string | undefined): boolean {
  return status === "SUCCEEDED" || status === "FAILED";
}

/**
 * What a Batch job state means for its task, before the store is consulted: SUBMITTED,
 * PENDING, RUNNABLE and STARTING wait, RUNNING runs, FAILED failed; SUCCEEDED still needs a
 * success fragment in the store to count (the caller checks), so it maps to "succeeded" only
 * as a claim.
 * @param status - a Batch job status
 */
export function batchStatusToTaskState(status: string | undefined): TaskState {
  switch (status) {
    case "RUNNING":
      return "running";
    case "SUCCEEDED":
      return "succeeded";
    case "FAILED":
      return "failed";
    default:
      return "pending";
  }
}

/** What Batch says about one child (or single job), as far as it is known. */
export interface BatchChildInfo {
  /** Known status of the child itself (from ListJobs, or the single job's DescribeJobs). */
  status?: string;
  statusReason?: string;
  exitCode?: number;
  /** Container-level reason, e.g. "OutOfMemoryError: Container killed due to memory usage". */
  containerReason?: string;
  /** A TerminateJob/CancelJob request was accepted for it. */
  terminated?: boolean;
}

/** Everything {@link childTaskStatus} combines for one task. */
export interface ChildView {
  taskId: string;
  /** `<jobId>:<index>` or the job id. */
  where: string;
  /** This submission's fragments of the task, oldest attempt first. */
  fragments: readonly Fragment[];
  child: BatchChildInfo;
  /** Status of the array parent (the job itself for a single job); undefined when Batch no longer knows it. */
  jobStatus: string | undefined;
  jobId: string;
  /** TerminateJob was accepted for the parent. */
  jobTerminated: boolean;
}

/**
 * One task's status from Batch's view joined with the fragments in the store, which stay the
 * source of truth: a success fragment means succeeded whatever Batch says, and a child that
 * Batch calls SUCCEEDED without one is failed.
 * @param view - the task's fragments and Batch's view of its child and job
 */
export function childTaskStatus(view: ChildView): TaskStatus {
  const { taskId, where, fragments, child } = view;
  const success = fragments.find((f) => f.status === "success");
  if (success) return { taskId, state: "succeeded", attempt: success.attempt, where };
  const latest = fragments.at(-1);
  const attempt = latest?.attempt;
  if (child.status === "FAILED") {
    const terminated = child.terminated === true || view.jobTerminated || (child.statusReason ?? "").startsWith(CANCEL_REASON);
    // A task that reported a final failure of its own before the cancel stays failed.
    if (terminated && (!latest || latest.error?.retryable !== false)) {
      return { taskId, state: "cancelled", reason: `cancelled: ${child.statusReason ?? "job terminated"}`, attempt, where };
    }
    return { taskId, state: "failed", reason: failureReason(latest, child), attempt, where };
  }
  if (view.jobStatus === undefined) {
    return { taskId, state: "failed", reason: failureReason(latest, { statusReason: `Batch no longer knows job ${view.jobId}` }), attempt, where };
  }
  if (isBatchTerminal(view.jobStatus)) {
    if (view.jobTerminated && (!latest || latest.error?.retryable !== false)) {
      return { taskId, state: "cancelled", reason: "cancelled: job terminated", attempt, where };
    }
    const claim = latest ? undefined : { statusReason: "Batch reports the job SUCCEEDED but the store holds no success fragment for it" };
    return { taskId, state: "failed", reason: failureReason(latest, claim ?? {}), attempt, where };
  }
  if (child.status === "RUNNING") return { taskId, state: "running", attempt, where };
  if (latest?.error) return { taskId, state: "pending", reason: `retrying after: ${latest.error.code}: ${latest.error.message}`, attempt, where };
  return { taskId, state: "pending", attempt, where };
}

/**
 * One sentence on why a task failed: the worker's recorded error first (it knows what COMPAS
 * did), then what Batch reported about the container.
 * @param fragment - the task's latest failed fragment, if any
 * @param child - Batch's view of the child
 */
export function failureReason(fragment: Fragment | undefined, child: BatchChildInfo): string {
  const parts: string[] = [];
  if (fragment?.error) parts.push(`${fragment.error.code}: ${fragment.error.message}`);
  const batch = [
    child.statusReason,
    child.exitCode !== undefined && child.exitCode !== null ? `exit code ${child.exitCode}` : undefined,
    child.containerReason,
  ].filter((s): s is string => typeof s === "string" && s.length > 0);
  if (batch.length > 0) parts.push(`Batch: ${batch.join(", ")}`);
  // The worker never ran, so nothing else says what to fix.
  if (child.containerReason?.startsWith("CannotPullContainerError")) {
    parts.push("the container image could not be pulled: check the job definition's image and that the compute environment may pull it");
  }
  return parts.length > 0 ? parts.join("; ") : "failed without a reason from Batch or the worker";
}
