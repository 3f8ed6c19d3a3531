import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatInspect } from "../../src/cli/format-inspect.js";
import { inspect } from "../../src/hdf5/inspect.js";
import { FIXTURES, gunzipFixture, makeTempDir } from "../support/compas-fixtures.js";

const tmp = makeTempDir("inspect-test-");
let chunksFull = "";
let z0142 = "";

beforeAll(async () => {
  chunksFull = await gunzipFixture(FIXTURES.chunksFull, tmp.dir);
  z0142 = await gunzipFixture(FIXTURES.z0142, tmp.dir);
});
afterAll(() => tmp.cleanup());

describe("inspect", () => {
  it("lists groups, rows, DCOs by type and merging counts of the chunked run's full output", async () => {
    const r = await inspect(chunksFull);
    expect(r.compasVersion).toBe("03.07.00");
    expect(r.rlofPrinting).toBe(true);
    expect(r.systemsRequested).toBe(2000);
    expect(r.groups.map((g) => [g.name, g.rows])).toEqual([
      ["BSE_System_Parameters", 2000],
      ["BSE_Double_Compact_Objects", 12],
      ["BSE_Supernovae", 803],
      ["BSE_Common_Envelopes", 979],
      ["BSE_RLOF", 2991],
      ["Run_Details", 256],
    ]);
    expect(r.groups.find((g) => g.name === "Run_Details")?.columns).toBe(512);
    expect(r.dco).toEqual({ total: 12, BBH: 11, BHNS: 1, BNS: 0, other: 0 });
    expect(r.merging.total).toBe(7);
    expect(formatInspect(r)).toMatch(/^BSE_RLOF\s+2991\s+\d+$/m);
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
