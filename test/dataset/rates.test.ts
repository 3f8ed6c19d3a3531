import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { buildSbiDataset } from "../../src/dataset/build.js";
import { extractCommand } from "../../src/cli/extract-command.js";
import type { SbiDataset } from "../../src/dataset/types.js";
import { DEFAULT_SUMMARY_BINS, summaryColumns } from "../../src/dataset/summary.js";
import type { RatesOptions } from "../../src/physics/rates/options.js";
import { maxRelativeDifference, RATES_EXPECTED, strided, type ExpectedBlock } from "../physics/rates/expected.js";
import { gunzipFixture, makeTempDir, python } from "../support/compas-fixtures.js";

// The ensemble of test/expected/rates_ref.py: real fixtures, five of them given the same
// alpha, lambda, kick and fa in the manifest (two at Z = 1e-4), one alone.
const SCENARIO = RATES_EXPECTED.scenario;
const TYPES = ["BBH", "BHNS", "BNS"] as const;
const tmp = makeTempDir("dataset-rates-");
const paths: Record<string, string> = {};

function manifest(dir: string, runs: { run_id: string; path: string; params: object; n_systems: number }[]): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "ensemble_metadata.json"),
    JSON.stringify({
      creation_time: "2026-12-01T00:00:00",
      compas_binary: "COMPAS",
      n_systems_per_run: 1,
      runs: runs.map((r) => ({ run_id: r.run_id, params: { ...r.params, run_id: r.run_id }, output_file: r.path, status: "success", timestamp: "t", n_systems: r.n_systems })),
    }),
  );
  return dir;
}

/** The reference's option names as RatesOptions. */
function optionsOf(block: ExpectedBlock): RatesOptions {
  const o = block.options;
  const [a, b, c, d] = o.sfr as [number, number, number, number];
  const [mu0, muz, sigma0] = o.mssfr as [number, number, number];
  return {
    fBin: o.f_bin,
    sfr: { a, b, c, d },
    mssfr: { mu0, muz, sigma0 },
    cosmology: { H0: o.H0, omegaM: o.Om },
    zMax: o.z_max,
    zStep: o.z_step,
    zFirstSf: o.z_first_sf,
    outerZBins: o.outer,
  };
}

let source: string;
const datasets: Record<"default" | "variant", SbiDataset> = {} as never;

beforeAll(async () => {
  for (const s of SCENARIO) paths[s.run_id] = await gunzipFixture(s.fixture, join(tmp.dir, "fixtures", s.run_id));
  source = manifest(
    join(tmp.dir, "ensemble"),
    SCENARIO.map((s) => ({ run_id: s.run_id, path: paths[s.run_id] as string, params: s.params, n_systems: s.n_systems })),
  );
  datasets.default = await buildSbiDataset(source);
  datasets.variant = await buildSbiDataset(source, { rates: optionsOf(RATES_EXPECTED.variant) });
}, 600_000);
afterAll(() => tmp.cleanup());

