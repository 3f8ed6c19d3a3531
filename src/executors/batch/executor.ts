import type { JobDetail, JobSummary } from "@aws-sdk/client-batch";
import { z } from "zod";
import { CompasEnsembleError, isCompasEnsembleError } from "../../errors.js";
import { readHandle, writeIndexList } from "../../store/ensemble-files.js";
import { FragmentCache } from "../../store/fragments.js";
import { openStore } from "../../store/open.js";
import type { Store } from "../../store/types.js";
import type { Executor, ExecutorEvent, ExecutorHandle, SubmitContext, TaskStatus, WaitOptions } from "../types.js";
import { isTerminal } from "../types.js";
import { BatchApi } from "./_api.js";
import { abortableDelay } from "../../util/delay.js";
import { isRetryableApiError } from "./_backoff.js";
import { childTaskStatus, isBatchTerminal, type BatchChildInfo } from "./_states.js";
import { CANCEL_REASON, groupTasks, newSubmissionName, submitJobInput, type SubmissionContext } from "./_submission.js";
import { COMPAS_SHA256_TAG, assertImageCompas, declaredCompasSha256, ensureJobDefinition } from "./job-definition.js";
import { resolveBatchOptions, type BatchExecutorOptions, type ResolvedBatchExecutorOptions } from "./options.js";
import { describeZodError } from "../../util/zod-error.js";

/** One SubmitJob of a submission, as saved in the handle. */
export const BatchJobRefSchema = z.strictObject({
  job_id: z.string().min(1),
  job_name: z.string(),
  /** Index list of an array job; null for a single job. */
  index_list: z.string().nullable(),
  /** Position of the job's first task in the handle's task_ids. */
  offset: z.number().int().nonnegative(),
  size: z.number().int().positive(),
});
/** A job of a submission. */
export type BatchJobRef = z.infer<typeof BatchJobRefSchema>;

/** `handle.data` of a Batch submission: everything needed to re-attach, never a secret. */
export const BatchHandleDataSchema = z.looseObject({
  job_queue: z.string(),
  job_definition: z.string(),
  /** The ensemble's s3:// URI (plan, fragments). */
  plan_uri: z.string(),
  region: z.string().optional(),
  endpoint: z.string().optional(),
  submission: z.string(),
  attempts: z.number().int().positive(),
  jobs: z.array(BatchJobRefSchema).min(1),
  /** First attempt number per task, aligned with the handle's task_ids. */
  first_attempts: z.array(z.number().int().positive()),
});
/** Parsed handle data. */
export type BatchHandleData = z.infer<typeof BatchHandleDataSchema>;

/**
 * How long after a submission a job that DescribeJobs does not return is taken as not listed
 * yet (SUBMITTED) rather than gone: Batch's reads lag behind SubmitJob, and a job it returned
 * once and then no longer returns has expired (Batch keeps ended jobs for days, not minutes).
 */
export const VISIBILITY_GRACE_MS = 5 * 60_000;

/** Counts of one job's children per Batch status (from the parent's statusSummary). */
export interface BatchJobSummary {
  jobId: string;
  jobName: string;
  /** Parent status; undefined when Batch no longer knows the job. */
  status: string | undefined;
  size: number;
  counts: Record<string, number>;
}

interface Tracker {
  handle: ExecutorHandle;
  data: BatchHandleData;
  store: Store;
  fragments: FragmentCache;
  /** Per array job: the FAILED children listed at a given FAILED count. */
  failed: Map<string, { count: number; final: boolean; byIndex: Map<number, JobSummary> }>;
  listeners: Set<(e: ExecutorEvent) => void>;
  /** Jobs DescribeJobs has returned at least once. */
  seen: Set<string>;
  emitted: Set<string>;
  cancelledEmitted: Set<string>;
  lastCounts: Map<string, string>;
}

interface Snapshot {
  statuses: TaskStatus[];
  jobs: BatchJobSummary[];
  /** Every job has ended (or Batch no longer knows it). */
  done: boolean;
}

