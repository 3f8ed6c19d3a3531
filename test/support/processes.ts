import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** True when a process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** One stand-in process as recorded in FAKE_COMPAS_STARTED_DIR. */
export interface StandInProcess {
  pid: number;
  start: number;
  /** Undefined when the process was killed or still runs. */
  end?: number;
}

/** Reads the `<pid>.start` / `<pid>.end` files the COMPAS stand-in writes. */
export function standInProcesses(dir: string): StandInProcess[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".start"))
    .map((f) => {
      const pid = Number(f.slice(0, -".start".length));
      const endPath = join(dir, `${pid}.end`);
      return {
        pid,
        start: Number(readFileSync(join(dir, f), "utf8")),
        end: existsSync(endPath) ? Number(readFileSync(endPath, "utf8")) : undefined,
      };
    });
}

/** The largest number of recorded processes that were running at the same moment. */
export function maxOverlap(processes: StandInProcess[]): number {
  const edges = processes.flatMap((p) => [
    { t: p.start, d: 1 },
    { t: p.end ?? Number.POSITIVE_INFINITY, d: -1 },
  ]);
  // Ends sort before starts at the same instant: touching intervals do not overlap.
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let cur = 0;
  let max = 0;
  for (const e of edges) {
    cur += e.d;
    max = Math.max(max, cur);
  }
  return max;
}

/**
 * Waits until `condition` holds, checking every 25 ms, and fails after `timeoutMs`. This waits
 * for an observable state, never for a guessed duration.
 */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
