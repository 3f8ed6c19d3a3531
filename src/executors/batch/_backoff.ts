import { abortableDelay } from "../../util/delay.js";
import { z } from "zod";

/** How Batch API calls are retried; every field has a default. */
export const ApiRetrySchema = z.strictObject({
  /** Retries after the first try (throttling, 5xx, network errors). Default 8. */
  maxRetries: z.number().int().min(0).max(20).default(8),
  /** Ceiling of the first retry's delay; it doubles for each further retry. Default 500 ms. */
  baseDelayMs: z.number().min(0).default(500),
  /** No single wait is longer than this. Default 20 s. */
  maxDelayMs: z.number().min(0).default(20_000),
  /**
   * After an ambiguous SubmitJob failure (a 5xx or a dropped connection: the job may exist),
   * how long to keep looking the job up by name before sending it again. Batch lists a new
   * job only after a delay, so one lookup is not enough. Default 60 s.
   */
  lookupWindowMs: z.number().min(0).default(60_000),
});
/** Retry settings of the Batch API wrapper (input form, all optional). */
export type ApiRetryOptions = z.input<typeof ApiRetrySchema>;

const THROTTLING_NAMES = new Set([
  "ThrottlingException",
  "Throttling",
  "ThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "ProvisionedThroughputExceededException",
  "SlowDown",
]);
const TRANSIENT_NAMES = new Set(["ServerException", "InternalFailure", "ServiceUnavailable", "RequestTimeout", "TimeoutError"]);
const TRANSIENT_NET_CODES = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNREFUSED", "EAI_AGAIN", "ENOTFOUND"]);

interface SdkLikeError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

/**
 * True when AWS asked us to slow down: HTTP 429, or a throttling error name such as
 * ThrottlingException or TooManyRequestsException.
 * @param err - anything an SDK call threw
 */
export function isThrottlingError(err: unknown): boolean {
  const e = err as SdkLikeError | null;
  if (!e || typeof e !== "object") return false;
  return e.$metadata?.httpStatusCode === 429 || THROTTLING_NAMES.has(e.name ?? "") || e.$retryable?.throttling === true;
}

/**
 * True when a retry may succeed: throttling, a 5xx answer, or a dropped connection.
 * Client errors (bad input, missing permission) are not retried.
 * @param err - anything an SDK call threw
 */
export function isRetryableApiError(err: unknown): boolean {
  if (isThrottlingError(err)) return true;
  const e = err as SdkLikeError | null;
  if (!e || typeof e !== "object") return false;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  return TRANSIENT_NAMES.has(e.name ?? "") || TRANSIENT_NET_CODES.has(e.code ?? "");
}

/**
 * Delay before retry number `retry` (0-based): "full jitter", a uniform draw between 0 and
 * min(maxDelayMs, baseDelayMs * 2^retry), so that many throttled clients spread out.
 * @param retry - how many retries were already made
 * @param options - base and cap
 * @param random - uniform [0, 1) source (injectable for tests)
 */
export function backoffDelayMs(
  retry: number,
  options: { baseDelayMs: number; maxDelayMs: number },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/** What {@link withBackoff} needs besides the call. */
export interface BackoffContext {
  retry: z.output<typeof ApiRetrySchema>;
  signal?: AbortSignal;
  /** Told about each retry (for logs and tests). */
  onRetry?: (info: { retry: number; delayMs: number; error: unknown }) => void;
  random?: () => number;
}

/**
 * Runs `call`, retrying retryable errors with exponential backoff and full jitter; the last
 * error is thrown as is once the retries are used up or when it is not retryable.
 * @param call - one API request
 * @param context - retry settings, abort signal and hooks
 */
export async function withBackoff<T>(call: () => Promise<T>, context: BackoffContext): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await call();
    } catch (error) {
      if (retry >= context.retry.maxRetries || !isRetryableApiError(error) || context.signal?.aborted) throw error;
      const delayMs = backoffDelayMs(retry, context.retry, context.random);
      context.onRetry?.({ retry: retry + 1, delayMs, error });
      await abortableDelay(delayMs, context.signal);
    }
  }
}