/**
 * Runs tasks as AWS Batch array jobs: one SubmitJob per 10,000 tasks, each child running
 * `compas-ensemble worker` with an index list stored beside the plan. Detached: the handle
 * (saved by runEnsemble in the store) lets any process follow or cancel the jobs, and the
 * fragments in S3 remain the record of what each task did.
 */
export class BatchExecutor implements Executor {
  readonly kind = "batch";
  readonly detached = true;
  private readonly options: ResolvedBatchExecutorOptions;
  private readonly raw: BatchExecutorOptions;
  private apiInstance: BatchApi | undefined;
  private jobDefinitionRef: Promise<string> | undefined;
  private readonly stores = new Map<string, Store>();
  private readonly trackers = new Map<string, Tracker>();

  /** @param options - see {@link BatchExecutorOptions} */
  constructor(options: BatchExecutorOptions = {}) {
    this.raw = options;
    this.options = resolveBatchOptions(options);
  }

  /** Options with defaults filled in (for messages and the CLI). */
  get resolvedOptions(): Readonly<ResolvedBatchExecutorOptions> {
    return this.options;
  }

  /**
   * Writes the index list(s) to the store, then submits one array job per 10,000 tasks (a
   * plain job for a single task) and returns the handle at once.
   */
  async submit(context: SubmitContext, taskIds: readonly string[]): Promise<ExecutorHandle> {
    const { plan, store } = context;
    if (context.signal?.aborted) throw new CompasEnsembleError("CANCELLED", "The Batch submission was cancelled before any job was submitted.");
    if (taskIds.length === 0) throw new CompasEnsembleError("OPTIONS_INVALID", "The Batch executor was given no tasks to submit.");
    if (!store.uri.startsWith("s3://")) {
      throw new CompasEnsembleError(
        "OPTIONS_INVALID",
        `The Batch executor needs the ensemble in S3, but the output is ${store.uri}, which containers cannot read.`,
        { hint: "Give --output s3://bucket/prefix." },
      );
    }
    const jobQueue = this.options.jobQueue;
    if (!jobQueue) throw new CompasEnsembleError("OPTIONS_INVALID", "The Batch executor needs a job queue (--job-queue).");
    const known = new Set(plan.tasks.map((t) => t.task_id));
    for (const id of taskIds) {
      if (!known.has(id)) throw new CompasEnsembleError("PLAN_MISMATCH", `Task ${id} is not in the plan of ensemble ${plan.ensemble_id}.`);
    }
    const emit = (e: ExecutorEvent): void => context.onEvent?.(e);
    // A declared build that is not the plan's is refused before a definition is registered.
    const declared = this.options.jobDefinitionSpec?.compasSha256;
    if (declared) assertImageCompas(declared, plan.compas, `for image ${this.options.jobDefinitionSpec!.image}`);
    await this.refuseWhileActive(store);
    const jobDefinition = await this.jobDefinition(emit);
    if (!declared) await this.checkImageCompas(jobDefinition, plan.compas, emit);

    const submission = newSubmissionName();
    const groups = groupTasks(taskIds, submission);
    // The lists must be in the store before any child can start and look for them.
    for (const g of groups) if (g.indexList !== null) await writeIndexList(store, g.indexList, g.taskIds);

    const ctx: SubmissionContext = {
      options: this.options,
      jobQueue,
      jobDefinition,
      ensembleId: plan.ensemble_id,
      planUri: store.uri,
      submission,
      groups: groups.length,
    };
    const jobs: BatchJobRef[] = [];
    try {
      for (const [k, g] of groups.entries()) {
        const input = submitJobInput(ctx, g, k);
        const res = await this.api().submitJob(input, context.signal);
        if (!res.jobId) throw new CompasEnsembleError("BATCH_API", `SubmitJob for ${input.jobName} returned no job id.`);
        jobs.push({ job_id: res.jobId, job_name: res.jobName ?? input.jobName!, index_list: g.indexList, offset: g.offset, size: g.size });
        emit({
          type: "log",
          level: "info",
          message: `submitted Batch ${g.indexList === null ? "job" : `array job of ${g.size}`} ${res.jobId} to ${jobQueue}`,
        });
      }
    } catch (err) {
      // Half a submission is worse than none: the caller would not know these jobs exist.
      await Promise.allSettled(jobs.map((j) => this.api().terminateJob(j.job_id, `${CANCEL_REASON}: submission failed`)));
      throw err;
    }

    const data: BatchHandleData = {
      job_queue: jobQueue,
      job_definition: jobDefinition,
      plan_uri: store.uri,
      ...(this.options.region ? { region: this.options.region } : {}),
      ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
      submission,
      attempts: this.options.retries + 1,
      jobs,
      first_attempts: taskIds.map((id) => context.firstAttempt[id] ?? 1),
    };
    const handle: ExecutorHandle = {
      kind: this.kind,
      ensemble_id: plan.ensemble_id,
      task_ids: [...taskIds],
      submitted_at: new Date().toISOString(),
      data,
    };
    this.stores.set(store.uri, store);
    const tracker = this.tracker(handle);
    if (context.onEvent) tracker.listeners.add(context.onEvent);
    return handle;
  }

