import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SBI_DCO_COLUMNS, type SbiDataset } from "../../src/dataset/types.js";
import { DCO_UNITS } from "../../src/physics/dco-table.js";
import { encodeNpy, encodeNpyStrings, writeSbiNpy } from "../../src/dataset/write-npy.js";
import { isCompasEnsembleError } from "../../src/errors.js";
import { makeDataset, runPython } from "./dataset-helpers.js";

// numpy.load on every .npy in the directory (allow_pickle=False: the files must be plain arrays).
const LOAD_WITH_NUMPY = `
import json, os, sys, numpy as np
out = {}
for name in sorted(os.listdir(sys.argv[1])):
    if not name.endswith(".npy"):
        continue
    a = np.load(os.path.join(sys.argv[1], name), allow_pickle=False)
    values = [str(v) for v in a.tolist()] if a.dtype == np.uint64 else a.tolist()
    with open(os.path.join(sys.argv[1], name), "rb") as fh:
        head = fh.read(10)
    out[name] = {"shape": list(a.shape), "dtype": a.dtype.str, "values": values,
                 "version": [head[6], head[7]], "data_offset_mod_64": (10 + int.from_bytes(head[8:10], "little")) % 64}
print(json.dumps(out))
`;

interface NpyDump {
  [file: string]: { shape: number[]; dtype: string; values: unknown; version: number[]; data_offset_mod_64: number };
}

