import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { mergeChunkOutputs, mergeRunDetailsText, type MergeResult } from "../../src/hdf5/merge-chunks.js";
import { runFakeCompas } from "../support/fake-compas/index.js";
import { gunzipFixture, readColumn, snapshotH5, type ColumnSnapshot } from "../support/fake-compas/_h5-snapshot.js";

const CHUNKS = "chunks_alpha1.0_lambda0.1_Z0.0001_fa0.5_kick217";
const BSE = (g: string) => g.startsWith("BSE_");
const RD = (g: string) => g === "Run_Details";

let tmp: string;
let part1: string;
let part2: string;
let full: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "merge-chunks-"));
  part1 = gunzipFixture(`${CHUNKS}/part1_N1200_seed700000`, join(tmp, "part1"));
  part2 = gunzipFixture(`${CHUNKS}/part2_N800_seed701200`, join(tmp, "part2"));
  full = gunzipFixture(`${CHUNKS}/full_N2000_seed700000`, join(tmp, "full"));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Asserts two snapshots hold the same datasets with equal dtype, units and content. */
function expectSameColumns(actual: Map<string, ColumnSnapshot>, expected: Map<string, ColumnSnapshot>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [key, want] of expected) {
    const got = actual.get(key) as ColumnSnapshot;
    expect(got.dtype, key).toBe(want.dtype);
    expect(got.units, key).toBe(want.units);
    expect(got.shape, key).toEqual(want.shape);
    if (Buffer.isBuffer(want.data)) expect(Buffer.isBuffer(got.data) && got.data.equals(want.data), key).toBe(true);
    else expect(got.data, key).toEqual(want.data);
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => new Error("expected a rejection"),
    (e: unknown) => e,
  );
}

