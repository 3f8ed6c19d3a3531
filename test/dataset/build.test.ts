import { createHash } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { parquetReadObjects } from "hyparquet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { buildSbiDataset } from "../../src/dataset/build.js";
import { extractCommand } from "../../src/cli/extract-command.js";
import { parseSpinModelFlag } from "../../src/cli/spin-model-flag.js";
import { SBI_DCO_COLUMNS, type SbiDataset } from "../../src/dataset/types.js";
import { writeFragment } from "../../src/store/fragments.js";
import { writeManifest, writePlan } from "../../src/store/ensemble-files.js";
import { mergeMetadata } from "../../src/manifest/merge.js";
import type { Plan } from "../../src/plan/schema.js";
import { makeFragment, makePlan } from "../manifest/_fixtures.js";
import { FIXTURE_ROOT } from "../support/fixtures.js";
import { flipDcoMassBit } from "../support/compas-fixtures.js";
import { runPython } from "./dataset-helpers.js";

const FIXTURES = FIXTURE_ROOT;
const RUN_A = "alpha0.1_lambda0.1_Z0.0001_fa0.5_kick217_N5000_seed100000";
const RUN_B = "alpha5.0_lambda0.5_Z0.0142_fa0.5_kick217_N10000_seed200000";

async function gunzip(from: string, to: string): Promise<void> {
  mkdirSync(join(to, ".."), { recursive: true });
  await pipeline(createReadStream(from), createGunzip(), createWriteStream(to));
}

const params = (alpha: number, lambda: number, z: number) => ({
  alpha_ce: alpha,
  lambda_ce: lambda,
  kick_sigma: 217,
  metallicity: z,
  mass_transfer_fa: 0.5,
});

// Counts from the fixtures README, compared with what h5py finds in /dco and /x.
const H5PY_SUMMARY = `
import json, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
d = f["dco"]
ri = d["run_index"][()]
types = d["type"].asstr()[()]
merging = d["merges_hubble_time"][()]
out = {"theta_shape": list(f["theta"].shape), "x_shape": list(f["x"].shape), "run_id": list(f["runs/run_id"].asstr()[()]),
       "per_run": [], "x_columns": [str(c) for c in f["x"].attrs["columns"]], "x": f["x"][()].tolist()}
for r in range(f["theta"].shape[0]):
    sel = ri == r
    out["per_run"].append({"n": int(sel.sum()), "merging": int(merging[sel].sum()),
        "types": {t: int((types[sel] == t).sum()) for t in ("BBH", "BHNS", "BNS")}})
print(json.dumps(out))
`;

interface Counts {
  theta_shape: number[];
  x_shape: number[];
  run_id: string[];
  per_run: { n: number; merging: number; types: Record<string, number> }[];
  x_columns: string[];
  x: number[][];
}

