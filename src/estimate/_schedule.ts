/** Tasks of one duration: `count` of them taking `seconds` each. */
export interface TaskGroup {
  seconds: number;
  count: number;
}

/**
 * Wall time of running tasks on `slots` identical slots, each task on one slot, longest
 * first onto the slot that frees up first (LPT list scheduling: within 4/3 of the optimum,
 * and exact for the usual plan of equal tasks). Tasks come as groups of equal duration, so
 * a plan of 10^6 tasks costs its slots, not its tasks.
 * @param groups - durations and how many tasks have each
 * @param slots - tasks that can run at once (cores, vCPUs)
 */
export function makespan(groups: readonly TaskGroup[], slots: number): number {
  const sorted = groups.filter((g) => g.count > 0).sort((a, b) => b.seconds - a.seconds);
  const total = sorted.reduce((n, g) => n + g.count, 0);
  if (total === 0) return 0;
  const k = Math.max(1, Math.min(Math.floor(slots), total));
  // Min-heap of slot finish times, and the latest of them.
  const heap = new Float64Array(k);
  let end = 0;
  for (const { seconds: d, count } of sorted) {
    let left = count;
    while (left > 0) {
      // When no slot finishes more than d after the first, the next k tasks of duration d
      // go one to each slot (each lands after all the others), so whole rounds are added
      // at once; the heap order is unchanged by adding the same time to every slot.
      if (left >= k && end - heap[0]! <= d) {
        const rounds = Math.floor(left / k);
        for (let i = 0; i < k; i++) heap[i]! += rounds * d;
        end += rounds * d;
        left -= rounds * k;
        continue;
      }
      const t = heap[0]! + d;
      end = Math.max(end, t);
      siftDown(heap, t);
      left--;
    }
  }
  return end;
}

function siftDown(heap: Float64Array, value: number): void {
  let i = 0;
  const n = heap.length;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && heap[r]! < heap[l]! ? r : l;
    if (heap[c]! >= value) break;
    heap[i] = heap[c]!;
    i = c;
  }
  heap[i] = value;
}