describe("rates of a dataset built from the real fixtures, against test/expected/rates_ref.py", () => {
  it("records each run's mass bounds from its Run_Details and its star-forming mass to 1e-9", () => {
    const d = datasets.default;
    RATES_EXPECTED.default.runs.forEach((want, i) => {
      const s = (SCENARIO[i] as (typeof SCENARIO)[number]).sampling;
      expect([d.runMass.m1Min[i], d.runMass.m1Max[i], d.runMass.m2Min[i]], want.run_id).toEqual([s.m1_min, s.m1_max, s.m2_min]);
      expect(Math.abs((d.runMass.starFormingMass[i] as number) / want.star_forming_mass - 1), want.run_id).toBeLessThan(1e-9);
    });
    expect(d.runMass.m1Min[1]).toBe(8);
  });

  it("keeps today's x entries first, in order, and appends the yields per Msol and rates today", () => {
    const d = datasets.default;
    const before = summaryColumns(DEFAULT_SUMMARY_BINS);
    expect(d.xColumns.slice(0, before.length)).toEqual(before);
    expect(d.xColumns.slice(before.length)).toEqual([
      "yield_per_msun_BBH",
      "yield_per_msun_BBH_merging",
      "yield_per_msun_BHNS",
      "yield_per_msun_BHNS_merging",
      "yield_per_msun_BNS",
      "yield_per_msun_BNS_merging",
      "rate_BBH_z0",
      "rate_BHNS_z0",
      "rate_BNS_z0",
    ]);
  });

  it("gives yields per solar mass to 1e-9 and rate_<T>_z0 equal to R(0) of /rates", () => {
    const d = datasets.default;
    const x = (run: number, c: string) => d.x[run]![d.xColumns.indexOf(c)] as number;
    RATES_EXPECTED.default.runs.forEach((want, i) => {
      for (const [key, value] of Object.entries(want.yield_per_msun)) {
        const got = x(i, `yield_per_msun_${key}`);
        if (value === 0) expect(got, `${want.run_id} ${key}`).toBe(0);
        else expect(Math.abs(got / value - 1), `${want.run_id} ${key}`).toBeLessThan(1e-9);
      }
      for (const type of TYPES) expect(x(i, `rate_${type}_z0`)).toBe(d.rates.perRun![type][i]![0]);
    });
  });

  for (const label of ["default", "variant"] as const) {
    it(`matches R(z) of every run within 1 % on the whole grid (${label} options)`, () => {
      const d = datasets[label];
      const block = RATES_EXPECTED[label];
      const every = RATES_EXPECTED.every[label];
      expect(strided(d.rates.z!, every)).toEqual(block.z.map((z) => Number(z.toFixed(6))));
      block.runs.forEach((want, i) => {
        for (const type of TYPES) {
          expect(maxRelativeDifference(strided(d.rates.perRun![type][i]!, every), want.rates[type]), `${want.run_id} ${type}`).toBeLessThan(0.01);
        }
      });
    });

    it(`matches the rate combined over metallicity of the five-run group within 1 % (${label} options)`, () => {
      const d = datasets[label];
      const block = RATES_EXPECTED[label];
      const groups = block.groups.filter((g) => !g.single);
      expect(d.rates.combined!.theta).toEqual(groups.map((g) => g.theta));
      expect(d.rates.combined!.runs.map((r) => r.map((i) => d.runIds[i]))).toEqual(groups.map((g) => g.runs));
      groups.forEach((g, k) => {
        for (const type of TYPES) {
          const got = strided(d.rates.combined![type][k]!, RATES_EXPECTED.every[label]);
          expect(maxRelativeDifference(got, g.rates![type]), type).toBeLessThan(0.01);
        }
      });
    });
  }

  it("gives each DCO its R_i(0) within 1 %, in the stacked table's rate_z0", () => {
    const d = datasets.default;
    RATES_EXPECTED.default.runs.forEach((want, i) => {
      const got = d.dco.rate_z0!.filter((_, k) => d.dco.run_index[k] === i);
      expect(maxRelativeDifference(got, want.rate_z0), want.run_id).toBeLessThan(0.01);
      expect(got.some((v) => v > 0), want.run_id).toBe(true);
    });
  });

  it("reports the single-metallicity group in the diagnostics instead of combining it", () => {
    const d = datasets.default;
    const alone = d.runIds.indexOf("alone");
    const diag = (i: number) => (d.diagnostics[i]!.diagnostics as { rates: { combined_group: number | null; not_combined_reason: string | null } }).rates;
    expect(diag(alone).combined_group).toBeNull();
    expect(diag(alone).not_combined_reason).toMatch(/has runs at one metallicity only \(0\.0001\)/);
    expect(diag(0).combined_group).toBe(0);
    expect(d.rates.combined!.theta).toHaveLength(1);
  });
});

describe("extract with rates", () => {
  it("writes every new dataset so that h5py reads it with its units", async () => {
    const out = join(tmp.dir, "out", "sbi.h5");
    const result = await extractCommand({ source, out });
    expect(result.rateGroups).toEqual({ combined: 1, runsNotCombined: 1 });
    const got = JSON.parse(
      python(
        `import h5py, json, sys
f = h5py.File(sys.argv[1], "r")
names = ["runs/star_forming_mass", "runs/m1_min", "runs/m1_max", "runs/m2_min", "dco/a_final", "dco/e_final", "dco/rate_z0",
         "rates/z", "rates/BBH", "rates/BHNS", "rates/BNS", "rates_combined/theta", "rates_combined/runs",
         "rates_combined/BBH", "rates_combined/BHNS", "rates_combined/BNS"]
print(json.dumps({"units": {n: f[n].attrs["units"] for n in names}, "shapes": {n: list(f[n].shape) for n in names},
                  "z": [float(f["rates/z"][i]) == v for i, v in ((0, 0.0), (20, 0.2), (50, 0.5), (100, 1.0), (200, 2.0), (400, 4.0))],
                  "version": int(f.attrs["format_version"]), "rates": json.loads(f.attrs["rates"])}))`,
        [out],
      ),
    ) as { units: Record<string, string>; shapes: Record<string, number[]>; z: boolean[]; version: number; rates: Record<string, unknown> };
    expect(got.version).toBe(2);
    expect(got.units).toMatchObject({
      "runs/star_forming_mass": "Msol",
      "runs/m1_min": "Msol",
      "dco/a_final": "AU",
      "dco/e_final": "-",
      "dco/rate_z0": "Gpc^-3 yr^-1",
      "rates/z": "-",
      "rates/BBH": "Gpc^-3 yr^-1",
      "rates_combined/BNS": "Gpc^-3 yr^-1",
    });
    expect(Object.values(got.units).every((u) => typeof u === "string" && u.length > 0)).toBe(true);
    expect(got.shapes["rates/BBH"]).toEqual([6, 1001]);
    expect(got.shapes["rates_combined/runs"]).toEqual([1, 5]);
    expect(got.shapes["rates_combined/theta"]).toEqual([1, 4]);
    expect(got.z).toEqual([true, true, true, true, true, true]);
    expect(got.rates).toMatchObject({ f_bin: 0.7, sfr: { a: 0.01, b: 2.77, c: 2.9, d: 4.7 }, outer_z_bins: "drop", z_grid: { n_z: 1001 } });
  });
});

