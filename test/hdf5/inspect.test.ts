import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatInspect, inspect } from "../../src/hdf5/inspect.js";
import { FIXTURES, gunzipFixture, makeTempDir } from "./compas-fixtures.js";

const tmp = makeTempDir("inspect-test-");
let z1e4 = "";
let z0142 = "";

beforeAll(async () => {
  z1e4 = await gunzipFixture(FIXTURES.z1e4, tmp.dir);
  z0142 = await gunzipFixture(FIXTURES.z0142, tmp.dir);
});
afterAll(() => tmp.cleanup());

describe("inspect", () => {
  it("lists groups, rows, DCOs by type and merging counts of the Z = 1e-4 fixture", async () => {
    const r = await inspect(z1e4);
    expect(r.bytes).toBe(131464176);
    expect(r.compasVersion).toBe("03.07.00");
    expect(r.rlofPrinting).toBe(true);
    expect(r.systemsRequested).toBe(5000);
    expect(r.groups.map((g) => [g.name, g.rows])).toEqual([
      ["BSE_System_Parameters", 5000],
      ["BSE_Double_Compact_Objects", 23],
      ["BSE_Supernovae", 1970],
      ["BSE_Common_Envelopes", 2346],
      ["BSE_RLOF", 7659],
      ["Run_Details", 256],
    ]);
    expect(r.groups.find((g) => g.name === "Run_Details")?.columns).toBe(512);
    expect(r.dco).toEqual({ total: 23, BBH: 22, BHNS: 1, BNS: 0, other: 0 });
    expect(r.merging).toEqual({ total: 7, BBH: 7, BHNS: 0, BNS: 0, other: 0 });
  });

  it("counts BNS and BHNS of the Z = 0.0142 fixture and notes the missing BSE_RLOF", async () => {
    const r = await inspect(z0142);
    expect(r.rlofPrinting).toBe(false);
    expect(r.dco).toEqual({ total: 33, BBH: 12, BHNS: 5, BNS: 16, other: 0 });
    expect(r.merging).toEqual({ total: 13, BBH: 5, BHNS: 1, BNS: 7, other: 0 });
    const text = formatInspect(r);
    expect(text).toContain("--rlof-printing FALSE");
    expect(text).toMatch(/no BSE_RLOF/);
    expect(text).toMatch(/^all\s+33\s+12\s+5\s+16$/m);
    expect(text).toMatch(/^merging\s+13\s+5\s+1\s+7$/m);
    expect(text).toMatch(/^BSE_Supernovae\s+4402\s+\d+$/m);
  });
});
