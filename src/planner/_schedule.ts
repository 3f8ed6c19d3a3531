/**
 * Wall time of running tasks of the given durations on `slots` identical slots, each task on
 * one slot, longest first onto the slot that frees up first (LPT list scheduling: within
 * 4/3 of the optimum, and exact for the usual plan of equal tasks).
 * @param durations - seconds per task
 * @param slots - tasks that can run at once (cores, vCPUs)
 */
export function makespan(durations: readonly number[], slots: number): number {
  if (durations.length === 0) return 0;
  const sorted = [...durations].sort((a, b) => b - a);
  const k = Math.max(1, Math.min(Math.floor(slots), sorted.length));
  // Min-heap of slot finish times.
  const heap = new Float64Array(k);
  let end = 0;
  for (const d of sorted) {
    const t = heap[0]! + d;
    end = Math.max(end, t);
    siftDown(heap, t);
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
