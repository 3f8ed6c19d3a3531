import { randomBytes } from "node:crypto";
import type { RetryStrategy, SubmitJobCommandInput } from "@aws-sdk/client-batch";
import { WORKER_EXIT } from "../../worker/main.js";
import { BATCH_LIMITS, type ResolvedBatchExecutorOptions } from "./options.js";
import { timeoutSeconds } from "../options.js";

/** Reason given to TerminateJob by cancel(); children's reasons starting with it mean "cancelled". */
export const CANCEL_REASON = "compas-ensemble cancel";
/** How Batch reports a Spot reclaim (or any lost host) in a job's statusReason. */
export const HOST_LOST_PREFIX = "Host EC2";
/** Tag keys set on every job. */
export const TAG_ENSEMBLE = "compas-ensemble:ensemble-id";
export const TAG_SUBMISSION = "compas-ensemble:submission";
/** Extra seconds Batch waits past the worker's own COMPAS timeout (upload, start-up). */
export const BATCH_TIMEOUT_MARGIN_S = 600;

/** One SubmitJob: an array of `size` children (or one plain job when size is 1). */
export interface JobGroup {
  /** Position of its first task in the handle's task_ids. */
  offset: number;
  size: number;
  /** Index list name for arrays; null for a single job (which gets --task). */
  indexList: string | null;
  taskIds: string[];
}

/**
 * A fresh name for a submission: its index lists and job names carry it, so a resubmission
 * of the missing tasks never reuses (and never overwrites) an earlier index list.
 * @param now - clock (injectable for tests)
 */
export function newSubmissionName(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `s${stamp}-${randomBytes(3).toString("hex")}`;
}

/**
 * Splits tasks into SubmitJob groups of at most 10,000 (Batch's array limit); a group of
 * one task is a plain job, since arrays start at size 2.
 * @param taskIds - tasks in submission order
 * @param submission - the submission's name (index lists are named after it)
 * @param maxSize - largest array (Batch's 10,000 unless testing)
 */
export function groupTasks(taskIds: readonly string[], submission: string, maxSize: number = BATCH_LIMITS.maxArraySize): JobGroup[] {
  const groups: JobGroup[] = [];
  const many = taskIds.length > maxSize;
  for (let offset = 0, k = 0; offset < taskIds.length; offset += maxSize, k++) {
    const ids = taskIds.slice(offset, offset + maxSize);
    groups.push({ offset, size: ids.length, indexList: ids.length === 1 ? null : many ? `${submission}-${k}` : submission, taskIds: ids });
  }
  return groups;
}

/**
 * Retry rules for every child: retry a lost host (Spot reclaim) and the worker's retryable
 * exit code, stop on anything else; a rule must catch the rest, since Batch retries jobs
 * that no rule matches.
 * @param attempts - attempts per child (1-10)
 */
export function retryStrategy(attempts: number): RetryStrategy {
  return {
    attempts,
    evaluateOnExit: [
      { onStatusReason: `${HOST_LOST_PREFIX}*`, action: "RETRY" },
      { onExitCode: String(WORKER_EXIT.retryable), action: "RETRY" },
      { onReason: "*", action: "EXIT" },
    ],
  };
}

/**
 * The container command of a group: the worker with the plan's URI and either the index
 * list (arrays: the child's AWS_BATCH_JOB_ARRAY_INDEX picks the task) or the task id.
 * @param options - executor options
 * @param planUri - the ensemble's s3:// URI
 * @param group - what the job runs
 */
export function workerCommand(options: ResolvedBatchExecutorOptions, planUri: string, group: JobGroup): string[] {
  const select = group.indexList === null ? ["--task", group.taskIds[0]!] : ["--index-list", group.indexList];
  return [
    ...options.workerCommand,
    "worker",
    "--plan",
    planUri,
    ...select,
    ...(options.compasBinary ? ["--compas-binary", options.compasBinary] : []),
    ...(options.scratchDir ? ["--scratch", options.scratchDir] : []),
    ...(options.taskTimeoutMs ? ["--task-timeout", String(timeoutSeconds(options.taskTimeoutMs))] : []),
  ];
}

/** What {@link submitJobInput} needs to know about the submission. */
export interface SubmissionContext {
  options: ResolvedBatchExecutorOptions;
  jobQueue: string;
  jobDefinition: string;
  ensembleId: string;
  planUri: string;
  submission: string;
  /** Number of groups in this submission (names get a suffix when there are several). */
  groups: number;
}

/**
 * The SubmitJob request of one group: array properties, command, retry rules, timeout,
 * tags with the ensemble id (propagated to the ECS tasks) and the extra environment.
 * @param ctx - submission-wide settings
 * @param group - the tasks of this job
 * @param k - the group's position (job name suffix)
 */
export function submitJobInput(ctx: SubmissionContext, group: JobGroup, k: number): SubmitJobCommandInput {
  const { options } = ctx;
  const environment = Object.entries(options.env).map(([name, value]) => ({ name, value }));
  const name = `${options.jobNamePrefix}-${ctx.ensembleId.slice(0, 12)}-${ctx.submission}${ctx.groups > 1 ? `-${k}` : ""}`;
  return {
    jobName: name.slice(0, 128),
    jobQueue: ctx.jobQueue,
    jobDefinition: ctx.jobDefinition,
    ...(group.indexList !== null ? { arrayProperties: { size: group.size } } : {}),
    containerOverrides: {
      command: workerCommand(options, ctx.planUri, group),
      ...(environment.length > 0 ? { environment } : {}),
    },
    retryStrategy: retryStrategy(options.retries + 1),
    ...(options.taskTimeoutMs
      ? { timeout: { attemptDurationSeconds: Math.max(BATCH_LIMITS.minTimeoutSeconds, timeoutSeconds(options.taskTimeoutMs) + BATCH_TIMEOUT_MARGIN_S) } }
      : {}),
    tags: { ...options.tags, [TAG_ENSEMBLE]: ctx.ensembleId, [TAG_SUBMISSION]: ctx.submission },
    propagateTags: true,
  };
}
