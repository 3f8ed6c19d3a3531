import { availableParallelism } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { CompasEnsembleError, DiskFullError } from "../../errors.js";
import type { Plan, Task } from "../../plan/schema.js";
import type { Store } from "../../store/types.js";
import { SCRATCH_DIR } from "../../store/keys.js";
import { LocalStore } from "../../store/local.js";
import { backoffDelayMs } from "../../util/retry.js";
import { killOrphans } from "../../worker/process.js";
import type {
  Executor,
  ExecutorEvent,
  ExecutorHandle,
  SubmitContext,
  TaskStatus,
  WaitOptions,
} from "../types.js";
import { defaultScratchRoot, removeStaleScratch, runTask } from "../../worker/task.js";
import { checkExecutorOptions, EXECUTOR_DEFAULTS, type ExecutorOptions, withEnv } from "../options.js";

/**
 * Options of the local executor; every field has a documented default. The shared ones
 * (compasBinary, taskTimeoutMs, env, retries) mean what they mean for every executor; `env`
 * is set over this process's environment for COMPAS (GSL_RNG_* are always removed).
 */
export interface LocalExecutorOptions extends Omit<ExecutorOptions, "pollIntervalMs"> {
  /** COMPAS processes at once. Default: the number of available cores. */
  concurrency?: number;
  /** Wait before the first retry, doubled for each further one (capped at 60 s). Default 2000 ms. */
  retryBackoffMs?: number;
  /**
   * Folder for per-task scratch folders. Default: `<output>/.scratch` for a local output
   * (same file system, and orphans of a killed run are found there), else a temp folder.
   */
  scratchDir?: string;
  /**
   * Folder for per-task scratch folders.
   * @deprecated Use `scratchDir`; kept for one release.
   */
  scratchRoot?: string;
  /**
   * COMPAS binary to run.
   * @deprecated Use `compasBinary`; kept for one release.
   */
  binary?: string;
}

/** What the local executor runs with, every default filled in. */
interface ResolvedLocalOptions {
  concurrency: number;
  retries: number;
  retryBackoffMs: number;
  taskTimeoutMs: number | undefined;
  scratchDir: string | undefined;
  compasBinary: string | undefined;
  env: ExecutorOptions["env"];
}

interface Submission {
  statuses: Map<string, TaskStatus>;
  controller: AbortController;
  done: Promise<void>;
  listeners: Set<(event: ExecutorEvent) => void>;
  /** Set when a disk filled up: the submission stopped, and wait() rejects with it. */
  stoppedBy?: DiskFullError;
}

/**
 * Runs tasks as COMPAS processes on this machine: one process per task and core, no shell,
 * each in its own process group and scratch folder, with retries and timeouts. Attached:
 * the tasks stop when the submission is cancelled or the signal aborts.
 */
export class LocalExecutor implements Executor {
  readonly kind = "local";
  readonly detached = false;
  private readonly options: ResolvedLocalOptions;
  private readonly submissions = new Map<string, Submission>();