describe("merging real COMPAS chunks (part1 N=1200 + part2 N=800 vs full N=2000)", () => {
  let merged: string;
  let result: MergeResult;

  beforeAll(async () => {
    merged = join(tmp, "merged", "COMPAS_Output.h5");
    // Slices of 257 rows cross chunk and file boundaries at odd places.
    result = await mergeChunkOutputs([part1, part2], merged, { hdf5ChunkSize: 1000, sliceRows: 257 });
  });

  it("equals the unchunked run in every dataset of every BSE group, with dtypes, units and COMPAS's chunking", async () => {
    const got = await snapshotH5(merged, BSE);
    const want = await snapshotH5(full, BSE);
    expectSameColumns(got, want);
    for (const [key, col] of got) {
      expect(col.chunks, key).toEqual(want.get(key)?.chunks);
      expect(col.unlimited, key).toBe(true);
    }
    expect(result.rows).toEqual({
      BSE_Common_Envelopes: 979,
      BSE_Double_Compact_Objects: 12,
      BSE_RLOF: 2991,
      BSE_Supernovae: 803,
      BSE_System_Parameters: 2000,
    });
    expect(result.systems).toBe(2000);
    expect(result.chunkSize).toBe(1000);
  });

  it("combines Run_Details: counts and times summed, earliest start, latest end, everything else from the first chunk", async () => {
    const got = await snapshotH5(merged, RD);
    const first = await snapshotH5(part1, RD);
    expect([...got.keys()].sort()).toEqual([...first.keys()].sort());
    const value = async (path: string, name: string) => (await readColumn(path, `Run_Details/${name}`))[0];
    const both = async (name: string) => [await value(part1, name), await value(part2, name)] as [number | string, number | string];

    const [req1, req2] = await both("Objects-Requested");
    const [cre1, cre2] = await both("Objects-Created");
    expect(await value(merged, "Objects-Requested")).toBe(Number(req1) + Number(req2));
    expect(await value(merged, "Objects-Created")).toBe(2000);
    expect(result.objectsCreated).toBe(Number(cre1) + Number(cre2));
    expect(result.objectsRequested).toBe(2000);
    expect(await value(merged, "number-of-systems")).toBe(2000);
    const [clock1, clock2] = await both("Clock-Time");
    expect(await value(merged, "Clock-Time")).toBeCloseTo(Number(clock1) + Number(clock2), 9);
    const [start1, start2] = await both("Run-Start");
    const [end1, end2] = await both("Run-End");
    // The fixture's chunks ran side by side: part1 started with part2 but ended after it.
    const t = (s: number | string) => Date.parse(String(s).trim());
    expect(await value(merged, "Run-Start")).toBe(t(start1) <= t(start2) ? start1 : start2);
    expect(await value(merged, "Run-End")).toBe(t(end1) >= t(end2) ? end1 : end2);
    const [wall1, wall2] = (await both("Wall-Time")).map((w) => String(w).split(":").map(Number)) as [number[], number[]];
    const secs = (w: number[]) => (w[0] ?? 0) * 3600 + (w[1] ?? 0) * 60 + (w[2] ?? 0);
    const wall = String(await value(merged, "Wall-Time")).split(":").map(Number);
    expect(secs(wall)).toBe(secs(wall1) + secs(wall2));
    expect(await value(merged, "Actual-Random-Seed")).toBe(700000);

    const combined = new Set(["Objects-Requested", "Objects-Created", "number-of-systems", "Clock-Time", "Run-Start", "Run-End", "Wall-Time"]);
    for (const [key, col] of got) {
      const ref = first.get(key) as ColumnSnapshot;
      expect(col.dtype, key).toBe(ref.dtype);
      expect(col.units, key).toBe(ref.units);
      expect(col.shape, key).toEqual([1]);
      if (!combined.has(key.replace("Run_Details/", ""))) expect(col.data, key).toEqual(ref.data);
    }
  });

  it("is no larger than 1.2 times the unchunked run's file", () => {
    const fullBytes = statSync(full).size;
    expect(result.bytes).toBe(statSync(merged).size);
    expect(result.bytes).toBeLessThanOrEqual(1.2 * fullBytes);
  });

  it("merges the Run_Details text files beside the chunks", () => {
    expect(result.runDetailsTextPath).toBe(join(tmp, "merged", "Run_Details"));
    const text = readFileSync(join(tmp, "merged", "Run_Details"), "utf8");
    const t1 = readFileSync(join(tmp, "part1", "Run_Details"), "utf8");
    const t2 = readFileSync(join(tmp, "part2", "Run_Details"), "utf8");
    expect(text).toMatch(/^Generated 2000 of 2000 binaries requested$/m);
    expect(text).toMatch(/^number-of-systems = 2000, USER_SUPPLIED, SIGNED$/m);
    expect(text).toMatch(/^actual-random-seed = 700000, CALCULATED, UNSIGNED_LONG$/m);
    const stamp = (t: string, which: string) => /^(\w+) generating binaries at (.+)$/m.exec(t.slice(t.indexOf(`${which} generating`)))?.[2] ?? "";
    const pick = (which: string, better: (a: number, b: number) => boolean) => {
      const [a, b] = [stamp(t1, which), stamp(t2, which)];
      return better(Date.parse(a), Date.parse(b)) ? a : b;
    };
    expect(stamp(text, "Start")).toBe(pick("Start", (a, b) => a <= b));
    expect(stamp(text, "End")).toBe(pick("End", (a, b) => a >= b));
    const clock = (t: string) => Number(/^Clock time = (\S+) CPU seconds/m.exec(t)?.[1]);
    expect(clock(text)).toBeCloseTo(clock(t1) + clock(t2), 3);
    // Everything below the summary comes from the first chunk, except number-of-systems.
    const options = (t: string) => t.slice(t.indexOf("COMMAND LINE OPTIONS")).replace(/^number-of-systems = .*$/m, "");
    expect(options(text)).toBe(options(t1));
  });

  it("takes the chunk size from the chunks' Run_Details when none is given", async () => {
    const again = join(tmp, "merged-default", "COMPAS_Output.h5");
    const r = await mergeChunkOutputs([part1, part2], again);
    expect(r.chunkSize).toBe(1000);
    expectSameColumns(await snapshotH5(again, BSE), await snapshotH5(merged, BSE));
  });

  it("rejects chunks out of seed order, or overlapping, with PLAN_MISMATCH and leaves no output", async () => {
    const dir = join(tmp, "bad-order");
    const swapped = await rejection(mergeChunkOutputs([part2, part1], join(dir, "COMPAS_Output.h5")));
    expect(isCompasEnsembleError(swapped, "PLAN_MISMATCH")).toBe(true);
    expect((swapped as Error).message).toContain(part1);
    const twice = await rejection(mergeChunkOutputs([part1, part1], join(dir, "COMPAS_Output.h5")));
    expect(isCompasEnsembleError(twice, "PLAN_MISMATCH")).toBe(true);
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  });

  it("rejects a truncated, corrupt or missing chunk with HDF5_UNREADABLE", async () => {
    const dir = join(tmp, "unreadable");
    mkdirSync(dir, { recursive: true });
    const killed = join(dir, "killed.h5");
    const stub = Buffer.alloc(96);
    Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]).copy(stub);
    writeFileSync(killed, stub);
    const garbage = join(dir, "garbage.h5");
    writeFileSync(garbage, Buffer.alloc(4096, 7));
    for (const bad of [killed, garbage, join(dir, "missing.h5")]) {
      const err = await rejection(mergeChunkOutputs([part1, bad], join(dir, "out", "COMPAS_Output.h5")));
      expect(isCompasEnsembleError(err, "HDF5_UNREADABLE"), bad).toBe(true);
      expect((err as Error).message).toContain(bad);
    }
    expect(existsSync(join(dir, "out")) ? readdirSync(join(dir, "out")) : []).toEqual([]);
  });
});

