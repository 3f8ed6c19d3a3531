import { randomBytes } from "node:crypto";
import { abortableDelay } from "../../util/delay.js";
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { CompasEnsembleError, isCompasEnsembleError } from "../../errors.js";
import type { Fragment } from "../../manifest/schema.js";
import { LocalStore } from "../../store/local.js";
import { openStore } from "../../store/open.js";
import { writeIndexList } from "../../store/ensemble-files.js";
import { FragmentCache } from "../../store/fragments.js";
import { SLURM_LOGS_DIR, slurmCancelMarkerKey, slurmScriptKey } from "../../store/keys.js";
import { isTerminal, type Executor, type ExecutorEvent, type ExecutorHandle, type SubmitContext, type TaskState, type TaskStatus, type WaitOptions } from "../types.js";
import { maxArraySize, runSlurmCommand, slurmOrThrow } from "./_commands.js";
import { slurmHandleData, type SlurmArray, type SlurmHandleData } from "./handle.js";
import { querySlurm, slurmPhase } from "./_jobs.js";
import { batchScript } from "./_script.js";
import { combineStatus } from "./_status.js";
import { sbatchArgs, validateSlurmOptions, workerArgs, type SlurmExecutorOptions } from "./options.js";
import { EXECUTOR_DEFAULTS, withEnv } from "../options.js";

/** Consecutive failed polls (slurmctld restarting, store hiccup) that wait() rides out. */
const MAX_POLL_FAILURES = 5;
/** How long cancel() waits for Slurm to report every element ended. */
const CANCEL_SETTLE_MS = 120_000;

/**
 * Runs tasks as Slurm job arrays: one `sbatch --array` per MaxArraySize tasks, each element
 * running `compas-ensemble worker --plan <store> --index-list <name> --index $SLURM_ARRAY_TASK_ID`.
 * Detached: the jobs run on without this process, and any process can rebuild the executor
 * and follow or cancel them from the handle. Slurm says pending/running; the fragments in
 * the store say how each task ended.
 */
export class SlurmExecutor implements Executor {
  readonly kind = "slurm";
  readonly detached = true;
  private readonly options: SlurmExecutorOptions;
  private readonly caches = new Map<string, FragmentCache>();