  /** @param options - see {@link LocalExecutorOptions} */
  constructor(options: LocalExecutorOptions = {}) {
    const concurrency = options.concurrency ?? availableParallelism();
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `--concurrency ${concurrency} is not a whole number >= 1.`);
    }
    checkExecutorOptions("local", options);
    this.options = {
      concurrency,
      retries: options.retries ?? EXECUTOR_DEFAULTS.retries,
      retryBackoffMs: options.retryBackoffMs ?? EXECUTOR_DEFAULTS.retryBackoffMs,
      taskTimeoutMs: options.taskTimeoutMs,
      scratchDir: options.scratchDir ?? options.scratchRoot,
      compasBinary: options.compasBinary ?? options.binary,
      env: options.env,
    };
  }

  /** Number of processes it runs at once. */
  get concurrency(): number {
    return this.options.concurrency;
  }

  /** Starts the tasks and returns at once; {@link LocalExecutor.wait} follows them. */
  async submit(context: SubmitContext, taskIds: readonly string[]): Promise<ExecutorHandle> {
    const { plan, store } = context;
    const byId = new Map(plan.tasks.map((t) => [t.task_id, t]));
    const tasks = taskIds.map((id) => {
      const t = byId.get(id);
      if (!t) throw new CompasEnsembleError("PLAN_MISMATCH", `Task ${id} is not in the plan of ensemble ${plan.ensemble_id}.`);
      return t;
    });
    const scratchRoot = this.reclaimScratch(plan, store);

    const id = randomUUID();
    const controller = new AbortController();
    const listeners = new Set<(event: ExecutorEvent) => void>();
    if (context.onEvent) listeners.add(context.onEvent);
    const emit = (event: ExecutorEvent): void => {
      for (const l of listeners) l(event);
    };
    const statuses = new Map<string, TaskStatus>(tasks.map((t) => [t.task_id, { taskId: t.task_id, state: "pending" }]));
    const onOuterAbort = (): void => controller.abort();
    context.signal?.addEventListener("abort", onOuterAbort, { once: true });
    if (context.signal?.aborted) controller.abort();

    const submission: Submission = { statuses, controller, done: Promise.resolve(), listeners };
    submission.done = this.schedule(tasks, {
      context,
      scratchRoot,
      statuses,
      signal: controller.signal,
      emit,
      stop: (err) => {
        // The first full disk stops everything: the other tasks would fail the same way.
        submission.stoppedBy ??= err;
        controller.abort();
      },
    }).finally(() => context.signal?.removeEventListener("abort", onOuterAbort));
    this.submissions.set(id, submission);
    return {
      kind: this.kind,
      ensemble_id: plan.ensemble_id,
      task_ids: tasks.map((t) => t.task_id),
      submitted_at: new Date().toISOString(),
      data: { id, pid: process.pid, concurrency: this.options.concurrency },
    };
  }

  /** Current state of every task of the submission. */
  async status(handle: ExecutorHandle): Promise<TaskStatus[]> {
    return [...this.submission(handle).statuses.values()].map((s) => ({ ...s }));
  }

  /**
   * Resolves when every task is succeeded, failed or cancelled. Rejects with a DiskFullError
   * when a disk filled up; by then every task has stopped.
   */
  async wait(handle: ExecutorHandle, options: WaitOptions = {}): Promise<TaskStatus[]> {
    const sub = this.submission(handle);
    if (options.onEvent) sub.listeners.add(options.onEvent);
    const onAbort = (): void => sub.controller.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await sub.done;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      if (options.onEvent) sub.listeners.delete(options.onEvent);
    }
    if (sub.stoppedBy) throw sub.stoppedBy;
    return this.status(handle);
  }

  /**
   * Makes the scratch folder of a plan ready for a new submission: stops COMPAS processes an
   * earlier orchestrator left running (killed with SIGKILL, they survive it), then removes the
   * scratch folders it left for this plan's tasks. Only safe while this process owns the
   * ensemble (runEnsemble holds its lock), since a live worker's folder would be removed too.
   * @param plan - the plan about to run
   * @param store - its store (the default scratch folder is `<output>/.scratch` for a local one)
   * @returns the scratch folder used for this plan
   */
  reclaimScratch(plan: Plan, store: Store): string {
    const scratchRoot =
      this.options.scratchDir ??
      (store instanceof LocalStore ? join(store.root, SCRATCH_DIR) : defaultScratchRoot(plan.ensemble_id));
    // No task may ever run twice at once: kill the orphans before their tasks start again.
    killOrphans(scratchRoot);
    removeStaleScratch(scratchRoot, plan);
    return scratchRoot;
  }

  /** Kills every running task's process group and cancels the queued ones. */
  async cancel(handle: ExecutorHandle): Promise<void> {
    const sub = this.submission(handle);
    sub.controller.abort();
    await sub.done;
  }

  private submission(handle: ExecutorHandle): Submission {
    const sub = this.submissions.get(String(handle.data.id));
    if (!sub) {
      throw new CompasEnsembleError(
        "HANDLE_MISSING",
        `The local executor has no submission ${String(handle.data.id)}; local runs cannot be re-attached from another process.`,
        { hint: "Use `compas-ensemble status <dir>` to read the state from the output directory." },
      );
    }
    return sub;
  }

  private schedule(
    tasks: Task[],
    run: {
      context: SubmitContext;
      scratchRoot: string;
      statuses: Map<string, TaskStatus>;
      signal: AbortSignal;
      emit: (event: ExecutorEvent) => void;
      stop: (err: DiskFullError) => void;
    },
  ): Promise<void> {
    const { context, statuses, signal, emit } = run;
    const queue = tasks.map((task) => ({ task, attempt: context.firstAttempt[task.task_id] ?? 1, tries: 0 }));
    const timers = new Set<NodeJS.Timeout>();
    // `running` counts COMPAS processes (what the concurrency limits); `active` also counts
    // tasks whose output is still being checked and recorded after COMPAS exited.
    let running = 0;
    let active = 0;

    return new Promise<void>((resolveAll) => {
      const settleIfIdle = (): void => {
        if (active === 0 && timers.size === 0 && (queue.length === 0 || signal.aborted)) {
          for (const item of queue.splice(0)) {
            statuses.set(item.task.task_id, {
              taskId: item.task.task_id,
              state: "cancelled",
              reason: "cancelled before it started",
              attempt: item.attempt,
            });
          }
          resolveAll();
        }
      };
      const onAbort = (): void => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        settleIfIdle();
      };
      signal.addEventListener("abort", onAbort, { once: true });

      const pump = (): void => {
        while (!signal.aborted && running < this.options.concurrency && queue.length > 0) {
          start(queue.shift()!);
        }
        settleIfIdle();
      };

      const start = (item: { task: Task; attempt: number; tries: number }): void => {
        active++;
        running++;
        let slotFreed = false;
        const freeSlot = (): void => {
          if (slotFreed) return;
          slotFreed = true;
          running--;
          pump();
        };
        const { task } = item;
        statuses.set(task.task_id, { taskId: task.task_id, state: "running", attempt: item.attempt });
        let lastPercent = -1;
        runTask({
          plan: context.plan,
          task,
          store: context.store,
          attempt: item.attempt,
          supersedes: context.supersedes?.[task.task_id],
          scratchRoot: run.scratchRoot,
          binary: this.options.compasBinary,
          // Read when the task starts, as the worker reads process.env.
          env: this.options.env === undefined ? undefined : withEnv(process.env, this.options.env),
          timeoutMs: this.options.taskTimeoutMs,
          signal,
          onSpawn: () => emit({ type: "task-started", taskId: task.task_id, attempt: item.attempt, where: "local" }),
          onExit: freeSlot,
          onProgress: (n, total) => {
            // One event per percent keeps a 10,000-binary task from flooding listeners.
            const percent = Math.floor((100 * n) / total);
            const status = statuses.get(task.task_id);
            if (status) status.progress = { done: n, total };
            if (percent !== lastPercent) {
              lastPercent = percent;
              emit({ type: "task-progress", taskId: task.task_id, done: n, total });
            }
          },
        })
          .then((result) => {
            if (result.status === "cancelled") {
              statuses.set(task.task_id, { taskId: task.task_id, state: "cancelled", reason: result.reason, attempt: item.attempt });
              emit({ type: "task-cancelled", taskId: task.task_id, attempt: item.attempt, reason: result.reason });
              return;
            }
            const { fragment } = result;
            const retryable = fragment.error?.retryable ?? false;
            const willRetry = result.status === "failed" && retryable && item.tries < this.options.retries && !signal.aborted;
            emit({ type: "task-finished", taskId: task.task_id, fragment, willRetry });
            if (result.status === "success") {
              statuses.set(task.task_id, { taskId: task.task_id, state: "succeeded", attempt: item.attempt });
            } else if (willRetry) {
              statuses.set(task.task_id, {
                taskId: task.task_id,
                state: "pending",
                attempt: item.attempt,
                reason: `retrying after: ${fragment.error?.message ?? "failure"}`,
              });
              const delay = backoffDelayMs(item.tries, { baseDelayMs: this.options.retryBackoffMs, maxDelayMs: EXECUTOR_DEFAULTS.maxRetryBackoffMs, jitter: "none" });
              const timer = setTimeout(() => {
                timers.delete(timer);
                queue.push({ task, attempt: item.attempt + 1, tries: item.tries + 1 });
                pump();
              }, delay);
              timers.add(timer);
            } else {
              statuses.set(task.task_id, {
                taskId: task.task_id,
                state: "failed",
                attempt: item.attempt,
                reason: fragment.error?.message ?? "failed",
              });
            }
          })
          .catch((err: unknown) => {
            if (err instanceof DiskFullError) {
              statuses.set(task.task_id, { taskId: task.task_id, state: "cancelled", reason: err.message, attempt: item.attempt });
              emit({ type: "task-cancelled", taskId: task.task_id, attempt: item.attempt, reason: err.message });
              run.stop(err);
              return;
            }
            // Failures of the store or the file system, not of COMPAS: the task is not
            // recorded, so it stays re-runnable; report it as failed for this submission.
            statuses.set(task.task_id, {
              taskId: task.task_id,
              state: "failed",
              attempt: item.attempt,
              reason: `the worker could not record the task: ${(err as Error).message}`,
            });
            emit({ type: "log", level: "warn", message: `task ${task.task_id}: ${(err as Error).message}` });
          })
          .finally(() => {
            active--;
            if (slotFreed) pump();
            else freeSlot();
          });
      };

      pump();
    });
  }
}
