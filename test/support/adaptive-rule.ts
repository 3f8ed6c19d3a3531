// The stand-in's documented DCO rule (test/support/fake-compas/README.md,
// FAKE_COMPAS_DCO_PERIOD_PER_Z), restated here so that adaptive tests compute what they
// expect without the code under test: with P = max(1, round(K x Z)), the system with SEED s
// is a merging BBH when s mod P = 0.
import { expandGrid } from "../../src/grid/index.js";

export const K = 100_000;
/** The documented default seed stride between runs. */
export const STRIDE = 1_000_000_000;
/** Three points whose merging-BBH yields are 1/10, 1/100 and 1/1000. */
export const GRID = { alpha_ce: [1], lambda_ce: [0.1], kick_sigma: [217], metallicity: [0.0001, 0.001, 0.01], mass_transfer_fa: [0.5] };
export const points = expandGrid(GRID);
/** Environment that switches the rule on in the stand-in. */
export const ENV = { FAKE_COMPAS_DCO_PERIOD_PER_Z: String(K) };

/** P for metallicity z. */
export function period(z: number, k = K): number {
  return Math.max(1, Math.round(k * z));
}

/** Merging BBHs among n systems from seed `first`. */
export function mergingBbhs(first: number, n: number, p: number): number {
  return Math.floor((first + n - 1) / p) - Math.floor((first - 1) / p);
}

/** Chunks, DCOs and binaries of run k: the shortest prefix of chunks holding the target, or the cap. */
export function expectedRun(k: number, z: number, chunk: number, max: number, target: number, stride = STRIDE, kPer = K) {
  const first = k * stride;
  const limit = Math.ceil(max / chunk);
  let dcos = 0;
  for (let c = 0; c < limit; c++) {
    const n = Math.min(chunk, max - c * chunk);
    dcos += mergingBbhs(first + c * chunk, n, period(z, kPer));
    if (dcos >= target) return { chunks: c + 1, dcos, systems: Math.min(max, (c + 1) * chunk), reached: true };
  }
  return { chunks: limit, dcos, systems: max, reached: false };
}