describe("merging stand-in chunks", () => {
  const S = 31000;
  // 1 + 595 + 4 = 600 binaries: the small chunks have no DCO, so that group is missing from
  // the first and the last chunk.
  const chunks = [
    { n: 1, seed: S },
    { n: 595, seed: S + 1 },
    { n: 4, seed: S + 596 },
  ];
  const flags = [
    "--common-envelope-alpha", "2.0", "--common-envelope-lambda", "0.2", "--common-envelope-lambda-prescription", "LAMBDA_FIXED",
    "--metallicity", "0.0003", "--kick-magnitude-distribution", "MAXWELLIAN", "--kick-magnitude-sigma-CCSN-NS", "150",
    "--kick-magnitude-sigma-CCSN-BH", "150", "--rlof-printing", "TRUE", "--quiet", "TRUE",
  ];
  let dir: string;

  beforeAll(async () => {
    dir = join(tmp, "stand-in");
    const runs = await Promise.all([
      runFakeCompas(["-n", "600", "--random-seed", String(S), ...flags, "--output-path", dir, "--output-container", "full"]),
      ...chunks.map((c, i) => runFakeCompas(["-n", String(c.n), "--random-seed", String(c.seed), ...flags, "--output-path", dir, "--output-container", `c${i}`])),
    ]);
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
  });

  it("equals the stand-in's unchunked output when a group is missing from some chunks", async () => {
    const paths = chunks.map((_, i) => join(dir, `c${i}`, "COMPAS_Output.h5"));
    const groupsOf = async (p: string) => new Set([...(await snapshotH5(p, BSE)).keys()].map((k) => k.split("/")[0]));
    const [g0, g1, g2] = await Promise.all(paths.map(groupsOf));
    expect(g0?.has("BSE_Double_Compact_Objects")).toBe(false);
    expect(g1?.has("BSE_Double_Compact_Objects")).toBe(true);
    expect(g2?.has("BSE_Double_Compact_Objects")).toBe(false);

    const out = join(dir, "merged", "COMPAS_Output.h5");
    const r = await mergeChunkOutputs(paths, out, { hdf5ChunkSize: 1000 });
    const want = await snapshotH5(join(dir, "full", "COMPAS_Output.h5"), BSE);
    const got = await snapshotH5(out, BSE);
    expectSameColumns(got, want);
    for (const [key, col] of got) expect(col.chunks, key).toEqual(want.get(key)?.chunks);
    expect(r.systems).toBe(600);
    expect(r.objectsCreated).toBe(600);
    expect((await readColumn(out, "Run_Details/Actual-Random-Seed"))[0]).toBe(S);
  });
});

describe("mergeRunDetailsText", () => {
  it("refuses the empty Run_Details of a killed chunk with OUTPUT_INCOMPLETE", () => {
    const t1 = readFileSync(join(tmp, "part1", "Run_Details"), "utf8");
    let err: unknown;
    try {
      mergeRunDetailsText([t1, ""]);
    } catch (e) {
      err = e;
    }
    expect(isCompasEnsembleError(err, "OUTPUT_INCOMPLETE")).toBe(true);
  });
});
