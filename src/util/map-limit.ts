/**
 * Maps `items` through `fn` with at most `limit` calls in flight, keeping the order of the
 * results. With a signal, no new call starts once it has fired (the calls in flight finish,
 * and the unstarted items have no result).
 *
 * Hand-written rather than taken from p-map or p-limit: both are ESM-only, and the CommonJS
 * build of this package must load on Node 20 without them.
 * @param items - inputs
 * @param limit - most calls at once (at least 1)
 * @param fn - async mapper, given each item and its index
 * @param signal - stops starting new calls
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !signal?.aborted) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, Math.floor(limit)), items.length) }, worker));
  return out;
}
