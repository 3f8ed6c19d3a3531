/**
 * Child process of bench/rates.ts: times the merger rates of the DCOs in a folder of .npy files
 * (written by bench/rates.ts) in a plain Node process, so that its peak RSS means something,
 * and prints one JSON line with times, memory and a checksum.
 * Usage (after bundling): node _rates_worker.mjs DIR REPEAT
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { combinedMergerRates, type CombinedRun } from "../src/physics/rates/combined.js";
import { mergerRates, RATE_DCO_TYPES, ratesContext, type RateDcos } from "../src/physics/rates/run-rates.js";

const [dir, repeatArg] = process.argv.slice(2) as [string, string | undefined];
const repeat = Number(repeatArg ?? 3);

/** Data of a NumPy 1.0 .npy file as a typed array of its dtype (little-endian, C order). */
function loadNpy(name: string): Float64Array | Int32Array | Uint8Array {
  const bytes = readFileSync(join(dir, name));
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString("latin1");
  const descr = /'descr': '([^']+)'/.exec(header)?.[1];
  const data = bytes.subarray(10 + headerLength);
  const copy = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  if (descr === "<f8") return new Float64Array(copy);
  if (descr === "<i4") return new Int32Array(copy);
  if (descr === "|u1") return new Uint8Array(copy);
  throw new Error(`${name}: dtype ${descr} not expected`);
}

const runIndex = loadNpy("run_index.npy") as Int32Array;
const typeCode = loadNpy("type.npy") as Uint8Array;
const delay = loadNpy("t_delay.npy") as Float64Array;
const merges = loadNpy("merges_hubble_time.npy") as Uint8Array;
const pessimistic = loadNpy("pessimistic_ce.npy") as Uint8Array;
const mass = loadNpy("star_forming_mass.npy") as Float64Array;
const metallicity = loadNpy("metallicity.npy") as Float64Array;
const group = loadNpy("group.npy") as Int32Array;
const nRuns = mass.length;

// Rows are grouped by run (as in a dataset): each run's DCOs are views, not copies.
const starts = new Int32Array(nRuns + 1);
for (let i = 0; i < runIndex.length; i++) starts[(runIndex[i] as number) + 1] = (starts[(runIndex[i] as number) + 1] as number) + 1;
for (let r = 0; r < nRuns; r++) starts[r + 1] = (starts[r + 1] as number) + (starts[r] as number);
const typeNames = Array.from(typeCode, (c) => RATE_DCO_TYPES[c] as string);
const runs: RateDcos[] = Array.from({ length: nRuns }, (_, r) => {
  const a = starts[r] as number;
  const b = starts[r + 1] as number;
  return {
    length: b - a,
    type: typeNames.slice(a, b),
    t_delay: delay.subarray(a, b),
    merges_hubble_time: merges.subarray(a, b),
    pessimistic_ce: pessimistic.subarray(a, b),
  };
});
const groups = new Map<number, number[]>();
group.forEach((g, r) => {
  if (g >= 0) groups.set(g, [...(groups.get(g) ?? []), r]);
});

const rssBefore = process.memoryUsage().rss;
const times: number[] = [];
let checksum: { per_run_sum: Record<string, number>; per_run_z0: Record<string, number[]>; combined_z0: Record<string, number>[] } | undefined;
for (let k = 0; k < repeat; k++) {
  const t0 = performance.now();
  // What the dataset does: one context, every run's single-metallicity R(z), every group's.
  const context = ratesContext();
  const perRun = runs.map((dcos, r) => mergerRates(dcos, mass[r] as number, context));
  const combined = [...groups.values()].map((members) =>
    combinedMergerRates(
      members.map((r): CombinedRun => ({ metallicity: metallicity[r] as number, starFormingMass: mass[r] as number, dcos: runs[r] as RateDcos })),
      context,
    ),
  );
  times.push((performance.now() - t0) / 1000);
  checksum = {
    per_run_sum: Object.fromEntries(RATE_DCO_TYPES.map((t) => [t, perRun.reduce((s, r) => s + r[t].reduce((a, b) => a + b, 0), 0)])),
    per_run_z0: Object.fromEntries(RATE_DCO_TYPES.map((t) => [t, perRun.map((r) => r[t][0] as number)])),
    combined_z0: combined.map((c) => Object.fromEntries(RATE_DCO_TYPES.map((t) => [t, c[t][0] as number]))),
  };
}
console.log(
  JSON.stringify({
    times,
    rssBefore,
    peakRss: process.resourceUsage().maxRSS * 1024,
    nDco: delay.length,
    nRuns,
    nGroups: groups.size,
    checksum,
  }),
);
