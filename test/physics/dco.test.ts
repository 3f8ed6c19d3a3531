import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPAS_HUBBLE_TIME_MYR, DEFAULT_HUBBLE_CUT_MYR, type DcoExtraction, extractDcos } from "../../src/physics/dco.js";
import { seedUniforms } from "../../src/physics/spins.js";
import { FIXTURES, gunzipFixture, makeTempDir, python } from "../support/compas-fixtures.js";

interface ExpectedDco {
  seed: number;
  m1: number;
  m2: number;
  q: number;
  chirp_mass: number;
  type: string;
  t_form: number;
  t_coal: number;
  t_delay: number;
  merges_hubble_time: number;
  chi1: number;
  chi2: number;
  tilt1: number | null;
  tilt2: number | null;
  chi_eff: number;
  chi_p: number;
  channel: string;
  channel_v_reason: string;
  pessimistic_ce: number;
}
interface ExpectedFixture {
  groups: Record<string, number>;
  double_core_mismatches: number;
  has_rlof: boolean;
  dcos: ExpectedDco[];
}
const expected = JSON.parse(readFileSync(new URL("../expected/dco_expected.json", import.meta.url), "utf8")) as {
  fixtures: Record<string, ExpectedFixture>;
};

const tmp = makeTempDir("dco-test-");
const paths: Record<string, string> = {};
const results: Record<string, DcoExtraction> = {};

beforeAll(async () => {
  for (const [name, rel] of Object.entries(FIXTURES)) paths[name] = await gunzipFixture(rel, tmp.dir);
  for (const name of Object.keys(FIXTURES)) results[name] = await extractDcos(paths[name] as string);
});
afterAll(() => tmp.cleanup());

function relClose(actual: number, want: number, rel: number): void {
  if (want === 0) expect(Math.abs(actual)).toBeLessThanOrEqual(rel);
  else expect(Math.abs(actual - want) / Math.abs(want)).toBeLessThanOrEqual(rel);
}

const compared = ["z1e4", "z0142", "detailed", "chunksFull"] as const;

describe("final orbit of each DCO", () => {
  it("copies SemiMajorAxis@DCO (AU) and Eccentricity@DCO exactly into a_final and e_final, as h5py reads them", () => {
    for (const name of ["z1e4", "z0142", "channels", "massBounds"] as const) {
      const want = JSON.parse(
        python(
          `import h5py, json, sys
g = h5py.File(sys.argv[1], "r")["BSE_Double_Compact_Objects"]
print(json.dumps({"a": g["SemiMajorAxis@DCO"][()].tolist(), "e": g["Eccentricity@DCO"][()].tolist(), "units": g["SemiMajorAxis@DCO"].attrs["units"].decode()}))`,
          [paths[name] as string],
        ),
      ) as { a: number[]; e: number[]; units: string };
      const t = (results[name] as DcoExtraction).table;
      expect(want.units, name).toBe("AU");
      expect(Array.from(t.a_final), name).toEqual(want.a);
      expect(Array.from(t.e_final), name).toEqual(want.e);
      expect(t.a_final.length, name).toBeGreaterThan(0);
    }
  });
});

describe("extractDcos against the independent h5py computation (test/expected/make_expected.py)", () => {
  for (const name of compared) {
    it(`matches every DCO of fixture ${name}`, () => {
      const want = expected.fixtures[FIXTURES[name]] as ExpectedFixture;
      const got = results[name] as DcoExtraction;
      const t = got.table;
      expect(t.length).toBe(want.dcos.length);
      want.dcos.forEach((w, i) => {
        expect(t.seed[i]).toBe(BigInt(w.seed));
        for (const k of ["m1", "m2", "q", "chirp_mass", "t_form", "t_coal", "t_delay"] as const) relClose(t[k][i] as number, w[k], 1e-12);
        expect(t.type[i]).toBe(w.type);
        expect(t.merges_hubble_time[i]).toBe(w.merges_hubble_time);
        for (const k of ["chi1", "chi2", "chi_eff", "chi_p"] as const) expect(Math.abs((t[k][i] as number) - w[k])).toBeLessThanOrEqual(1e-9);
        for (const k of ["tilt1", "tilt2"] as const) {
          const wv = w[k];
          if (wv === null) expect(Number.isNaN(t[k][i])).toBe(true);
          else expect(Math.abs((t[k][i] as number) - wv)).toBeLessThanOrEqual(1e-9);
        }
        expect(t.channel[i]).toBe(w.channel);
        expect(got.channelVReason[i]).toBe(w.channel_v_reason);
        expect(t.pessimistic_ce[i]).toBe(w.pessimistic_ce);
      });
      expect(got.diagnostics.doubleCoreMismatches).toBe(want.double_core_mismatches);
      expect(got.channelsKnown).toBe(want.has_rlof);
    });
  }
});