  /**
   * Every task's state: one DescribeJobs for the parents, ListJobs for failed children when
   * their count changed and for running children (so this call, unlike the polls of wait(),
   * grows with the number of running children), joined with the fragments in the store.
   */
  async status(handle: ExecutorHandle): Promise<TaskStatus[]> {
    return (await this.poll(this.tracker(handle), true)).statuses;
  }

  /** Counts per Batch status of each job of the handle: one DescribeJobs call. */
  async summary(handle: ExecutorHandle): Promise<BatchJobSummary[]> {
    const data = parseHandleData(handle);
    const details = await this.api().describeJobs(data.jobs.map((j) => j.job_id));
    return data.jobs.map((j) => jobSummary(j, details.find((d) => d.jobId === j.job_id), notListedYet(handle.submitted_at, false)));
  }

  /**
   * Polls every pollIntervalMs until every job has ended, emitting task-finished for each new
   * fragment. Aborting the signal terminates the jobs, then waits for them to end.
   */
  async wait(handle: ExecutorHandle, options: WaitOptions = {}): Promise<TaskStatus[]> {
    const tracker = this.tracker(handle);
    if (options.onEvent) tracker.listeners.add(options.onEvent);
    let cancelled = false;
    try {
      for (;;) {
        let snap: Snapshot | undefined;
        try {
          snap = await this.poll(tracker, false);
        } catch (err) {
          // Throttling (or a 5xx) that outlasted one poll's retries says nothing about the
          // jobs, which keep running: waiting must not end with an error, so try next time.
          if (!isCompasEnsembleError(err, "BATCH_API") || !isRetryableApiError(err.cause)) throw err;
          for (const l of tracker.listeners) l({ type: "log", level: "warn", message: `${err.message}; trying again at the next poll` });
        }
        if (snap?.done) return snap.statuses;
        if (options.signal?.aborted && !cancelled) {
          cancelled = true;
          await this.cancel(handle);
          continue;
        }
        await abortableDelay(this.options.pollIntervalMs, cancelled ? undefined : options.signal);
      }
    } finally {
      if (options.onEvent) tracker.listeners.delete(options.onEvent);
    }
  }

  /** Terminates every job of the handle; on an array parent Batch ends all its children. */
  async cancel(handle: ExecutorHandle): Promise<void> {
    const data = parseHandleData(handle);
    const reason = `${CANCEL_REASON}: requested at ${new Date().toISOString()}`;
    for (const job of data.jobs) await this.api().terminateJob(job.job_id, reason);
  }

  /** Closes the API client's connections. */
  close(): void {
    this.apiInstance?.destroy();
    this.apiInstance = undefined;
  }

