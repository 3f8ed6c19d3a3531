import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { groupRowCounts, openCompasFile, readColumns } from "../../src/hdf5/read.js";
import { FIXTURES, gunzipFixture, makeTempDir, python } from "../support/compas-fixtures.js";

const tmp = makeTempDir("read-test-");
let z1e4 = "";
let z0142 = "";

beforeAll(async () => {
  z1e4 = await gunzipFixture(FIXTURES.z1e4, tmp.dir);
  z0142 = await gunzipFixture(FIXTURES.z0142, tmp.dir);
});
afterAll(() => tmp.cleanup());

describe("groupRowCounts", () => {
  it("gives the rows of each BSE group listed in the fixtures README", async () => {
    expect(await groupRowCounts(z1e4)).toEqual({
      BSE_System_Parameters: 5000,
      BSE_Double_Compact_Objects: 23,
      BSE_Supernovae: 1970,
      BSE_Common_Envelopes: 2346,
      BSE_RLOF: 7659,
    });
  });

  it("leaves out a group COMPAS did not write (no BSE_RLOF without --rlof-printing)", async () => {
    expect(await groupRowCounts(z0142)).toEqual({
      BSE_System_Parameters: 10000,
      BSE_Double_Compact_Objects: 33,
      BSE_Supernovae: 4402,
      BSE_Common_Envelopes: 5463,
    });
  });
});

describe("readColumns", () => {
  it("reads COMPAS columns in their documented types with the values h5py reads", async () => {
    const cols = await readColumns(z1e4, "BSE_Supernovae", ["SEED", "Time", "Supernova_State", "Unbound", "SemiMajorAxis"]);
    expect(cols.SEED).toBeInstanceOf(BigUint64Array);
    expect(cols.Time).toBeInstanceOf(Float64Array);
    expect(cols.Supernova_State).toBeInstanceOf(Int32Array);
    expect(cols.Unbound).toBeInstanceOf(Uint8Array);
    const ref = JSON.parse(
      python(
        `import sys, json, h5py, numpy as np
g = h5py.File(sys.argv[1], "r")["BSE_Supernovae"]
t = g["Time"][()]; inc = g["SemiMajorAxis"][()]
print(json.dumps({"seed_first": int(g["SEED"][0]), "seed_last": int(g["SEED"][-1]), "time": t[[0, 1, 999, -1]].tolist(),
  "state_sum": int(g["Supernova_State"][()].sum()), "unbound": int(g["Unbound"][()].sum()), "inc_nan": int(np.isnan(inc).sum())}))`,
        [z1e4],
      ),
    ) as { seed_first: number; seed_last: number; time: number[]; state_sum: number; unbound: number; inc_nan: number };
    expect(cols.SEED[0]).toBe(BigInt(ref.seed_first));
    expect(cols.SEED[cols.SEED.length - 1]).toBe(BigInt(ref.seed_last));
    expect([cols.Time[0], cols.Time[1], cols.Time[999], cols.Time[cols.Time.length - 1]]).toEqual(ref.time);
    expect(cols.Supernova_State.reduce((a, b) => a + b, 0)).toBe(ref.state_sum);
    expect(cols.Unbound.reduce((a, b) => a + b, 0)).toBe(ref.unbound);
    expect(cols.SemiMajorAxis.filter(Number.isNaN).length).toBe(ref.inc_nan);
    expect(ref.inc_nan).toBeGreaterThan(0);
  });

  it("reads a slice of rows equal to the same rows of the whole column", async () => {
    const whole = await readColumns(z1e4, "BSE_RLOF", ["Mass(1)<MT", "SEED"]);
    const part = await readColumns(z1e4, "BSE_RLOF", ["Mass(1)<MT", "SEED"], { slice: [1000, 1100] });
    expect([...part["Mass(1)<MT"]]).toEqual([...whole["Mass(1)<MT"].subarray(1000, 1100)]);
    expect([...part.SEED]).toEqual([...whole.SEED.subarray(1000, 1100)]);
    const clamped = await readColumns(z1e4, "BSE_RLOF", ["SEED"], { slice: [7650, 99999] });
    expect(clamped.SEED.length).toBe(9);
  });

  it("reads fixed-length string columns", async () => {
    const cols = await readColumns(z1e4, "BSE_Supernovae", ["MT_Donor_Hist(SN)"]);
    expect(cols["MT_Donor_Hist(SN)"].length).toBe(1970);
    expect(cols["MT_Donor_Hist(SN)"].every((s) => typeof s === "string")).toBe(true);
  });

  it("treats a missing group as zero rows", async () => {
    const cols = await readColumns(z0142, "BSE_RLOF", ["SEED", "Time<MT"]);
    expect(cols.SEED).toBeInstanceOf(BigUint64Array);
    expect(cols.SEED.length).toBe(0);
    expect(cols["Time<MT"].length).toBe(0);
  });

  it("rejects a missing column with HDF5_COLUMN_MISSING naming it, the group and the file", async () => {
    const err = await readColumns(z1e4, "BSE_Supernovae", ["SEED", "No_Such_Column"]).catch((e: unknown) => e);
    expect(isCompasEnsembleError(err, "HDF5_COLUMN_MISSING")).toBe(true);
    expect((err as Error).message).toContain("No_Such_Column");
    expect((err as Error).message).toContain("BSE_Supernovae");
    expect((err as Error).message).toContain(z1e4);
  });

  it("reads slices aligned to the dataset's chunks (COMPAS default 100000 rows)", async () => {
    const reader = await openCompasFile(z1e4);
    try {
      const info = reader.info("BSE_RLOF", "Mass(1)<MT");
      expect(info.chunkRows).toBe(100000);
      expect(reader.sliceRows([info]) % 100000).toBe(0);
      expect(reader.sliceRows([info]) * 8).toBeLessThanOrEqual(8 * 1024 * 1024);
    } finally {
      reader.close();
    }
  });
});
