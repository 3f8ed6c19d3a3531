/**
 * Waits `ms`, or less if the signal aborts; never throws, so pollers check the signal
 * themselves.
 * @param ms - how long
 * @param signal - cuts the wait short
 * @returns true when the whole time passed, false when the signal cut it short
 */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