  /**
   * Refuses to submit while the jobs of the store's last Batch submission still run: their
   * tasks have no success yet, so they would be submitted again and run twice at once.
   */
  private async refuseWhileActive(store: Store): Promise<void> {
    // An unreadable handle belongs to no submission this executor could follow.
    const previous = await readHandle(store).catch(() => null);
    if (previous === null) return;
    const data = previous.kind === this.kind ? BatchHandleDataSchema.safeParse(previous.data) : undefined;
    if (!data?.success) return;
    const details = await this.api().describeJobs(data.data.jobs.map((j) => j.job_id));
    const active = details.filter((d) => !isBatchTerminal(d.status));
    // Jobs submitted moments ago may not be returned yet; they are active all the same.
    if (notListedYet(previous.submitted_at, false)) {
      for (const j of data.data.jobs) if (!details.some((d) => d.jobId === j.job_id)) active.push({ jobId: j.job_id, status: "SUBMITTED" } as JobDetail);
    }
    if (active.length === 0) return;
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `Batch job${active.length > 1 ? "s" : ""} ${active.map((d) => `${d.jobId} (${d.status})`).join(", ")} of the submission ${data.data.submission} to ${store.uri} ${active.length > 1 ? "are" : "is"} still active; submitting again would run their tasks twice.`,
      { hint: `Wait for them (compas-ensemble wait ${store.uri}) or cancel them (compas-ensemble cancel ${store.uri}) first.` },
    );
  }

  private api(): BatchApi {
    this.apiInstance ??= new BatchApi({
      region: this.options.region,
      endpoint: this.options.endpoint,
      credentials: this.raw.credentials,
      apiRetry: this.options.apiRetry,
    });
    return this.apiInstance;
  }

  private jobDefinition(emit: (e: ExecutorEvent) => void): Promise<string> {
    if (this.options.jobDefinition) return Promise.resolve(this.options.jobDefinition);
    const spec = this.options.jobDefinitionSpec;
    if (!spec) {
      return Promise.reject(
        new CompasEnsembleError("OPTIONS_INVALID", "The Batch executor needs a job definition (--job-definition) or an image to register one (--image)."),
      );
    }
    this.jobDefinitionRef ??= ensureJobDefinition(this.api(), spec).then((r) => {
      emit({ type: "log", level: "info", message: `${r.registered ? "registered" : "reusing"} Batch job definition ${r.jobDefinition}` });
      return r.jobDefinition;
    });
    // A failed lookup must not be cached: the next submission tries again.
    this.jobDefinitionRef.catch(() => (this.jobDefinitionRef = undefined));
    return this.jobDefinitionRef;
  }

  private async checkImageCompas(jobDefinition: string, planned: { version: string; sha256: string }, emit: (e: ExecutorEvent) => void): Promise<void> {
    const declared = await declaredCompasSha256(this.api(), jobDefinition);
    if (declared !== undefined) {
      assertImageCompas(declared, planned, jobDefinition);
      return;
    }
    emit({
      type: "log",
      level: "warn",
      message: `Batch job definition ${jobDefinition} declares no COMPAS sha256 (tag ${COMPAS_SHA256_TAG}), so a plan made with another build is only refused by each worker; see examples/batch/README.md to declare it.`,
    });
  }

  private tracker(handle: ExecutorHandle): Tracker {
    if (handle.kind !== this.kind) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `The handle is of a ${handle.kind} submission, not a Batch one.`);
    }
    const data = parseHandleData(handle);
    const key = `${data.submission}/${data.jobs[0]!.job_id}`;
    let tracker = this.trackers.get(key);
    if (tracker) return tracker;
    if (data.first_attempts.length !== handle.task_ids.length) {
      throw new CompasEnsembleError("METADATA_INVALID", `The Batch handle of submission ${data.submission} has ${data.first_attempts.length} first attempts for ${handle.task_ids.length} tasks.`);
    }
    const store = this.stores.get(data.plan_uri) ?? openStore(data.plan_uri, this.raw.storeOptions);
    this.stores.set(data.plan_uri, store);
    const first = new Map(handle.task_ids.map((id, i) => [id, data.first_attempts[i]!]));
    tracker = {
      handle,
      data,
      store,
      fragments: new FragmentCache(store, { ensembleId: handle.ensemble_id, submission: { taskIds: handle.task_ids, firstAttempt: first }, onReadError: "skip" }),
      failed: new Map(),
      listeners: new Set(),
      seen: new Set(),
      emitted: new Set(),
      cancelledEmitted: new Set(),
      lastCounts: new Map(),
    };
    this.trackers.set(key, tracker);
    return tracker;
  }

  private async poll(t: Tracker, listRunning: boolean): Promise<Snapshot> {
    const api = this.api();
    const details = await api.describeJobs(t.data.jobs.map((j) => j.job_id));
    const byId = new Map(details.map((d) => [d.jobId, d]));
    const fresh = await t.fragments.refresh();

    const statuses: TaskStatus[] = [];
    const jobs: BatchJobSummary[] = [];
    for (const job of t.data.jobs) {
      const detail = byId.get(job.job_id);
      if (detail) t.seen.add(job.job_id);
      const summary = jobSummary(job, detail, notListedYet(t.handle.submitted_at, t.seen.has(job.job_id)));
      jobs.push(summary);
      const terminated = detail?.isTerminated === true || detail?.isCancelled === true;
      const children = await this.childInfo(t, job, detail, summary, listRunning);
      for (let i = 0; i < job.size; i++) {
        const taskId = t.handle.task_ids[job.offset + i]!;
        statuses.push(
          childTaskStatus({
            taskId,
            where: job.index_list === null ? job.job_id : `${job.job_id}:${i}`,
            fragments: t.fragments.forTask(taskId),
            child: children.get(i) ?? {},
            jobStatus: summary.status,
            jobId: job.job_id,
            jobTerminated: terminated,
          }),
        );
      }
    }
    const done = jobs.every((j) => j.status === undefined || isBatchTerminal(j.status));
    this.emitProgress(t, fresh, statuses, jobs);
    return { statuses, jobs, done };
  }

  /** Batch's view of the children that can be named cheaply: failed ones, and running ones if asked. */
  private async childInfo(
    t: Tracker,
    job: BatchJobRef,
    detail: JobDetail | undefined,
    summary: BatchJobSummary,
    listRunning: boolean,
  ): Promise<Map<number, BatchChildInfo>> {
    const out = new Map<number, BatchChildInfo>();
    if (!detail) return out;
    if (job.index_list === null) {
      const last = detail.attempts?.at(-1);
      out.set(0, {
        status: detail.status,
        statusReason: detail.statusReason,
        exitCode: detail.container?.exitCode ?? last?.container?.exitCode,
        containerReason: detail.container?.reason ?? last?.container?.reason,
        terminated: detail.isTerminated === true || detail.isCancelled === true,
      });
      return out;
    }
    const failedCount = summary.counts.FAILED ?? 0;
    const final = isBatchTerminal(summary.status);
    let cache = t.failed.get(job.job_id);
    // ListJobs only when the number of failed children changed, plus once more when the
    // parent ends (statusSummary may lag behind): the polling cost does not grow with the grid.
    if ((failedCount > 0 && cache?.count !== failedCount) || (final && summary.status === "FAILED" && !cache?.final)) {
      const list = await this.api().listChildren(job.job_id, "FAILED");
      cache = { count: failedCount, final, byIndex: new Map(list.map((s) => [childIndex(s, job.job_id), s])) };
      t.failed.set(job.job_id, cache);
    }
    for (const [i, s] of cache?.byIndex ?? []) out.set(i, summaryInfo(s));
    if (listRunning && (summary.counts.RUNNING ?? 0) > 0) {
      for (const s of await this.api().listChildren(job.job_id, "RUNNING")) {
        const i = childIndex(s, job.job_id);
        if (!out.has(i)) out.set(i, summaryInfo(s));
      }
    }
    return out;
  }

  private emitProgress(t: Tracker, fresh: readonly { task_id: string; attempt: number }[], statuses: TaskStatus[], jobs: BatchJobSummary[]): void {
    if (t.listeners.size === 0) return;
    const emit = (e: ExecutorEvent): void => {
      for (const l of t.listeners) l(e);
    };
    const byTask = new Map(statuses.map((s) => [s.taskId, s]));
    for (const f of fresh) {
      const key = `${f.task_id}.a${f.attempt}`;
      if (t.emitted.has(key)) continue;
      t.emitted.add(key);
      const fragment = t.fragments.forTask(f.task_id).find((x) => x.attempt === f.attempt)!;
      const status = byTask.get(f.task_id);
      const used = t.fragments.forTask(f.task_id).length;
      const willRetry =
        fragment.status === "failed" && fragment.error?.retryable === true && used < t.data.attempts && !(status && isTerminal(status.state));
      emit({ type: "task-finished", taskId: f.task_id, fragment, willRetry });
    }
    for (const s of statuses) {
      if (s.state === "cancelled" && !t.cancelledEmitted.has(s.taskId)) {
        t.cancelledEmitted.add(s.taskId);
        emit({ type: "task-cancelled", taskId: s.taskId, attempt: s.attempt ?? 0, reason: s.reason ?? "cancelled" });
      }
    }
    for (const j of jobs) {
      const text = `Batch job ${j.jobId} ${j.status ?? "unknown"}: ${Object.entries(j.counts)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ")}`;
      if (t.lastCounts.get(j.jobId) !== text) {
        t.lastCounts.set(j.jobId, text);
        emit({ type: "log", level: "info", message: text });
      }
    }
  }
}

