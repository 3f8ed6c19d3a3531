import { CompasEnsembleError } from "../errors.js";

/**
 * How one Run_Details entry of the chunks combines into the merged run's. Entries not listed
 * are taken from the first chunk (options and Actual-Random-Seed are the same or belong to
 * the first chunk, whose seed is the run's base seed).
 */
export type RunDetailsRule = "sum" | "earliest" | "latest" | "sumWallTime";

/**
 * Combination rules by Run_Details name. `number-of-systems` is summed too, so that the
 * merged file describes the whole run (N systems), consistent with Objects-Requested.
 */
export const RUN_DETAILS_RULES: Readonly<Record<string, RunDetailsRule>> = {
  "Objects-Requested": "sum",
  "Objects-Created": "sum",
  "number-of-systems": "sum",
  "Clock-Time": "sum",
  "Run-Start": "earliest",
  "Run-End": "latest",
  "Wall-Time": "sumWallTime",
};

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * Orders COMPAS's asctime() stamps ("Sat Nov 28 12:53:15 2026"). The value is only compared,
 * never shown, so the time zone does not matter (all chunks of a run share one).
 * @param stamp - the stamp, possibly with COMPAS's trailing newline
 */
export function parseAsctime(stamp: string): number {
  const m = /^\s*\w{3}\s+(\w{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(\d{4})/.exec(stamp);
  const month = m ? MONTHS.indexOf(m[1] ?? "") : -1;
  if (!m || month < 0) {
    throw new CompasEnsembleError("HDF5_UNREADABLE", `Run_Details time stamp "${stamp.trim()}" is not in COMPAS's "Sat Nov 28 12:53:15 2026" format.`, {
      hint: "The chunk was not written by COMPAS, or its Run_Details is damaged; rerun that chunk.",
    });
  }
  return Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
}

/** Seconds in COMPAS's "hhhh:mm:ss" wall time. */
export function parseWallTime(text: string): number {
  const m = /^\s*(\d+):(\d{2}):(\d{2})/.exec(text);
  if (!m) {
    throw new CompasEnsembleError("HDF5_UNREADABLE", `Run_Details wall time "${text.trim()}" is not in COMPAS's hhhh:mm:ss format.`, {
      hint: "The chunk was not written by COMPAS, or its Run_Details is damaged; rerun that chunk.",
    });
  }
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
}

/** Formats seconds as COMPAS's "hhhh:mm:ss". */
export function formatWallTime(seconds: number): string {
  const s = Math.round(seconds);
  const pad = (n: number, w: number) => String(n).padStart(w, "0");
  return `${pad(Math.floor(s / 3600), 4)}:${pad(Math.floor((s % 3600) / 60), 2)}:${pad(s % 60, 2)}`;
}

/** COMPAS prints CPU seconds with C++'s default six significant digits. */
function formatClock(seconds: number): string {
  return String(Number(seconds.toPrecision(6)));
}

/**
 * Combines one Run_Details value of all chunks (first chunk first) by `rule`.
 * @param rule - combination rule
 * @param values - the chunks' values, numbers for numeric datasets, strings otherwise
 */
export function combineRunDetail(rule: RunDetailsRule, values: (number | bigint | string)[]): number | bigint | string {
  const first = values[0];
  if (first === undefined) throw new CompasEnsembleError("OPTIONS_INVALID", "Run_Details values of no chunk cannot be combined; pass the values of at least one chunk.");
  switch (rule) {
    case "sum":
      if (typeof first === "bigint") return values.reduce<bigint>((s, v) => s + BigInt(v), 0n);
      return values.reduce<number>((s, v) => s + Number(v), 0);
    case "earliest":
    case "latest": {
      const stamps = values.map(String);
      let best = stamps[0] as string;
      for (const s of stamps) {
        const better = rule === "earliest" ? parseAsctime(s) < parseAsctime(best) : parseAsctime(s) > parseAsctime(best);
        if (better) best = s;
      }
      return best;
    }
    case "sumWallTime":
      return formatWallTime(values.reduce<number>((s, v) => s + parseWallTime(String(v)), 0));
  }
}

interface TextFacts {
  generated: number;
  requested: number;
  start: string;
  end: string;
  clock: number;
  wall: string;
  systems: number | null;
}

function textFacts(text: string, index: number): TextFacts {
  const bad = (what: string) =>
    new CompasEnsembleError("OUTPUT_INCOMPLETE", `Run_Details text of chunk ${index} has no ${what} line; the chunk did not finish.`, {
      hint: "Rerun that chunk: a killed COMPAS leaves an empty Run_Details file.",
    });
  const gen = /^Generated (\d+) of (\d+) binaries requested\s*$/m.exec(text);
  const start = /^Start generating binaries at (.+)$/m.exec(text);
  const end = /^End generating binaries at (.+)$/m.exec(text);
  const clock = /^Clock time = (\S+) CPU seconds\s*$/m.exec(text);
  const wall = /^Wall time\s+= (\d+:\d{2}:\d{2})/m.exec(text);
  const systems = /^number-of-systems = (\d+),/m.exec(text);
  if (!gen) throw bad("'Generated N of N binaries requested'");
  if (!start || !end) throw bad("start or end time");
  if (!clock || !wall) throw bad("clock or wall time");
  return {
    generated: Number(gen[1]),
    requested: Number(gen[2]),
    start: (start[1] ?? "").trim(),
    end: (end[1] ?? "").trim(),
    clock: Number(clock[1]),
    wall: wall[1] ?? "",
    systems: systems ? Number(systems[1]) : null,
  };
}

/**
 * Merges the Run_Details text files of a run's chunks (first chunk first) into the text of
 * the whole run, with the same rules as the HDF5 Run_Details group: binaries generated and
 * requested, number-of-systems, clock and wall time summed; start the earliest, end the
 * latest; everything else (options, actual-random-seed) as in the first chunk.
 * @param texts - contents of each chunk's Run_Details file, in seed order
 * @returns the merged file's content
 */
export function mergeRunDetailsText(texts: readonly string[]): string {
  if (texts.length === 0) {
    throw new CompasEnsembleError("OPTIONS_INVALID", "mergeRunDetailsText was given no Run_Details texts; pass one per chunk.");
  }
  const facts = texts.map((t, i) => textFacts(t, i));
  const first = facts[0] as TextFacts;
  const sum = (f: (x: TextFacts) => number) => facts.reduce((s, x) => s + f(x), 0);
  const start = combineRunDetail("earliest", facts.map((f) => f.start)) as string;
  const end = combineRunDetail("latest", facts.map((f) => f.end)) as string;
  const wall = combineRunDetail("sumWallTime", facts.map((f) => f.wall)) as string;
  let text = texts[0] as string;
  text = text
    .replace(/^Generated \d+ of \d+ binaries requested/m, `Generated ${sum((f) => f.generated)} of ${sum((f) => f.requested)} binaries requested`)
    .replace(/^Start generating binaries at .+$/m, `Start generating binaries at ${start}`)
    .replace(/^End generating binaries at .+$/m, `End generating binaries at ${end}`)
    .replace(/^Clock time = \S+ CPU seconds/m, `Clock time = ${formatClock(sum((f) => f.clock))} CPU seconds`)
    .replace(/^(Wall time\s+= )\d+:\d{2}:\d{2}/m, `$1${wall}`);
  if (first.systems !== null && facts.every((f) => f.systems !== null)) {
    text = text.replace(/^number-of-systems = \d+,/m, `number-of-systems = ${sum((f) => f.systems ?? 0)},`);
  }
  return text;
}
