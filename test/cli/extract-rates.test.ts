import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES, gunzipFixture, makeTempDir, python } from "../support/compas-fixtures.js";
import { cliCommand } from "../support/cli.js";

const run = promisify(execFile);
const [node, ...cli] = cliCommand();

async function ce(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(node!, [...cli, ...args], { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const tmp = makeTempDir("cli-rates-");
let source: string;

beforeAll(async () => {
  // Two real runs given the same alpha, lambda, kick and fa at different Z: one metallicity group.
  const theta = { alpha_ce: 1, lambda_ce: 0.1, kick_sigma: 217, mass_transfer_fa: 0.5 };
  const runs = [
    { run_id: "low_z", path: await gunzipFixture(FIXTURES.chunksFull, tmp.dir), metallicity: 1e-4, n_systems: 2000 },
    { run_id: "bounds", path: await gunzipFixture(FIXTURES.massBounds, tmp.dir), metallicity: 5e-4, n_systems: 5000 },
  ];
  source = join(tmp.dir, "ensemble");
  mkdirSync(source);
  writeFileSync(
    join(source, "ensemble_metadata.json"),
    JSON.stringify({
      creation_time: "t",
      compas_binary: "COMPAS",
      n_systems_per_run: 1,
      runs: runs.map((r) => ({
        run_id: r.run_id,
        params: { ...theta, metallicity: r.metallicity, run_id: r.run_id },
        output_file: r.path,
        status: "success",
        timestamp: "t",
        n_systems: r.n_systems,
      })),
    }),
  );
}, 120_000);
afterAll(() => tmp.cleanup());

const READ_RATES = `import h5py, json, sys
f = h5py.File(sys.argv[1], "r")
print(json.dumps({"rates": json.loads(f.attrs["rates"]), "groups": sorted(f.keys()), "n_z": int(f["rates/z"].shape[0]) if "rates" in f else 0,
                  "dco": sorted(f["dco"].keys())}))`;

describe("compas-ensemble extract with rates flags", () => {
  it("writes rates by default and reports the metallicity groups it combined", async () => {
    const out = join(tmp.dir, "default.h5");
    const r = await ce(["extract", source, "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("2 runs, 56 DCOs, x of length 61");
    expect(r.stdout).toContain("rates: 1 metallicity group(s) combined\n");
    const got = JSON.parse(python(READ_RATES, [out]));
    expect(got.groups).toEqual(["dco", "rates", "rates_combined", "runs", "theta", "x"]);
    expect(got.n_z).toBe(1001);
    expect(got.dco).toContain("rate_z0");
  });

  it("passes every rates flag into the computation and records it", async () => {
    const out = join(tmp.dir, "flags.h5");
    const r = await ce([
      "extract", source, "--out", out,
      "--fbin", "0.5", "--sfr", "0.015,2.7,2.9,5.6", "--mssfr", "0.025,-0.15,0.5",
      "--z-max", "8", "--z-step", "0.005", "--outer-z-bins", "extend",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(python(READ_RATES, [out]));
    expect(got.rates).toMatchObject({
      f_bin: 0.5,
      sfr: { a: 0.015, b: 2.7, c: 2.9, d: 5.6 },
      mssfr: { mu0: 0.025, muz: -0.15, sigma0: 0.5 },
      z_grid: { z_max: 8, z_step: 0.005, n_z: 1601 },
      outer_z_bins: "extend",
    });
    expect(got.n_z).toBe(1601);
  });

  it("leaves the rates out with --no-rates but keeps the star-forming mass", async () => {
    const out = join(tmp.dir, "off.h5");
    const r = await ce(["extract", source, "--out", out, "--no-rates"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("rates:");
    const got = JSON.parse(python(READ_RATES, [out]));
    expect(got.groups).toEqual(["dco", "runs", "theta", "x"]);
    expect(got.rates.enabled).toBe(false);
    expect(got.dco).not.toContain("rate_z0");
  });

  it("answers a bad rates flag with one sentence naming it, exit 2, and no file", async () => {
    for (const [flags, message] of [
      [["--fbin", "abc"], 'error: --fbin "abc" is not a number.'],
      [["--fbin", "-0.5"], "error: --fbin = -0.5 is invalid: must be greater than 0."],
      [["--sfr", "1,2,3"], 'error: --sfr "1,2,3" must be 4 comma-separated numbers (a,b,c,d).'],
      [["--mssfr", "0.035,-0.23,-1"], "error: --mssfr (sigma0) = -1 is invalid: must be greater than 0."],
      [["--z-step", "0.05"], "error: --z-step = 0.05 is invalid: the redshift step must be at most 0.01 and 1/k for a whole k that is a multiple of 10."],
      [["--outer-z-bins", "wide"], 'error: --outer-z-bins "wide" is not drop or extend.'],
    ] as const) {
      const out = join(tmp.dir, "bad.h5");
      const r = await ce(["extract", source, "--out", out, ...flags]);
      expect(r.code, flags.join(" ")).toBe(2);
      expect(r.stderr.split("\n")[0], flags.join(" ")).toBe(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(out)).toBe(false);
    }
  });
});

describe("compas-ensemble inspect of an SBI file", () => {
  it("shows the rates at z = 0 of each run and of the group", async () => {
    const out = join(tmp.dir, "inspect.h5");
    expect((await ce(["extract", source, "--out", out])).code).toBe(0);
    const r = await ce(["inspect", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("SBI dataset, format_version 2: 2 runs, 56 DCOs");
    expect(r.stdout).toMatch(/^low_z +0\.0001000 +2\.034e\+5 /m);
    expect(r.stdout).toMatch(/^bounds +0\.0005000 +9\.868e\+5 /m);
    expect(r.stdout).toMatch(/^1 0\.1 217 0\.5 +2 /m);
    const json = JSON.parse((await ce(["inspect", out, "--json"])).stdout);
    expect(json.runs.map((x: { run_id: string }) => x.run_id)).toEqual(["low_z", "bounds"]);
    expect(json.runs[0].rateZ0.BBH).toBeGreaterThan(0);
  });
});