/**
 * Rebuilds a Batch executor for a saved handle (e.g. `executor/handle.json` read from the
 * store) in another process: the job queue, region and endpoint come from the handle unless
 * the options override them.
 * @param handle - a handle returned by {@link BatchExecutor.submit}
 * @param options - credentials, store options, poll interval, and any overrides
 */
export function reattachBatchExecutor(handle: ExecutorHandle, options: BatchExecutorOptions = {}): BatchExecutor {
  if (handle.kind !== "batch") {
    throw new CompasEnsembleError("OPTIONS_INVALID", `The saved handle is of a ${handle.kind} submission, not a Batch one.`);
  }
  const data = parseHandleData(handle);
  return new BatchExecutor({
    ...options,
    jobQueue: options.jobQueue ?? data.job_queue,
    ...(options.jobDefinitionSpec ? {} : { jobDefinition: options.jobDefinition ?? data.job_definition }),
    region: options.region ?? data.region,
    endpoint: options.endpoint ?? data.endpoint,
  });
}

function parseHandleData(handle: ExecutorHandle): BatchHandleData {
  const parsed = BatchHandleDataSchema.safeParse(handle.data);
  if (!parsed.success) {
    throw new CompasEnsembleError(
      "METADATA_INVALID",
      `The Batch handle is invalid (${describeZodError(parsed.error, "data")}); it was not written by this executor.`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

/**
 * @param settling - DescribeJobs left the job out, but it was submitted too recently to be
 *   gone: it counts as SUBMITTED
 */
function jobSummary(job: BatchJobRef, detail: JobDetail | undefined, settling: boolean): BatchJobSummary {
  const status = detail?.status ?? (settling ? "SUBMITTED" : undefined);
  const counts = job.index_list === null ? (status ? { [status]: 1 } : {}) : { ...(detail?.arrayProperties?.statusSummary ?? {}) };
  return { jobId: job.job_id, jobName: job.job_name, status, size: job.size, counts };
}

/** True when a job never returned by DescribeJobs was submitted within {@link VISIBILITY_GRACE_MS}. */
function notListedYet(submittedAt: string, seen: boolean, now: number = Date.now()): boolean {
  const at = Date.parse(submittedAt);
  return !seen && Number.isFinite(at) && now - at < VISIBILITY_GRACE_MS;
}

function childIndex(s: JobSummary, parentId: string): number {
  if (s.arrayProperties?.index !== undefined) return s.arrayProperties.index;
  const id = s.jobId ?? "";
  const n = id.startsWith(`${parentId}:`) ? Number(id.slice(parentId.length + 1)) : Number.NaN;
  if (!Number.isInteger(n)) throw new CompasEnsembleError("BATCH_API", `ListJobs returned child ${id}, which is not a child of array job ${parentId}.`);
  return n;
}

function summaryInfo(s: JobSummary): BatchChildInfo {
  return {
    status: s.status,
    statusReason: s.statusReason,
    exitCode: s.container?.exitCode,
    containerReason: s.container?.reason,
    terminated: s.isTerminated === true || s.isCancelled === true,
  };
}
