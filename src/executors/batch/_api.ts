import {
  BatchClient,
  DescribeJobsCommand,
  paginateDescribeJobDefinitions,
  paginateListJobs,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
  TerminateJobCommand,
  type DescribeJobDefinitionsCommandInput,
  type DescribeJobDefinitionsCommandOutput,
  type DescribeJobsCommandOutput,
  type JobDetail,
  type JobStatus,
  type JobSummary,
  type RegisterJobDefinitionCommandInput,
  type RegisterJobDefinitionCommandOutput,
  type SubmitJobCommandInput,
  type SubmitJobCommandOutput,
} from "@aws-sdk/client-batch";
import { CompasEnsembleError } from "../../errors.js";
import { abortableDelay } from "../../util/delay.js";
import { backoffDelayMs, withRetries } from "../../util/retry.js";
import { ApiRetrySchema, isRetryableApiError, isThrottlingError, type ApiRetryOptions } from "./_backoff.js";

/** Connection settings of the Batch API client. */
export interface BatchApiOptions {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  apiRetry?: ApiRetryOptions;
  /** Told about each retried request. */
  onRetry?: (info: { operation: string; retry: number; delayMs: number; throttled: boolean }) => void;
}

/** DescribeJobs takes at most 100 ids per request. */
const DESCRIBE_BATCH = 100;

/**
 * The handful of Batch operations the executor uses, each retried with backoff and jitter;
 * errors come out as BATCH_API with the SDK's error as `cause`.
 */
export class BatchApi {
  readonly client: BatchClient;
  private readonly retry;
  private readonly onRetry: BatchApiOptions["onRetry"];

  /** @param options - region, endpoint, credentials and retry settings */
  constructor(options: BatchApiOptions) {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    this.retry = ApiRetrySchema.parse(options.apiRetry ?? {});
    this.onRetry = options.onRetry;
    this.client = new BatchClient({
      ...(options.region ? { region: options.region } : {}),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      // One layer of retries only: ours, which also covers throttling with longer waits.
      maxAttempts: 1,
    });
  }

  /**
   * Submits one job (array or single). SubmitJob has no idempotency token, so after an
   * ambiguous failure (a 5xx or a dropped connection: Batch may have created the job) the
   * job's name, unique per submission, is looked up before the request is sent again; a
   * duplicate array job would run every task twice at once. Batch lists a new job only after
   * a delay, so the lookup is repeated for `apiRetry.lookupWindowMs` before giving up on it.
   */
  submitJob(input: SubmitJobCommandInput, signal?: AbortSignal): Promise<SubmitJobCommandOutput> {
    return this.call(
      "SubmitJob",
      async () => {
        try {
          return await this.client.send(new SubmitJobCommand(input), { abortSignal: signal });
        } catch (err) {
          if (!isRetryableApiError(err) || isThrottlingError(err) || !input.jobQueue || !input.jobName) throw err;
          const found = await this.awaitJobByName(input.jobQueue, input.jobName, signal);
          if (found?.jobId) return { jobId: found.jobId, jobName: found.jobName, jobArn: found.jobArn, $metadata: {} };
          throw err;
        }
      },
      signal,
    );
  }

  /** The newest job of that name, looked up until it shows or the lookup window has passed. */
  private async awaitJobByName(jobQueue: string, jobName: string, signal?: AbortSignal): Promise<JobSummary | undefined> {
    const deadline = Date.now() + this.retry.lookupWindowMs;
    for (let lookup = 0; ; lookup++) {
      const [found] = await this.findJobsByName(jobQueue, jobName).catch(() => []);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return undefined;
      // At least the base delay between lookups, so full jitter never makes them back to back.
      await abortableDelay(Math.min(left, Math.max(this.retry.baseDelayMs, backoffDelayMs(lookup, this.retry))), signal);
    }
  }

