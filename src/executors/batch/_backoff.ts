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