describe("buildSbiDataset on the real fixtures", () => {
  let dir: string;
  let dataset: SbiDataset;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sbi-e2e-"));
    // Run A sits where the manifest says (absolute); run B only at the store layout's place,
    // behind a stale absolute path like the predecessor's.
    await gunzip(join(FIXTURES, RUN_A, "COMPAS_Output", "COMPAS_Output.h5.gz"), join(dir, "elsewhere", "a.h5"));
    await gunzip(
      join(FIXTURES, RUN_B, "COMPAS_Output", "COMPAS_Output.h5.gz"),
      join(dir, "runs", "run_b", "COMPAS_Output", "COMPAS_Output.h5"),
    );
    const manifest = {
      creation_time: "2025-11-26T06:00:00",
      compas_binary: "/opt/COMPAS/bin/COMPAS",
      n_systems_per_run: 5000,
      runs: [
        {
          run_id: "run_a",
          params: { ...params(0.1, 0.1, 0.0001), run_id: "run_a" },
          output_file: join(dir, "elsewhere", "a.h5"),
          status: "success",
          timestamp: "2025-11-26T06:10:00",
        },
        {
          run_id: "run_failed",
          params: { ...params(1, 0.1, 0.0001), run_id: "run_failed" },
          output_file: "/nowhere/run_failed.h5",
          status: "failed",
          timestamp: "2025-11-26T06:11:00",
          error: "COMPAS exited 1",
        },
        {
          run_id: "run_b",
          params: { ...params(5, 0.5, 0.0142), run_id: "run_b" },
          output_file: "/home/predecessor/ensemble/runs/run_b/COMPAS_Output/COMPAS_Output.h5",
          status: "success",
          timestamp: "2025-11-26T06:12:00",
          n_systems: 10000,
        },
      ],
    };
    writeFileSync(join(dir, "ensemble_metadata.json"), JSON.stringify(manifest));
    dataset = await buildSbiDataset(dir, { libraryVersion: "1.2.3" });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("takes every successful run, with theta in the parameter order", () => {
    expect(dataset.runIds).toEqual(["run_a", "run_b"]);
    expect(dataset.nSystems).toEqual([5000, 10000]);
    expect(dataset.thetaColumns).toEqual(["alpha_ce", "lambda_ce", "kick_sigma", "metallicity", "mass_transfer_fa"]);
    expect(dataset.theta.map((r) => Array.from(r))).toEqual([
      [0.1, 0.1, 217, 0.0001, 0.5],
      [5, 0.5, 217, 0.0142, 0.5],
    ]);
    expect(dataset.provenance.failed_run_ids).toEqual(["run_failed"]);
    expect(dataset.provenance.library_version).toBe("1.2.3");
    expect(dataset.provenance.source).toBe(join(dir, "ensemble_metadata.json"));
  });

  it("stacks 23 and 33 DCOs with their run index, and x matches the fixtures' counts", () => {
    expect(dataset.dco.length).toBe(56);
    expect(Array.from(dataset.dco.run_index).filter((r) => r === 0)).toHaveLength(23);
    expect(Array.from(dataset.dco.run_index).filter((r) => r === 1)).toHaveLength(33);
    const x = (run: number, c: string) => dataset.x[run]![dataset.xColumns.indexOf(c)]!;
    expect(x(0, "yield_BBH") * 5000).toBeCloseTo(22, 9);
    expect(x(0, "yield_BHNS") * 5000).toBeCloseTo(1, 9);
    expect(x(0, "yield_BBH_merging") * 5000).toBeCloseTo(7, 9);
    expect(x(1, "yield_BBH") * 10000).toBeCloseTo(12, 9);
    expect(x(1, "yield_BHNS") * 10000).toBeCloseTo(5, 9);
    expect(x(1, "yield_BNS") * 10000).toBeCloseTo(16, 9);
    expect(x(1, "yield_BBH_merging") * 10000).toBeCloseTo(5, 9);
    expect(x(1, "yield_BHNS_merging") * 10000).toBeCloseTo(1, 9);
    expect(x(1, "yield_BNS_merging") * 10000).toBeCloseTo(7, 9);
    // Run B was made without --rlof-printing: every channel unknown.
    expect(x(1, "frac_channel_unknown")).toBe(1);
    expect(x(0, "frac_channel_unknown")).toBe(0);
  });

  it("writes HDF5 that h5py reads back with the same counts", async () => {
    const out = join(dir, "out", "sbi.h5");
    const result = await extractCommand({ source: join(dir, "ensemble_metadata.json"), out, libraryVersion: "1.2.3" });
    expect(result).toMatchObject({ format: "h5", paths: [out], nRuns: 2, nDco: 56, xLength: 61, failedRunIds: ["run_failed"] });
    expect(result.warnings.some((w) => w.startsWith("run_b:") && w.includes("--rlof-printing"))).toBe(true);
    const got = runPython(H5PY_SUMMARY, [out]) as Counts;
    expect(got.theta_shape).toEqual([2, 5]);
    expect(got.x_shape).toEqual([2, 61]);
    expect(got.run_id).toEqual(["run_a", "run_b"]);
    expect(got.per_run).toEqual([
      { n: 23, merging: 7, types: { BBH: 22, BHNS: 1, BNS: 0 } },
      { n: 33, merging: 13, types: { BBH: 12, BHNS: 5, BNS: 16 } },
    ]);
    expect(got.x).toEqual(dataset.x.map((r) => Array.from(r)));
  });

  it("keeps only merging DCOs with --merging-only, leaving x unchanged", async () => {
    const out = join(dir, "merging.parquet");
    const result = await extractCommand({ source: dir, out, mergingOnly: true });
    expect(result.format).toBe("parquet");
    expect(result.nDco).toBe(20);
    const buf = readFileSync(out);
    const rows = await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer });
    expect(rows).toHaveLength(20);
    expect(rows.every((r) => r.merges_hubble_time === 1)).toBe(true);
    expect(rows.filter((r) => r.run_id === "run_a")).toHaveLength(7);
    expect(rows.filter((r) => r.alpha_ce === 5)).toHaveLength(13);
    const runsBuf = readFileSync(join(dir, "merging.runs.parquet"));
    const runs = await parquetReadObjects({
      file: runsBuf.buffer.slice(runsBuf.byteOffset, runsBuf.byteOffset + runsBuf.byteLength) as ArrayBuffer,
    });
    expect(runs.map((r) => dataset.xColumns.map((c) => r[c]))).toEqual(dataset.x.map((r) => Array.from(r)));
  });

  it("records the chosen spin model and changes the spins with it", async () => {
    const fixed = await buildSbiDataset(dir, { spinModel: parseSpinModelFlag("fixed:0.5") });
    expect(fixed.spinModel.name).toBe("fixed");
    expect(fixed.spinModel.params).toEqual({ chi: 0.5 });
    const bh = fixed.dco.type.map((t, i) => [t, fixed.dco.chi1[i]] as const).filter(([t]) => t === "BBH");
    expect(bh.every(([, chi]) => chi === 0.5)).toBe(true);
    expect(dataset.spinModel.name).toBe("bavera2021");
  });

  it("writes .npy files that numpy loads with the DCO count", async () => {
    const out = join(dir, "npy");
    await extractCommand({ source: dir, out, format: "npy" });
    const got = runPython(
      `import json, sys, numpy as np, os
d = sys.argv[1]
print(json.dumps({"theta": list(np.load(os.path.join(d, "theta.npy")).shape),
                  "cols": sorted(n for n in os.listdir(d) if n.startswith("dco_")),
                  "types": np.load(os.path.join(d, "dco_type.npy")).tolist()}))`,
      [out],
    ) as { theta: number[]; cols: string[]; types: string[] };
    expect(got.theta).toEqual([2, 5]);
    expect(got.cols).toEqual([...SBI_DCO_COLUMNS, "rate_z0"].map((c) => `dco_${c}.npy`).sort());
    expect(got.types).toHaveLength(56);
    expect(got.types.filter((t) => t === "BNS")).toHaveLength(16);
  });

  it("rejects an unknown --format with OPTIONS_INVALID before reading anything", async () => {
    const err = await extractCommand({ source: "/does/not/exist", out: join(dir, "x.csv"), format: "csv" }).catch((e) => e);
    expect(isCompasEnsembleError(err, "OPTIONS_INVALID")).toBe(true);
    expect(String(err.message)).toContain("csv");
  });

  // A one-run manifest in its own folder whose output file does not exist.
  function oneRunManifest(folder: string, runId: string, status: "success" | "failed"): string {
    const other = join(dir, folder);
    mkdirSync(other);
    writeFileSync(
      join(other, "ensemble_metadata.json"),
      JSON.stringify({
        creation_time: "t",
        compas_binary: "c",
        n_systems_per_run: 10,
        runs: [{ run_id: runId, params: { ...params(1, 1, 0.02), run_id: runId }, output_file: "/x/y.h5", status, timestamp: "t" }],
      }),
    );
    return other;
  }

  it("reports a manifest whose run outputs are nowhere with OUTPUT_INCOMPLETE", async () => {
    const other = oneRunManifest("broken", "gone", "success");
    const err = await buildSbiDataset(other).catch((e) => e);
    expect(isCompasEnsembleError(err, "OUTPUT_INCOMPLETE")).toBe(true);
    expect(String(err.message)).toContain("gone");
  });

  it("warns that a manifest without task fragments beside it cannot be verified, reads it, and records that", async () => {
    const warnings: string[] = [];
    const unverified = await buildSbiDataset(dir, { onWarning: (w) => warnings.push(w) });
    expect(warnings.filter((w) => w.includes("not checked"))).toHaveLength(1);
    expect(warnings[0]).toContain(join(dir, "ensemble_metadata.json"));
    expect(unverified.provenance.outputs_verified).toBe(false);
    expect(unverified.runIds).toEqual(["run_a", "run_b"]);
  });

  it("refuses a run whose COMPAS file holds another number of binaries than the manifest says, naming the run and both", async () => {
    const other = join(dir, "n-mismatch");
    mkdirSync(other);
    const manifest = {
      creation_time: "t",
      compas_binary: "c",
      n_systems_per_run: 4000,
      runs: [{ run_id: "run_a", params: { ...params(0.1, 0.1, 0.0001), run_id: "run_a" }, output_file: join(dir, "elsewhere", "a.h5"), status: "success", timestamp: "t" }],
    };
    writeFileSync(join(other, "ensemble_metadata.json"), JSON.stringify(manifest));
    const err = await buildSbiDataset(other).catch((e) => e);
    expect(isCompasEnsembleError(err, "N_MISMATCH")).toBe(true);
    expect(String(err.message)).toMatch(/run_a.*4000.*5000/);
    // With the option the file's count (5000, README) is the denominator: 22 BBH.
    const warnings: string[] = [];
    const fromFile = await buildSbiDataset(other, { nSystemsFromOutput: true, onWarning: (w) => warnings.push(w) });
    expect(fromFile.nSystems).toEqual([5000]);
    expect(fromFile.x[0]![fromFile.xColumns.indexOf("yield_BBH")]! * 5000).toBeCloseTo(22, 9);
    expect(warnings.some((w) => w.startsWith("run_a:") && w.includes("4000") && w.includes("5000"))).toBe(true);
  });

  it("refuses a manifest without successful runs with OUTPUT_INCOMPLETE", async () => {
    const other = oneRunManifest("allfailed", "f", "failed");
    const err = await buildSbiDataset(other).catch((e) => e);
    expect(isCompasEnsembleError(err, "OUTPUT_INCOMPLETE")).toBe(true);
  });
});