  /** Jobs of a queue (any status) whose name is `jobName`, newest first. */
  async findJobsByName(jobQueue: string, jobName: string): Promise<JobSummary[]> {
    const out: JobSummary[] = [];
    const pages = paginateListJobs({ client: this.paged("ListJobs"), pageSize: 100 }, { jobQueue, filters: [{ name: "JOB_NAME", values: [jobName] }] });
    for await (const page of pages) out.push(...(page.jobSummaryList ?? []));
    // The filter is case-insensitive; names are compared exactly here.
    return out.filter((s) => s.jobName === jobName);
  }

  /** Describes jobs, 100 ids per request. */
  async describeJobs(jobIds: readonly string[]): Promise<JobDetail[]> {
    const out: JobDetail[] = [];
    for (let i = 0; i < jobIds.length; i += DESCRIBE_BATCH) {
      const jobs = jobIds.slice(i, i + DESCRIBE_BATCH);
      const res: DescribeJobsCommandOutput = await this.call("DescribeJobs", () => this.client.send(new DescribeJobsCommand({ jobs })));
      out.push(...(res.jobs ?? []));
    }
    return out;
  }

  /** Every child of an array job in one status (all pages). */
  async listChildren(arrayJobId: string, jobStatus: JobStatus): Promise<JobSummary[]> {
    const out: JobSummary[] = [];
    for await (const page of paginateListJobs({ client: this.paged("ListJobs"), pageSize: 1000 }, { arrayJobId, jobStatus })) out.push(...(page.jobSummaryList ?? []));
    return out;
  }

  /** Terminates a job; on an array parent this ends every child. */
  async terminateJob(jobId: string, reason: string): Promise<void> {
    await this.call("TerminateJob", () => this.client.send(new TerminateJobCommand({ jobId, reason })));
  }

  /** Registers a job definition revision. */
  registerJobDefinition(input: RegisterJobDefinitionCommandInput): Promise<RegisterJobDefinitionCommandOutput> {
    return this.call("RegisterJobDefinition", () => this.client.send(new RegisterJobDefinitionCommand(input)));
  }

  /** Job definitions matching the filter (all pages). */
  async describeJobDefinitions(input: DescribeJobDefinitionsCommandInput): Promise<NonNullable<DescribeJobDefinitionsCommandOutput["jobDefinitions"]>> {
    const out: NonNullable<DescribeJobDefinitionsCommandOutput["jobDefinitions"]> = [];
    for await (const page of paginateDescribeJobDefinitions({ client: this.paged("DescribeJobDefinitions") }, { ...input })) out.push(...(page.jobDefinitions ?? []));
    return out;
  }

  /**
   * The client the SDK's paginators get: each page's request goes through {@link BatchApi.call},
   * so it is retried and its error named like every other request.
   * @param operation - the operation's name, for messages
   */
  private paged(operation: string): BatchClient {
    const client = Object.create(this.client) as BatchClient;
    const send = (command: Parameters<BatchClient["send"]>[0], options?: Parameters<BatchClient["send"]>[1]): Promise<unknown> =>
      this.call(operation, () => this.client.send(command, options));
    client.send = send as BatchClient["send"];
    return client;
  }

  /** Closes the HTTP connections. */
  destroy(): void {
    this.client.destroy();
  }

  private async call<T>(operation: string, send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await withRetries(send, {
        retries: this.retry.maxRetries,
        baseDelayMs: this.retry.baseDelayMs,
        maxDelayMs: this.retry.maxDelayMs,
        retryable: isRetryableApiError,
        signal,
        onRetry: ({ retry, delayMs, error }) => this.onRetry?.({ operation, retry, delayMs, throttled: isThrottlingError(error) }),
      });
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      throw new CompasEnsembleError(
        "BATCH_API",
        `AWS Batch ${operation} failed${status ? ` (HTTP ${status})` : ""}: ${e.name ?? "Error"}: ${e.message ?? String(err)}`,
        {
          cause: err,
          hint: isThrottlingError(err)
            ? "Batch kept throttling after all retries; try again later or raise apiRetry.maxRetries."
            : "Check the job queue/definition names, the region and the IAM permissions listed in docs/batch-executor.md.",
        },
      );
    }
  }
}
