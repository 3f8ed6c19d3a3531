import { z } from "zod";
import type { Fragment } from "../manifest/schema.js";
import type { Plan } from "../plan/schema.js";
import type { Store } from "../store/types.js";

/** Task states; the last three are terminal. */
export const TASK_STATES = ["pending", "running", "succeeded", "failed", "cancelled"] as const;
/** State of one task as an executor sees it. */
export type TaskState = (typeof TASK_STATES)[number];

/** True for succeeded, failed and cancelled. */
export function isTerminal(state: TaskState): boolean {
  return state === "succeeded" || state === "failed" || state === "cancelled";
}

/** One task's state, with the reason for failed and cancelled ones. */
export interface TaskStatus {
  taskId: string;
  state: TaskState;
  /** Why it failed or was cancelled (one sentence); undefined otherwise. */
  reason?: string;
  /** Latest attempt number known. */
  attempt?: number;
  /** Binaries done of the task's total while running. */
  progress?: { done: number; total: number };
  /** Where it runs (host name, job id), when known. */
  where?: string;
}

/**
 * What `submit` returns: plain JSON, so a detached executor's handle can be saved in the
 * store and re-attached from another process or machine.
 */
export const ExecutorHandleSchema = z.looseObject({
  kind: z.string(),
  ensemble_id: z.string(),
  task_ids: z.array(z.string()),
  submitted_at: z.string(),
  /** Executor-specific: job ids, hosts, pids. */
  data: z.record(z.string(), z.unknown()),
});
/** A saved submission. */
export type ExecutorHandle = z.infer<typeof ExecutorHandleSchema>;

/** Events executors emit while they are attached. */
export type ExecutorEvent =
  | { type: "task-started"; taskId: string; attempt: number; where?: string }
  | { type: "task-progress"; taskId: string; done: number; total: number }
  | { type: "task-finished"; taskId: string; fragment: Fragment; willRetry: boolean }
  | { type: "task-cancelled"; taskId: string; attempt: number; reason: string }
  | { type: "log"; level: "info" | "warn"; message: string };

/** Everything an executor needs to run tasks of a plan. */
export interface SubmitContext {
  plan: Plan;
  /** Where outputs, logs and fragments go. */
  store: Store;
  /** First attempt number per task id (one past any fragment already in the store). */
  firstAttempt: Readonly<Record<string, number>>;
  /** Per task id, earlier successful attempts whose output failed verification and is replaced. */
  supersedes?: Readonly<Record<string, readonly number[]>>;
  /** Stops the submission; attached executors kill their processes. */
  signal?: AbortSignal;
  /** Progress and lifecycle events. */
  onEvent?: (event: ExecutorEvent) => void;
}

/** Options of {@link Executor.wait}. */
export interface WaitOptions {
  /** Stops waiting; attached executors also cancel their tasks. */
  signal?: AbortSignal;
  /** Progress and lifecycle events while waiting. */
  onEvent?: (event: ExecutorEvent) => void;
}

/**
 * Where tasks run (after Parsl's providers): local processes, SSH hosts, AWS Batch, Slurm.
 * What runs is always the worker; fragments in the store stay the source of truth.
 */
export interface Executor {
  /** Short name: "local", "ssh", "batch", "slurm". */
  readonly kind: string;
  /** Attached executors stop when the caller goes away; detached ones keep running. */
  readonly detached: boolean;
  /** Starts the given tasks and returns a handle at once. */
  submit(context: SubmitContext, taskIds: readonly string[]): Promise<ExecutorHandle>;
  /** The state of every task of the handle. */
  status(handle: ExecutorHandle): Promise<TaskStatus[]>;
  /** Resolves when every task of the handle is terminal. */
  wait(handle: ExecutorHandle, options?: WaitOptions): Promise<TaskStatus[]>;
  /** Stops every task of the handle that is not terminal yet. */
  cancel(handle: ExecutorHandle): Promise<void>;
}