describe("extractDcos on the fixtures' documented counts (fixtures README)", () => {
  const counts = (r: DcoExtraction) => ({
    total: r.table.length,
    BBH: r.table.type.filter((x) => x === "BBH").length,
    BHNS: r.table.type.filter((x) => x === "BHNS").length,
    BNS: r.table.type.filter((x) => x === "BNS").length,
    merging: r.table.merges_hubble_time.reduce((a, b) => a + b, 0),
  });

  it("finds 23 DCOs (22 BBH, 1 BHNS) and 7 merging at Z = 1e-4", () => {
    expect(counts(results.z1e4 as DcoExtraction)).toEqual({ total: 23, BBH: 22, BHNS: 1, BNS: 0, merging: 7 });
  });

  it("finds 33 DCOs (12 BBH, 5 BHNS, 16 BNS) and 13 merging at Z = 0.0142", () => {
    expect(counts(results.z0142 as DcoExtraction)).toEqual({ total: 33, BBH: 12, BHNS: 5, BNS: 16, merging: 13 });
    const t = (results.z0142 as DcoExtraction).table;
    const mergingBy = (ty: string) => t.type.filter((x, i) => x === ty && t.merges_hubble_time[i] === 1).length;
    expect([mergingBy("BBH"), mergingBy("BHNS"), mergingBy("BNS")]).toEqual([5, 1, 7]);
  });

  it("finds the one merging BBH of the detailed fixture (SEED 100317)", () => {
    const r = results.detailed as DcoExtraction;
    expect(counts(r)).toEqual({ total: 1, BBH: 1, BHNS: 0, BNS: 0, merging: 1 });
    expect(r.table.seed[0]).toBe(100317n);
  });

  it("gives the same DCOs for a chunked run as for the unchunked one", () => {
    const full = (results.chunksFull as DcoExtraction).table;
    const p1 = (results.chunksPart1 as DcoExtraction).table;
    const p2 = (results.chunksPart2 as DcoExtraction).table;
    expect(counts(results.chunksFull as DcoExtraction)).toEqual({ total: 12, BBH: 11, BHNS: 1, BNS: 0, merging: 7 });
    expect([...p1.seed, ...p2.seed]).toEqual([...full.seed]);
    expect([...p1.chi_eff, ...p2.chi_eff]).toEqual([...full.chi_eff]);
    expect([...p1.channel, ...p2.channel]).toEqual([...full.channel]);
  });

  it("has Merges_Hubble_Time = 1 exactly when Coalescence_Time < 14021.28 Myr on every fixture row", () => {
    for (const r of Object.values(results)) {
      r.table.t_coal.forEach((tc, i) => expect(r.table.merges_hubble_time[i]).toBe(tc < COMPAS_HUBBLE_TIME_MYR ? 1 : 0));
    }
  });
});

