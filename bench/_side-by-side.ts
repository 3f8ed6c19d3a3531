/**
 * Timing helpers shared by the benchmarks that compare the library with a baseline run on the
 * same machine at the same time (bench/startup.ts, bench/orchestration.ts, bench/demo.ts).
 * The machine is shared, so each side is run several times, the sides take turns within each
 * repetition (a burst of load hits both alike), and the best time of each side is compared.
 * Beside wall time each side's CPU time is measured (this process and every child process it
 * waited for): on a busy machine wall time says more about the neighbours than about the code,
 * while CPU time barely moves with load.
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";

/** Times of one side, in seconds. */
export interface Timings {
  /** Wall time of every repetition, in the order run. */
  all: number[];
  best: number;
  median: number;
  /** CPU time (user + system, this process and its waited-for children) of every repetition. */
  cpuAll: number[];
  cpuBest: number;
}

/** The 1-, 5- and 15-minute load averages, for the record next to the figures. */
export function loadAverage(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
}

/**
 * CPU seconds used so far by this process and by the child processes it has waited for (and,
 * through them, their children). Linux: children's times come from /proc/self/stat, in the
 * kernel's fixed 100 ticks per second; elsewhere only this process is counted.
 */
export function cpuSeconds(): number {
  const own = process.cpuUsage();
  let children = 0;
  try {
    // Fields after "(comm)": state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
    children = (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    // Not Linux.
  }
  return (own.user + own.system) / 1e6 + children;
}

/**
 * Wall and CPU seconds one call takes.
 * @param fn - the work; awaited
 */
export async function measure(fn: () => unknown): Promise<{ wall: number; cpu: number }> {
  const cpu0 = cpuSeconds();
  const started = process.hrtime.bigint();
  await fn();
  return { wall: Number(process.hrtime.bigint() - started) / 1e9, cpu: cpuSeconds() - cpu0 };
}

/**
 * Runs every side `reps` times, taking turns, and returns the timings of each.
 * @param reps - repetitions per side (at least 1)
 * @param sides - name to work; the work is timed as a whole
 */
export async function takeTurns<K extends string>(reps: number, sides: Record<K, () => unknown>): Promise<Record<K, Timings>> {
  type Sample = { wall: number; cpu: number };
  const samples = Object.fromEntries(Object.keys(sides).map((k) => [k, [] as Sample[]])) as Record<K, Sample[]>;
  for (let r = 0; r < Math.max(1, reps); r++) {
    for (const name of Object.keys(sides) as K[]) samples[name].push(await measure(sides[name]));
  }
  return Object.fromEntries(
    Object.entries<Sample[]>(samples).map(([k, s]) => [k, timings(s.map((x) => x.wall), s.map((x) => x.cpu))]),
  ) as Record<K, Timings>;
}

function timings(all: number[], cpuAll: number[]): Timings {
  const sorted = [...all].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { all, best: sorted[0]!, median, cpuAll, cpuBest: Math.min(...cpuAll) };
}

/**
 * One line of a side-by-side table: name, best and median wall seconds, best CPU seconds, and
 * (for a measured side) the ratios of best wall and best CPU times against the baseline, with
 * the goal (which is about wall time on an idle machine).
 * @param name - what was run
 * @param t - its timings
 * @param against - the baseline's timings and the goal, if this is not the baseline
 */
export function row(name: string, t: Timings, against?: { baseline: Timings; goal: number }): string {
  const s = (x: number): string => `${x.toFixed(3)} s`;
  const base = `  ${name.padEnd(38)} wall best ${s(t.best).padStart(9)} median ${s(t.median).padStart(9)}  cpu ${s(t.cpuBest).padStart(9)}`;
  if (!against) return `${base}  (baseline)`;
  const r = t.best / against.baseline.best;
  const c = t.cpuBest / against.baseline.cpuBest;
  return `${base}  ratio ${r.toFixed(2)} wall, ${c.toFixed(2)} cpu (goal <= ${against.goal})${r <= against.goal ? "" : "  OVER GOAL"}`;
}