  /** @param options - see {@link SlurmExecutorOptions} */
  constructor(options: SlurmExecutorOptions = {}) {
    validateSlurmOptions(options);
    if (options.logDir !== undefined && options.logDir.includes("%")) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `Slurm log folder ${JSON.stringify(options.logDir)} contains %, which Slurm would read as a file-name pattern; choose another folder.`);
    }
    this.options = options;
  }

  /** Writes the index lists and submits the arrays; returns once sbatch accepted them all. */
  async submit(context: SubmitContext, taskIds: readonly string[]): Promise<ExecutorHandle> {
    const { plan, store } = context;
    const known = new Set(plan.tasks.map((t) => t.task_id));
    for (const id of taskIds) {
      if (!known.has(id)) throw new CompasEnsembleError("PLAN_MISMATCH", `Task ${id} is not in the plan of ensemble ${plan.ensemble_id}.`);
    }
    if (taskIds.length === 0) throw new CompasEnsembleError("OPTIONS_INVALID", "Nothing to submit: the task list is empty.");
    this.caches.set(store.uri, new FragmentCache(store));
    const emit = (e: ExecutorEvent): void => context.onEvent?.(e);
    const env = this.env();

    const logDir = resolve(this.options.logDir ?? (store instanceof LocalStore ? join(store.root, ...SLURM_LOGS_DIR.split("/")) : process.cwd()));
    // Slurm does not create the folder of --output; a missing one loses every log silently.
    mkdirSync(logDir, { recursive: true });
    const perArray = this.options.maxArraySize ?? (await maxArraySize(env));
    if (perArray < 1) {
      throw new CompasEnsembleError("SLURM", "Job arrays are disabled on this cluster (MaxArraySize=0); the Slurm executor needs them.");
    }

    const submission = `s${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "")}-${randomBytes(3).toString("hex")}`;
    const jobName = this.options.jobName ?? `ce-${plan.ensemble_id.slice(0, 8)}`;
    const chunks: string[][] = [];
    for (let i = 0; i < taskIds.length; i += perArray) chunks.push(taskIds.slice(i, i + perArray));

    const arrays: SlurmArray[] = [];
    try {
      for (const [k, ids] of chunks.entries()) {
        if (context.signal?.aborted) throw new CompasEnsembleError("CANCELLED", "The Slurm submission was cancelled before every array was submitted.");
        const indexList = `${submission}-a${k}`;
        // The list must be in the store before the job exists: an element may start at once.
        await writeIndexList(store, indexList, ids);
        const script = batchScript({
          workerCommand: this.options.workerCommand ?? EXECUTOR_DEFAULTS.workerCommand,
          store: store.uri,
          indexList,
          workerArgs: workerArgs(this.options),
          retries: this.options.retries ?? EXECUTOR_DEFAULTS.retries,
          comment: [`compas-ensemble Slurm job: ensemble ${plan.ensemble_id}`, `submission ${submission}, array ${k + 1} of ${chunks.length} (${ids.length} tasks)`],
        });
        await store.put(slurmScriptKey(submission, k), script);
        const args = sbatchArgs(this.options, {
          size: ids.length,
          jobName,
          outputPattern: join(logDir, "slurm-%A_%a.out"),
          // A throttle holds across arrays only if each array waits for the one before.
          after: this.options.throttle !== undefined && k > 0 ? arrays[k - 1]!.job_id : undefined,
        });
        const out = await slurmOrThrow("sbatch", args, { env, input: script });
        const jobId = /^(\d+)(?:;\S+)?\s*$/.exec(out.trim().split("\n").at(-1) ?? "")?.[1];
        if (!jobId) throw new CompasEnsembleError("SLURM", `sbatch --parsable printed ${JSON.stringify(out.trim())} instead of a job id.`);
        arrays.push({ job_id: jobId, index_list: indexList, size: ids.length });
        emit({ type: "log", level: "info", message: `submitted Slurm array job ${jobId} (${ids.length} tasks, index list ${indexList})` });
      }
    } catch (err) {
      // Arrays already accepted would run without a handle to follow them: take them back.
      if (arrays.length > 0) await runSlurmCommand("scancel", arrays.map((a) => a.job_id), { env }).catch(() => undefined);
      throw err;
    }

    const firstAttempt = Object.fromEntries(taskIds.map((id) => [id, context.firstAttempt[id] ?? 1]).filter(([, n]) => n !== 1));
    const data: SlurmHandleData = {
      format: 1,
      store: store.uri,
      submission,
      arrays,
      first_attempt: firstAttempt,
      log_dir: logDir,
      ...(env.SLURM_CONF ? { slurm_conf: isAbsolute(env.SLURM_CONF) ? env.SLURM_CONF : resolve(env.SLURM_CONF) } : {}),
    };
    return { kind: this.kind, ensemble_id: plan.ensemble_id, task_ids: [...taskIds], submitted_at: new Date().toISOString(), data };
  }

  /** Each task's state: from Slurm while it knows the job, from the fragments in the store after. */
  async status(handle: ExecutorHandle): Promise<TaskStatus[]> {
    return (await this.snapshot(handle)).statuses;
  }

  /**
   * Polls every pollIntervalMs until every task is terminal, emitting task-started,
   * task-finished (one per new fragment) and task-cancelled. Aborting the signal stops
   * the waiting, not the jobs (they are detached; use cancel()).
   */
  async wait(handle: ExecutorHandle, options: WaitOptions = {}): Promise<TaskStatus[]> {
    const data = slurmHandleData(handle);
    const emit = (e: ExecutorEvent): void => options.onEvent?.(e);
    const interval = this.options.pollIntervalMs ?? EXECUTOR_DEFAULTS.pollIntervalMs.slurm;
    const reported = new Set<string>();
    const previous = new Map<string, TaskState>();
    let failures = 0;
    let last: TaskStatus[] = [];
    for (;;) {
      try {
        const { statuses, fragments } = await this.snapshot(handle);
        failures = 0;
        last = statuses;
        this.emitChanges(data, statuses, fragments, previous, reported, emit);
        if (statuses.every((s) => isTerminal(s.state))) return statuses;
      } catch (err) {
        if (!isCompasEnsembleError(err) || ++failures > MAX_POLL_FAILURES) throw err;
        emit({ type: "log", level: "warn", message: `Slurm status poll failed (${failures} of ${MAX_POLL_FAILURES} tolerated): ${err.message}` });
      }
      if (options.signal?.aborted || !(await abortableDelay(interval, options.signal))) return last;
    }
  }

  /**
   * Cancels every array of the submission with scancel and resolves once Slurm reports
   * no element pending or running (at most two minutes). A marker in the store keeps the
   * cancellation known after Slurm forgets the jobs.
   */
  async cancel(handle: ExecutorHandle): Promise<void> {
    const data = slurmHandleData(handle);
    const env = this.env(data);
    const store = this.cache(data.store).store;
    const marker = slurmCancelMarkerKey(data.submission);
    await store.put(marker, JSON.stringify({ cancelled_at: new Date().toISOString(), host: hostname(), pid: process.pid }) + "\n");
    const ids = data.arrays.map((a) => a.job_id);
    const result = await runSlurmCommand("scancel", ids, { env });
    if (result.code !== 0 && !/already completing or completed|invalid job id/i.test(result.stderr)) {
      await store.delete(marker);
      throw new CompasEnsembleError("SLURM", `scancel ${ids.join(" ")} failed (exit ${result.code}): ${result.stderr.trim().split("\n").at(-1) ?? ""}.`);
    }
    const deadline = Date.now() + CANCEL_SETTLE_MS;
    const step = Math.min(this.options.pollIntervalMs ?? EXECUTOR_DEFAULTS.pollIntervalMs.slurm, 500);
    while (Date.now() < deadline) {
      const live = (await querySlurm(ids, env)).filter((e) => ["pending", "running"].includes(slurmPhase(e.state)));
      if (live.length === 0) return;
      await abortableDelay(step);
    }
  }

  private async snapshot(handle: ExecutorHandle): Promise<{ statuses: TaskStatus[]; fragments: Fragment[] }> {
    const data = slurmHandleData(handle);
    // Slurm first, the store second: a task that ends in between shows its fragment.
    const elements = await querySlurm(data.arrays.map((a) => a.job_id), this.env(data));
    const cache = this.cache(data.store);
    await cache.refresh();
    const fragments = cache.all();
    const cancelled = await cache.store.exists(slurmCancelMarkerKey(data.submission));
    return { statuses: combineStatus({ handle, data, elements, fragments, cancelled }), fragments };
  }

  private emitChanges(
    data: SlurmHandleData,
    statuses: readonly TaskStatus[],
    fragments: readonly Fragment[],
    previous: Map<string, TaskState>,
    reported: Set<string>,
    emit: (e: ExecutorEvent) => void,
  ): void {
    const byId = new Map(statuses.map((s) => [s.taskId, s]));
    for (const f of fragments) {
      const status = byId.get(f.task_id);
      const key = `${f.task_id}.a${f.attempt}`;
      if (!status || f.attempt < (data.first_attempt[f.task_id] ?? 1) || reported.has(key)) continue;
      reported.add(key);
      emit({ type: "task-finished", taskId: f.task_id, fragment: f, willRetry: f.status === "failed" && !isTerminal(status.state) });
    }
    for (const s of statuses) {
      const before = previous.get(s.taskId);
      if (before === s.state) continue;
      previous.set(s.taskId, s.state);
      if (s.state === "running") emit({ type: "task-started", taskId: s.taskId, attempt: s.attempt ?? 1, where: s.where });
      if (s.state === "cancelled") emit({ type: "task-cancelled", taskId: s.taskId, attempt: s.attempt ?? 1, reason: s.reason ?? "cancelled" });
      if (s.state === "pending" && before === "running") {
        emit({ type: "log", level: "warn", message: `task ${s.taskId} is pending again (${s.reason ?? "requeued"}); it will run again` });
      }
    }
  }

  private cache(uri: string): FragmentCache {
    let cache = this.caches.get(uri);
    if (!cache) {
      const store = this.options.store?.uri === uri ? this.options.store : openStore(uri, this.options.storeOptions);
      cache = new FragmentCache(store);
      this.caches.set(uri, cache);
    }
    return cache;
  }

  // The handle's SLURM_CONF reaches the cluster the jobs went to; explicit options win.
  private env(data?: SlurmHandleData): NodeJS.ProcessEnv {
    return withEnv({ ...process.env, ...(data?.slurm_conf ? { SLURM_CONF: data.slurm_conf } : {}) }, this.options.env);
  }
}

/**
 * Rebuilds a Slurm executor for a saved handle (from `executor/handle.json`), e.g. in
 * another process: the handle carries the job ids, index lists, store URI and SLURM_CONF.
 * @param handle - a Slurm handle
 * @param options - executor options (pollIntervalMs, env, storeOptions for S3)
 */
export function reattachSlurmExecutor(handle: ExecutorHandle, options: SlurmExecutorOptions = {}): SlurmExecutor {
  slurmHandleData(handle);
  return new SlurmExecutor(options);
}