describe("extractDcos outputs and options", () => {
  it("orders masses m1 >= m2 and keeps q <= 1", () => {
    for (const r of Object.values(results)) {
      r.table.m1.forEach((m1, i) => {
        expect(m1).toBeGreaterThanOrEqual(r.table.m2[i] as number);
        expect(r.table.q[i]).toBeLessThanOrEqual(1);
      });
    }
  });

  it("applies the library's cut on t_delay with the documented threshold", () => {
    const r = results.z1e4 as DcoExtraction;
    expect(r.hubbleCutMyr).toBe(DEFAULT_HUBBLE_CUT_MYR);
    r.table.t_delay.forEach((td, i) => expect(r.mergesLibraryCut[i]).toBe(td < DEFAULT_HUBBLE_CUT_MYR ? 1 : 0));
  });

  it("warns about the missing BSE_RLOF group, naming --rlof-printing", () => {
    const r = results.z0142 as DcoExtraction;
    expect(r.table.channel.every((c) => c === "unknown")).toBe(true);
    expect(r.diagnostics.warnings.join("\n")).toMatch(/--rlof-printing/);
    expect(r.channelsKnown).toBe(false);
    expect((results.z1e4 as DcoExtraction).diagnostics.warnings).toEqual([]);
  });

  it("counts channel-V reasons consistently with the per-DCO column", () => {
    const r = results.z1e4 as DcoExtraction;
    const sum = Object.values(r.diagnostics.channelVReasons).reduce((a, b) => a + b, 0);
    expect(sum).toBe(r.table.channel.filter((c) => c === "V").length);
  });

  it("records the spin model, its parameters and constants", () => {
    const r = results.z1e4 as DcoExtraction;
    expect(r.spinModel.name).toBe("bavera2021");
    expect(r.spinModel.params).toEqual({ chiNatal: 0 });
    expect(r.spinModel.constants.Msol_kg).toBe(1.98892e30);
  });

  it("is reproducible: a second extraction gives identical tilts", async () => {
    const again = await extractDcos(paths.z1e4 as string);
    expect([...again.table.tilt1]).toEqual([...(results.z1e4 as DcoExtraction).table.tilt1]);
  });

  it("applies the fixed and uniform spin models to every BH and none to NSs", async () => {
    const fixed = await extractDcos(paths.z0142 as string, { spinModel: { name: "fixed", chi: 0.3 } });
    const t = fixed.table;
    for (let i = 0; i < t.length; i++) {
      if (t.type[i] === "BBH") expect([t.chi1[i], t.chi2[i]]).toEqual([0.3, 0.3]);
      if (t.type[i] === "BNS") expect([t.chi1[i], t.chi2[i]]).toEqual([0, 0]);
      if (t.type[i] === "BHNS") expect([t.chi1[i], t.chi2[i]].sort()).toEqual([0, 0.3]);
    }
    expect(fixed.spinModel).toMatchObject({ name: "fixed", params: { chi: 0.3 } });
    const uni = await extractDcos(paths.z1e4 as string, { spinModel: { name: "uniform", max: 0.5 } });
    const seed = uni.table.seed[0] as bigint;
    const draws = seedUniforms(seed, 3).slice(1).map((u) => 0.5 * u);
    expect([uni.table.chi1[0], uni.table.chi2[0]].sort()).toEqual(draws.sort());
  });

  it("joins on SEED whatever the row order and for SEEDs above 2^53", async () => {
    // Variants of the chunked run: (a) every group's SEED blocks in reverse order (rows of one
    // SEED keep their order, which breaks ties), (b) every SEED shifted by 2^60.
    const reversed = `${tmp.dir}/reversed.h5`;
    const shifted = `${tmp.dir}/shifted.h5`;
    python(
      `import shutil, sys, h5py, numpy as np
src, rev, big = sys.argv[1:4]
shutil.copy(src, rev); shutil.copy(src, big)
with h5py.File(rev, "r+") as f:
    for g in ["BSE_Supernovae", "BSE_Common_Envelopes", "BSE_RLOF", "BSE_System_Parameters", "BSE_Double_Compact_Objects"]:
        grp = f[g]; seeds = grp["SEED"][()]
        starts = np.flatnonzero(np.r_[True, seeds[1:] != seeds[:-1]]); ends = np.r_[starts[1:], len(seeds)]
        perm = np.concatenate([np.arange(a, b) for a, b in zip(starts[::-1], ends[::-1])])
        for c in grp: grp[c][...] = grp[c][()][perm]
with h5py.File(big, "r+") as f:
    for g in ["BSE_Supernovae", "BSE_Common_Envelopes", "BSE_RLOF", "BSE_System_Parameters", "BSE_Double_Compact_Objects"]:
        f[g]["SEED"][...] = f[g]["SEED"][()] + np.uint64(1 << 60)`,
      [paths.chunksFull as string, reversed, shifted],
    );
    const base = (results.chunksFull as DcoExtraction).table;
    const rev = (await extractDcos(reversed)).table;
    const order = [...rev.seed].map((s) => [...base.seed].indexOf(s));
    expect(order).toEqual([...base.seed].map((_, i) => base.length - 1 - i));
    for (const k of ["m1", "m2", "chi1", "chi2", "tilt1", "tilt2", "chi_eff", "chi_p", "channel", "pessimistic_ce"] as const) {
      expect(order.map((i) => base[k][i])).toEqual([...rev[k]]);
    }
    const big = (await extractDcos(shifted)).table;
    expect([...big.seed]).toEqual([...base.seed].map((s) => s + (1n << 60n)));
    // Tilts of first-born objects depend on the SEED through the azimuth; the rest does not.
    for (const k of ["m1", "m2", "chi1", "chi2", "chi_eff", "channel"] as const) expect([...big[k]]).toEqual([...base[k]]);
  });

  it("drops pessimistically flagged DCOs only when asked", async () => {
    // No fixture DCO has an optimistic CE, so build one: flag the CE row of a fixture DCO with h5py.
    const copy = `${tmp.dir}/pessimistic.h5`;
    python(
      `import shutil, sys, h5py, numpy as np
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    seeds = f["BSE_Double_Compact_Objects/SEED"][()]
    ce = f["BSE_Common_Envelopes"]
    rows = np.nonzero(np.isin(ce["SEED"][()], seeds))[0]
    flag = ce["Optimistic_CE"][()]
    flag[rows[0]] = 1
    ce["Optimistic_CE"][...] = flag
    print(ce["SEED"][rows[0]])`,
      [paths.z0142 as string, copy],
    );
    const flagged = await extractDcos(copy);
    expect(flagged.table.pessimistic_ce.reduce((a, b) => a + b, 0)).toBe(1);
    expect(flagged.table.length).toBe(33);
    const dropped = await extractDcos(copy, { pessimisticMask: "drop" });
    expect(dropped.table.length).toBe(32);
    expect(dropped.diagnostics.pessimisticDropped).toBe(1);
    expect(dropped.mergesLibraryCut.length).toBe(32);
  });
});
