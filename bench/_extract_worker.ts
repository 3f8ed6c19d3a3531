/**
 * Child process of bench/extract.ts: times extractDcos on one file in a plain Node process (no
 * tsx loader, whose on-the-fly transform of h5wasm's 4 MB glue code alone costs ~600 MB RSS),
 * and prints one JSON line with times, memory and the result's checksum.
 * Usage (after bundling): node _extract_worker.mjs FILE REPEAT
 */
import { loadH5Lib } from "../src/hdf5/h5wasm.js";
import { extractDcos } from "../src/physics/dco.js";

const [file, repeatArg] = process.argv.slice(2);
const repeat = Number(repeatArg ?? 3);
const rssBeforeLoad = process.memoryUsage().rss;
const t0 = performance.now();
const lib = await loadH5Lib();
const loadS = (performance.now() - t0) / 1000;
const rssAfterLoad = process.memoryUsage().rss;
const times: number[] = [];
let result: Awaited<ReturnType<typeof extractDcos>> | undefined;
for (let i = 0; i < repeat; i++) {
  const t = performance.now();
  result = await extractDcos(file as string);
  times.push((performance.now() - t) / 1000);
}
const t = (result as NonNullable<typeof result>).table;
const sum = (a: Float64Array) => a.reduce((x, y) => x + y, 0);
const count = (xs: string[]) => {
  const out: Record<string, number> = {};
  for (const x of xs) if (x !== "") out[x] = (out[x] ?? 0) + 1;
  return out;
};
console.log(
  JSON.stringify({
    loadS,
    times,
    rssBeforeLoad,
    rssAfterLoad,
    peakRss: process.resourceUsage().maxRSS * 1024,
    wasmHeap: lib.HEAPU8.length,
    checksum: {
      dcos: t.length,
      merging: t.merges_hubble_time.reduce((x, y) => x + y, 0),
      sum_m1: sum(t.m1),
      sum_chirp_mass: sum(t.chirp_mass),
      sum_chi_eff: sum(t.chi_eff),
      sum_chi_p: sum(t.chi_p),
      sum_tilt1: t.tilt1.reduce((x, y) => (Number.isNaN(y) ? x : x + y), 0),
      channels: count(t.channel),
      reasons: count((result as NonNullable<typeof result>).channelVReason),
      pessimistic: t.pessimistic_ce.reduce((x, y) => x + y, 0),
    },
  }),
);