describe("rates and bad input", () => {
  let detailed: string;
  beforeAll(async () => {
    detailed = await gunzipFixture("detailed_alpha0.1_lambda0.1_Z0.0001_fa0.5_kick217_N5_seed100315", join(tmp.dir, "bad"));
  }, 120_000);

  function edited(name: string, change: string): string {
    const path = join(tmp.dir, "bad", `${name}.h5`);
    copyFileSync(detailed, path);
    python(`import h5py, numpy, sys\nf = h5py.File(sys.argv[1], "r+")\n${change}\nf.close()`, [path]);
    return path;
  }
  const params = { alpha_ce: 1, lambda_ce: 0.1, kick_sigma: 217, mass_transfer_fa: 0.5 };

  it("refuses a run without Run_Details, naming the run, and writes nothing", async () => {
    const broken = edited("no-details", 'del f["Run_Details"]');
    const dir = manifest(join(tmp.dir, "bad", "m1"), [
      { run_id: "good", path: paths["z1e-4_second"] as string, params: { ...params, metallicity: 1e-4 }, n_systems: 2000 },
      { run_id: "broken", path: broken, params: { ...params, metallicity: 0.001 }, n_systems: 5 },
    ]);
    const out = join(tmp.dir, "bad", "m1", "out", "sbi.h5");
    const err = await extractCommand({ source: dir, out }).catch((e) => e);
    expect(isCompasEnsembleError(err, "METADATA_INVALID")).toBe(true);
    expect(err.isUserError).toBe(true);
    expect(err.message).toBe(`Run broken (${broken}) has no Run_Details group, so its star-forming mass cannot be computed.`);
    expect(existsSync(join(tmp.dir, "bad", "m1", "out")) ? readdirSync(join(tmp.dir, "bad", "m1", "out")) : []).toEqual([]);
  });

  it("gives a run sampled with another IMF NaN star-forming mass, yields per Msol and rates, with a warning naming the reason", async () => {
    const salpeter = edited("salpeter", 'del f["Run_Details/initial-mass-function"]\nf["Run_Details"].create_dataset("initial-mass-function", data=numpy.array([b"\'SALPETER\'"], dtype="S11"))');
    const dir = manifest(join(tmp.dir, "bad", "m2"), [
      { run_id: "good", path: paths["z1e-4_second"] as string, params: { ...params, metallicity: 1e-4 }, n_systems: 2000 },
      { run_id: "salpeter", path: salpeter, params: { ...params, metallicity: 0.001 }, n_systems: 5 },
    ]);
    const result = await extractCommand({ source: dir, out: join(tmp.dir, "bad", "m2", "sbi.h5") });
    expect(result.warnings.filter((w) => w.startsWith("salpeter: star-forming mass"))).toEqual([
      'salpeter: star-forming mass, yields per Msol and merger rates are NaN: its initial-mass-function is SALPETER, and the star-forming mass formula needs KROUPA (docs/rates.md, "Star-forming mass").',
    ]);
    const d = await buildSbiDataset(dir);
    expect(d.runMass.starFormingMass[1]).toBeNaN();
    expect(d.x[1]![d.xColumns.indexOf("yield_per_msun_BBH")]).toBeNaN();
    expect(d.rates.perRun!.BBH[1]!.every((v) => Number.isNaN(v))).toBe(true);
    expect(d.runMass.starFormingMass[0]).toBeGreaterThan(0);
    expect(d.rates.perRun!.BBH[0]![0]).toBeGreaterThan(0);
    // The group's combined rate cannot be known without that run's star-forming mass.
    expect(d.rates.combined!.BBH[0]![0]).toBeNaN();
  });

  it("gives a run without DCOs rates of 0, not NaN", async () => {
    const none = edited("no-dcos", 'del f["BSE_Double_Compact_Objects"]');
    const dir = manifest(join(tmp.dir, "bad", "m3"), [{ run_id: "none", path: none, params: { ...params, metallicity: 1e-4 }, n_systems: 5 }]);
    const d = await buildSbiDataset(dir);
    expect(d.dco.length).toBe(0);
    for (const type of TYPES) expect(d.rates.perRun![type][0]!.every((v) => v === 0)).toBe(true);
    expect(d.x[0]!.slice(-9).every((v) => v === 0)).toBe(true);
  });

  it("refuses bad rates options before reading any run", async () => {
    const err = await buildSbiDataset("/does/not/exist", { rates: { fBin: -1 } }).catch((e) => e);
    expect(isCompasEnsembleError(err, "OPTIONS_INVALID")).toBe(true);
    expect(err.message).toMatch(/^rates\.fBin = -1 is invalid/);
  });
});
