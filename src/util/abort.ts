import { CompasEnsembleError } from "../errors.js";

/**
 * True for the errors Node and the AWS SDK raise when an AbortSignal fires.
 * @param err - anything caught
 */
export function isAbort(err: unknown): boolean {
  const e = err as (Error & { code?: string }) | null;
  return e?.name === "AbortError" || e?.code === "ABORT_ERR";
}

/**
 * Throws CANCELLED if the signal has fired.
 * @param signal - optional abort signal
 * @param what - what was interrupted, for the message
 */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) {
    throw new CompasEnsembleError("CANCELLED", `${what} was interrupted; run it again to resume.`, {
      cause: signal.reason,
    });
  }
}
