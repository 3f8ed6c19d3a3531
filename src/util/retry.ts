import { abortableDelay } from "./delay.js";

/** How the wait between retries grows: doubling from a base up to a cap, with optional jitter. */
export interface BackoffSchedule {
  /** Wait before the first retry (ms); it doubles for each further one. */
  baseDelayMs: number;
  /** No single wait is longer than this (ms). */
  maxDelayMs: number;
  /**
   * `full` (default): a uniform draw between 0 and the doubled wait, so that many clients
   * that failed together spread out; `equal`: between half of it and all of it; `none`:
   * exactly the doubled wait.
   */
  jitter?: "full" | "equal" | "none";
}

/**
 * The wait before retry number `retry` (0-based): min(maxDelayMs, baseDelayMs * 2^retry),
 * jittered as the schedule says. The one backoff formula of this package: API calls, S3
 * bodies and task retries all use it.
 * @param retry - how many retries were already made
 * @param schedule - base, cap and jitter
 * @param random - uniform [0, 1) source (injectable for tests)
 */
export function backoffDelayMs(retry: number, schedule: BackoffSchedule, random: () => number = Math.random): number {
  const ceiling = Math.min(schedule.maxDelayMs, schedule.baseDelayMs * 2 ** retry);
  switch (schedule.jitter ?? "full") {
    case "none":
      return ceiling;
    case "equal":
      return ceiling * (0.5 + random() / 2);
    case "full":
      return Math.floor(random() * ceiling);
  }
}

/** Options of {@link withRetries}. */
export interface RetryOptions extends BackoffSchedule {
  /** Retries after the first try. */
  retries: number;
  /** Whether a failure may pass on another try. */
  retryable: (error: unknown) => boolean;
  /** Stops retrying (the last error is thrown). */
  signal?: AbortSignal;
  /** Told about each retry (for logs and tests). */
  onRetry?: (info: { retry: number; delayMs: number; error: unknown }) => void;
  /** Uniform [0, 1) source for the jitter (injectable for tests). */
  random?: () => number;
}

/**
 * Runs `call`, retrying failures that {@link RetryOptions.retryable} accepts after the waits of
 * {@link backoffDelayMs}; the last error is thrown as it is once the retries are used up,
 * when it is not retryable, or when the signal has fired.
 * @param call - one try
 * @param options - retries, schedule, which errors, abort signal and hooks
 */
export async function withRetries<T>(call: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await call();
    } catch (error) {
      if (retry >= options.retries || !options.retryable(error) || options.signal?.aborted) throw error;
      const delayMs = backoffDelayMs(retry, options, options.random);
      options.onRetry?.({ retry: retry + 1, delayMs, error });
      await abortableDelay(delayMs, options.signal);
    }
  }
}
