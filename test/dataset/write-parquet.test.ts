import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SBI_DCO_COLUMNS, THETA_COLUMNS, type SbiDataset } from "../../src/dataset/types.js";
import { DCO_UNITS } from "../../src/physics/dco-table.js";
import { SBI_PARQUET_METADATA_KEY, sbiParquetPaths, writeSbiParquet } from "../../src/dataset/write-parquet.js";
import { makeDataset } from "./dataset-helpers.js";

function load(path: string): ArrayBuffer {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

async function rows(path: string): Promise<Record<string, unknown>[]> {
  return parquetReadObjects({ file: load(path) });
}

function kv(path: string): Record<string, unknown> {
  const entry = parquetMetadata(load(path)).key_value_metadata?.find((e) => e.key === SBI_PARQUET_METADATA_KEY);
  if (!entry?.value) throw new Error(`no ${SBI_PARQUET_METADATA_KEY} in ${path}`);
  return JSON.parse(entry.value);
}

describe("writeSbiParquet", () => {
  let dir: string;
  let dataset: SbiDataset;
  let dcoRows: Record<string, unknown>[];
  let runRows: Record<string, unknown>[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sbi-parquet-"));
    dataset = makeDataset();
    const paths = await writeSbiParquet(dataset, join(dir, "sub", "sbi.parquet"));
    expect(paths).toEqual({
      dco: join(dir, "sub", "sbi.parquet"),
      runs: join(dir, "sub", "sbi.runs.parquet"),
      rates: join(dir, "sub", "sbi.rates.parquet"),
    });
    dcoRows = await rows(paths.dco);
    runRows = await rows(paths.runs);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("names the per-run file <base>.runs.parquet and the rates <base>.rates.parquet", () => {
    expect(sbiParquetPaths("/a/b.parquet").runs).toBe("/a/b.runs.parquet");
    expect(sbiParquetPaths("/a/b.pq").runs).toBe("/a/b.pq.runs.parquet");
    expect(sbiParquetPaths("/a/b.parquet").rates).toBe("/a/b.rates.parquet");
  });

  it("writes one row per DCO with run_id, theta and the HDF5 layout's DCO column names", () => {
    expect(dcoRows).toHaveLength(dataset.dco.length);
    expect(Object.keys(dcoRows[0]!)).toEqual(["run_index", "run_id", ...THETA_COLUMNS, ...SBI_DCO_COLUMNS.slice(1), "rate_z0"]);
    dcoRows.forEach((row, i) => {
      const run = dataset.dco.run_index[i]!;
      expect(row.run_index).toBe(run);
      expect(row.run_id).toBe(dataset.runIds[run]);
      THETA_COLUMNS.forEach((c, j) => expect(row[c], c).toBe(dataset.theta[run]![j]));
      for (const c of SBI_DCO_COLUMNS) {
        const mem = dataset.dco[c][i];
        expect(row[c], c).toBe(mem);
      }
      expect(row.rate_z0).toBe(dataset.dco.rate_z0![i]);
    });
    expect(dcoRows.map((r) => r.seed)).toContain(18446744073709551615n);
  });

  it("writes one row per run with n_systems, theta, x, the star-forming mass and mass bounds", () => {
    expect(runRows).toHaveLength(3);
    expect(Object.keys(runRows[0]!)).toEqual([
      "run_index",
      "run_id",
      "n_systems",
      ...THETA_COLUMNS,
      ...dataset.xColumns,
      "star_forming_mass",
      "m1_min",
      "m1_max",
      "m2_min",
    ]);
    runRows.forEach((row, i) => {
      expect(row.star_forming_mass).toBe(dataset.runMass.starFormingMass[i]);
      expect([row.m1_min, row.m1_max, row.m2_min]).toEqual([5, 150, 0.1]);
    });
    runRows.forEach((row, i) => {
      expect(row.run_id).toBe(dataset.runIds[i]);
      expect(Number(row.n_systems)).toBe(dataset.nSystems[i]);
      dataset.xColumns.forEach((c, j) => expect(row[c], c).toBe(dataset.x[i]![j]));
      THETA_COLUMNS.forEach((c, j) => expect(row[c], c).toBe(dataset.theta[i]![j]));
    });
  });

  it("writes the rates in long form: one row per run or group, type and redshift", async () => {
    const rates = await rows(sbiParquetPaths(join(dir, "sub", "sbi.parquet")).rates!);
    const nz = dataset.rates.z!.length;
    // Three runs, three types; no group (every run has its own alpha).
    expect(rates).toHaveLength(3 * 3 * nz);
    expect(Object.keys(rates[0]!)).toEqual(["kind", "index", "type", "z", "rate"]);
    const bnsOfRunA = rates.filter((r) => r.kind === "run" && r.index === 0 && r.type === "BNS");
    expect(bnsOfRunA.map((r) => r.z)).toEqual(Array.from(dataset.rates.z!));
    expect(bnsOfRunA.map((r) => r.rate)).toEqual(Array.from(dataset.rates.perRun!.BNS[0]!));
  });

  it("stores units, bins, spin model, rates options and provenance as key-value metadata in every file", () => {
    const { dco, runs, rates } = sbiParquetPaths(join(dir, "sub", "sbi.parquet"));
    for (const path of [dco, runs, rates!]) {
      const meta = kv(path);
      expect(meta.units).toMatchObject(DCO_UNITS);
      expect(meta.units).toMatchObject({ rate_z0: "Gpc^-3 yr^-1", star_forming_mass: "Msol", rate: "Gpc^-3 yr^-1" });
      expect(meta.rates).toEqual(dataset.rates.record);
      expect(meta.format_version).toBe(2);
      expect(meta.bins).toEqual(dataset.bins);
      expect(meta.spin_model).toEqual(dataset.spinModel);
      expect(meta.provenance).toEqual(dataset.provenance);
      expect(meta.x_columns).toEqual(dataset.xColumns);
    }
    expect(existsSync(`${dco}.partial`)).toBe(false);
  });

  it("writes a readable file when the DCO table is empty", async () => {
    const empty = makeDataset({ mergingOnly: true });
    const onlyEmptyRun: SbiDataset = {
      ...empty,
      runIds: [empty.runIds[1]!],
      nSystems: [empty.nSystems[1]!],
      theta: [empty.theta[1]!],
      x: [empty.x[1]!],
      dco: { ...empty.dco, ...sliceNone(empty) },
    };
    const paths = await writeSbiParquet(onlyEmptyRun, join(dir, "empty.parquet"));
    expect(await rows(paths.dco)).toEqual([]);
    expect(parquetMetadata(load(paths.dco)).schema.map((s) => s.name)).toContain("chi_eff");
    expect((await rows(paths.runs)).map((r) => r.run_id)).toEqual([empty.runIds[1]]);
  });
});

function sliceNone(d: SbiDataset) {
  const out: Record<string, unknown> = { length: 0, rate_z0: new Float64Array(0) };
  for (const c of SBI_DCO_COLUMNS) out[c] = d.dco[c].slice(0, 0);
  return out as unknown as SbiDataset["dco"];
}