describe("buildSbiDataset and extractCommand on an ensemble with task records (real fixture)", () => {
  let root: string;
  let dir: string;
  let plan: Plan;
  let output: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "sbi-recorded-"));
    dir = join(root, "ensemble");
    plan = makePlan({ runs: 1, nSystems: 10000 });
    const run = plan.runs[0]!;
    output = join(dir, ...run.output_key.split("/"));
    await gunzip(join(FIXTURES, RUN_B, "COMPAS_Output", "COMPAS_Output.h5.gz"), output);
    // The record a worker writes: the file's size and sha256, computed here with node:crypto.
    const sha256 = createHash("sha256").update(readFileSync(output)).digest("hex");
    const fragment = { ...makeFragment(plan, run.task_ids[0]!), output: { key: run.output_key, bytes: statSync(output).size, sha256, rows: {} } };
    await writePlan(dir, plan);
    await writeFragment(dir, fragment);
    await writeManifest(dir, mergeMetadata([fragment], plan, { outputRoot: dir }));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("checks each output's size and sha256 against its fragment before reading, and records that", async () => {
    const warnings: string[] = [];
    const dataset = await buildSbiDataset(dir, { onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([]);
    expect(dataset.provenance.outputs_verified).toBe(true);
    expect(dataset.dco.length).toBe(33);
  });

  it("refuses an output with one bit flipped in a DCO mass, naming the run, and reads the flipped mass only with verify off", async () => {
    const runId = plan.runs[0]!.run_id;
    const flipped = flipDcoMassBit(output, 1);
    try {
      expect(flipped.after).not.toBe(flipped.before);
      const err = await buildSbiDataset(dir).catch((e) => e);
      expect(isCompasEnsembleError(err, "OUTPUT_CORRUPT")).toBe(true);
      expect(String(err.message)).toContain(runId);
      expect(String(err.message)).toContain("sha256");
      const unchecked = await buildSbiDataset(dir, { verify: false });
      expect(unchecked.provenance.outputs_verified).toBe(false);
      const row = Array.from(unchecked.dco.seed).indexOf(BigInt(flipped.seed));
      expect(unchecked.dco.m1[row]).toBe(Math.max(flipped.after, flipped.mass2));
    } finally {
      flipDcoMassBit(output, 1);
    }
  });

  it("refuses --out on a file the ensemble owns or reads, also through .. and a symlink, leaving it unchanged", async () => {
    const planText = readFileSync(join(dir, "plan.json"), "utf8");
    symlinkSync(join(dir, "plan.json"), join(root, "link.h5"));
    const outs: [string, string?][] = [
      [join(dir, "plan.json")],
      [join(dir, "ensemble_metadata.json")],
      [join(dir, "fragments", "sbi.h5")],
      [join(dir, "logs", "sbi.parquet")],
      [join(root, "..", basename(root), "ensemble", "plan.json")],
      [join(root, "link.h5")],
      [output],
      [dir, "npy"],
      [root, "npy"],
    ];
    for (const [out, format] of outs) {
      const err = await extractCommand({ source: dir, out, ...(format ? { format } : {}) }).catch((e) => e);
      expect(isCompasEnsembleError(err, "OUTPUT_PATH_REFUSED"), `${out}: ${String(err)}`).toBe(true);
    }
    expect(readFileSync(join(dir, "plan.json"), "utf8")).toBe(planText);
    expect(existsSync(join(dir, "fragments", "sbi.h5"))).toBe(false);
    const ok = await extractCommand({ source: dir, out: join(dir, "sbi.h5") });
    expect(ok.paths).toEqual([join(dir, "sbi.h5")]);
  });
});