describe("writeSbiNpy", () => {
  let dir: string;
  let dataset: SbiDataset;
  let dump: NpyDump;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sbi-npy-"));
    dataset = makeDataset();
    await writeSbiNpy(dataset, join(dir, "out"));
    dump = runPython(LOAD_WITH_NUMPY, [join(dir, "out")]) as NpyDump;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes version 1.0 files with 64-byte aligned data that numpy.load reads", () => {
    const files = readdirSync(join(dir, "out")).filter((f) => f.endsWith(".npy"));
    expect(files.sort()).toEqual(
      [
        "theta.npy",
        "x.npy",
        "run_id.npy",
        "n_systems.npy",
        ...["star_forming_mass", "m1_min", "m1_max", "m2_min"].map((c) => `${c}.npy`),
        ...[...SBI_DCO_COLUMNS, "rate_z0"].map((c) => `dco_${c}.npy`),
        ...["z", "BBH", "BHNS", "BNS", "combined_theta", "combined_runs", "combined_BBH", "combined_BHNS", "combined_BNS"].map((c) => `rates_${c}.npy`),
      ].sort(),
    );
    for (const f of files) {
      expect(dump[f]!.version, f).toEqual([1, 0]);
      expect(dump[f]!.data_offset_mod_64, f).toBe(0);
    }
  });

  it("writes theta and x as float64 matrices equal to the in-memory dataset", () => {
    expect(dump["theta.npy"]!.shape).toEqual([3, 5]);
    expect(dump["theta.npy"]!.dtype).toBe("<f8");
    expect(dump["theta.npy"]!.values).toEqual(dataset.theta.map((r) => Array.from(r)));
    expect(dump["x.npy"]!.shape).toEqual([3, dataset.xColumns.length]);
    expect(dump["x.npy"]!.values).toEqual(dataset.x.map((r) => Array.from(r)));
    expect(dump["run_id.npy"]!.values).toEqual(dataset.runIds);
    expect(dump["n_systems.npy"]!.values).toEqual([5000, 10000, 2000]);
  });

  it("writes every DCO column with the right dtype, strings as fixed-width unicode <U7", () => {
    for (const column of SBI_DCO_COLUMNS) {
      const got = dump[`dco_${column}.npy`]!;
      const mem = dataset.dco[column];
      const expected = mem instanceof BigUint64Array ? Array.from(mem, String) : Array.from(mem as ArrayLike<unknown>);
      expect(got.values, column).toEqual(expected);
      expect(got.shape, column).toEqual([dataset.dco.length]);
    }
    expect(dump["dco_type.npy"]!.dtype).toBe("<U7");
    expect(dump["dco_channel.npy"]!.dtype).toBe("<U7");
    expect(dump["dco_seed.npy"]!.dtype).toBe("<u8");
    expect(dump["dco_run_index.npy"]!.dtype).toBe("<i4");
    expect(dump["dco_merges_hubble_time.npy"]!.dtype).toBe("|u1");
    expect(dump["dco_chi_eff.npy"]!.dtype).toBe("<f8");
    expect(dump["dco_rate_z0.npy"]!.values).toEqual(Array.from(dataset.dco.rate_z0!));
  });

  it("writes the star-forming mass per run and the rates as matrices", () => {
    expect(dump["star_forming_mass.npy"]!.values).toEqual(Array.from(dataset.runMass.starFormingMass));
    const nz = dataset.rates.z!.length;
    expect(dump["rates_z.npy"]!.values).toEqual(Array.from(dataset.rates.z!));
    expect(dump["rates_BBH.npy"]!.shape).toEqual([3, nz]);
    expect(dump["rates_BBH.npy"]!.values).toEqual(dataset.rates.perRun!.BBH.map((r) => Array.from(r)));
    expect(dump["rates_combined_runs.npy"]!.shape).toEqual([0, 0]);
    expect(dump["rates_combined_runs.npy"]!.dtype).toBe("<i4");
    expect(dump["rates_combined_BNS.npy"]!.shape).toEqual([0, nz]);
  });

  it("describes the files in columns.json", () => {
    const meta = JSON.parse(readFileSync(join(dir, "out", "columns.json"), "utf8"));
    expect(meta.theta).toEqual(dataset.thetaColumns);
    expect(meta.x).toEqual(dataset.xColumns);
    expect(meta.bins).toEqual(dataset.bins);
    expect(meta.spin_model).toEqual(dataset.spinModel);
    expect(meta.provenance).toEqual(dataset.provenance);
    expect(meta.rates).toEqual(dataset.rates.record);
    expect(meta.format_version).toBe(2);
    expect(meta.runs.star_forming_mass).toEqual({ file: "star_forming_mass.npy", dtype: "<f8", units: "Msol" });
    expect(meta.rates_files.BBH).toEqual({ file: "rates_BBH.npy", shape: [3, dataset.rates.z!.length], dtype: "<f8", units: "Gpc^-3 yr^-1" });
    expect(meta.dco.find((d: { column: string }) => d.column === "rate_z0").units).toBe("Gpc^-3 yr^-1");
    const byColumn = Object.fromEntries(meta.dco.map((d: { column: string }) => [d.column, d]));
    for (const column of SBI_DCO_COLUMNS) {
      expect(byColumn[column].file).toBe(`dco_${column}.npy`);
      expect(byColumn[column].units).toBe(DCO_UNITS[column]);
      expect(byColumn[column].dtype).toBe(dump[`dco_${column}.npy`]!.dtype);
    }
  });

  it("encodes empty arrays, non-ASCII strings and a header that needs padding", () => {
    const d = mkdtempSync(join(tmpdir(), "sbi-npy-edge-"));
    try {
      writeFileSync(join(d, "empty.npy"), encodeNpy("<f8", [0], new Uint8Array(0)));
      writeFileSync(join(d, "empty2d.npy"), encodeNpy("<f8", [0, 5], new Uint8Array(0)));
      writeFileSync(join(d, "emptystr.npy"), encodeNpyStrings([], 7));
      writeFileSync(join(d, "unicode.npy"), encodeNpyStrings(["αβ", "x", "𝛘_eff"]));
      const got = runPython(LOAD_WITH_NUMPY, [d]) as NpyDump;
      expect(got["empty.npy"]!.shape).toEqual([0]);
      expect(got["empty2d.npy"]!.shape).toEqual([0, 5]);
      expect(got["emptystr.npy"]!.dtype).toBe("<U7");
      expect(got["unicode.npy"]!.values).toEqual(["αβ", "x", "𝛘_eff"]);
      expect(got["unicode.npy"]!.dtype).toBe("<U5");
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  describe("into a folder that already exists", () => {
    let root: string;
    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), "sbi-npy-target-"));
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it("refuses a non-empty folder that is not an npy dataset and leaves its files as they were", async () => {
      const folder = join(root, "notes");
      mkdirSync(folder);
      writeFileSync(join(folder, "notes.txt"), "mine");
      const err = await writeSbiNpy(dataset, folder).catch((e: unknown) => e);
      expect(isCompasEnsembleError(err, "OUTPUT_PATH_REFUSED")).toBe(true);
      expect((err as Error).message).toContain(folder);
      expect(readdirSync(folder)).toEqual(["notes.txt"]);
      expect(readFileSync(join(folder, "notes.txt"), "utf8")).toBe("mine");
      // A folder with a columns.json but a stranger's file beside it is not ours either.
      await writeSbiNpy(dataset, join(root, "mixed"));
      writeFileSync(join(root, "mixed", "analysis.ipynb"), "{}");
      await expect(writeSbiNpy(dataset, join(root, "mixed"))).rejects.toSatisfy((e) => isCompasEnsembleError(e, "OUTPUT_PATH_REFUSED"));
      expect(existsSync(join(root, "mixed", "analysis.ipynb"))).toBe(true);
    });

    it("replaces an earlier npy dataset as a whole and leaves no temporary folder beside it", async () => {
      const folder = join(root, "sbi");
      await writeSbiNpy(dataset, folder);
      // A column only the earlier dataset had must not survive the replacement.
      writeFileSync(join(folder, "dco_retired.npy"), encodeNpy("<f8", [0], new Uint8Array(0)));
      const merging = makeDataset({ mergingOnly: true });
      await writeSbiNpy(merging, folder);
      expect(readdirSync(folder)).not.toContain("dco_retired.npy");
      const columns = JSON.parse(readFileSync(join(folder, "columns.json"), "utf8"));
      expect(columns.merging_only).toBe(true);
      const got = runPython(LOAD_WITH_NUMPY, [folder]) as NpyDump;
      expect((got["dco_type.npy"]!.values as string[]).length).toBe(merging.dco.length);
      expect(readdirSync(root).filter((n) => n.startsWith("."))).toEqual([]);
    });

    it("writes into an empty folder, and through a symlink replaces the link rather than the folder it points to", async () => {
      const empty = join(root, "empty");
      mkdirSync(empty);
      await writeSbiNpy(dataset, empty);
      expect(readdirSync(empty)).toContain("columns.json");
      symlinkSync(empty, join(root, "link"));
      await writeSbiNpy(makeDataset({ mergingOnly: true }), join(root, "link"));
      expect(JSON.parse(readFileSync(join(empty, "columns.json"), "utf8")).merging_only).toBe(false);
      expect(JSON.parse(readFileSync(join(root, "link", "columns.json"), "utf8")).merging_only).toBe(true);
    });
  });
});
