import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { openH5Read } from "../../src/hdf5/h5wasm.js";
import { fakeCompasPath, runFakeCompas } from "./fake-compas/index.js";
import { gunzipFixture, readColumn, snapshotH5, type ColumnSnapshot } from "./fake-compas/_h5-snapshot.js";

const BSE = (g: string) => g.startsWith("BSE_");
const PROGRESS = /^(\d+): ([A-Za-z ]+): \((\S+) -> (\S+)\) \+ \((\S+) -> (\S+)\)$/;

/** Flags of a typical grid point, with the three selectors that make every axis count. */
function physics(over: Record<string, string> = {}): string[] {
  const flags: Record<string, string> = {
    "--common-envelope-alpha": "1.0",
    "--common-envelope-lambda": "0.1",
    "--common-envelope-lambda-prescription": "LAMBDA_FIXED",
    "--metallicity": "0.001",
    "--kick-magnitude-distribution": "MAXWELLIAN",
    "--kick-magnitude-sigma-CCSN-NS": "217",
    "--kick-magnitude-sigma-CCSN-BH": "217",
    "--mass-transfer-fa": "0.5",
    "--mass-transfer-accretion-efficiency-prescription": "FIXED",
    "--hdf5-chunk-size": "1000",
    ...over,
  };
  return Object.entries(flags).flatMap(([k, v]) => [k, v]);
}

let tmp: string;
let fixtureH5: string;
const dirs = (() => {
  let k = 0;
  return () => join(tmp, `d${k++}`);
})();

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "fake-compas-"));
  // Smallest fixture with all five BSE groups.
  fixtureH5 = gunzipFixture("detailed_alpha0.1_lambda0.1_Z0.0001_fa0.5_kick217_N5_seed100315", join(tmp, "fixture"));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string> = {}, cwd?: string) {
  return runFakeCompas(args, { env, cwd });
}

function bseEqual(a: Map<string, ColumnSnapshot>, b: Map<string, ColumnSnapshot>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || v.dtype !== w.dtype) return false;
    if (Buffer.isBuffer(v.data) ? !Buffer.isBuffer(w.data) || !v.data.equals(w.data) : JSON.stringify(v.data) !== JSON.stringify(w.data)) return false;
  }
  return true;
}

describe("command line", () => {
  it("rejects an unknown flag, a bad value and a missing value with exit 3 and a message on stderr", async () => {
    const [unknown, badNumber, badBool, badEnum, missing] = await Promise.all([
      run(["-n", "2", "--no-such-flag", "1"]),
      run(["--common-envelope-alpha", "abc"]),
      run(["--rlof-printing", "maybe"]),
      run(["--kick-magnitude-distribution", "GAUSSIAN"]),
      run(["--output-path"]),
    ]);
    for (const r of [unknown, badNumber, badBool, badEnum, missing]) {
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^ERROR: /);
      expect(r.stdout).toBe("");
    }
    expect(unknown.stderr).toContain("--no-such-flag");
    expect(badNumber.stderr).toContain("--common-envelope-alpha");
  });

  it("rejects the same option twice, also through its short alias, with exit 3", async () => {
    const [twice, alias] = await Promise.all([
      run(["--metallicity", "0.001", "--metallicity", "0.002"]),
      run(["-n", "5", "--number-of-systems", "5"]),
    ]);
    expect(twice.code).toBe(3);
    expect(alias.code).toBe(3);
    expect(alias.stderr).toContain("--number-of-systems");
  });

  it("rejects --metallicity outside [0.0001, 0.03] with exit 3 and accepts both bounds and an unchecked fa of 1.5", async () => {
    const out = dirs();
    const [low, high, lowBound, highBound] = await Promise.all([
      run(["-n", "1", "--metallicity", "0.00009", "--output-path", out]),
      run(["-n", "1", "--metallicity", "0.031", "--output-path", out]),
      run(["-n", "1", "--metallicity", "0.0001", "--mass-transfer-fa", "1.5", "--output-path", out, "--output-container", "a"]),
      run(["-n", "1", "--metallicity", "0.03", "--output-path", out, "--output-container", "b"]),
    ]);
    expect(low.code).toBe(3);
    expect(low.stderr).toMatch(/metallicity/i);
    expect(high.code).toBe(3);
    expect(lowBound.code).toBe(0);
    expect(highBound.code).toBe(0);
  });

  it("prints the version, overridable by FAKE_COMPAS_VERSION, and an option list naming every flag the library uses", async () => {
    const [v, v2, h] = await Promise.all([
      run(["--version"]),
      run(["-v"], { FAKE_COMPAS_VERSION: "03.99.01", FAKE_COMPAS_FAIL: "exit3" }),
      run(["--help"]),
    ]);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain("COMPAS v03.07.00");
    expect(v2.stdout).toContain("COMPAS v03.99.01");
    expect(h.code).toBe(0);
    const flags = [
      "number-of-systems", "random-seed", "common-envelope-alpha", "common-envelope-lambda",
      "common-envelope-lambda-prescription", "kick-magnitude-distribution", "kick-magnitude-sigma-CCSN-NS",
      "kick-magnitude-sigma-CCSN-BH", "metallicity", "mass-transfer-fa", "mass-transfer-accretion-efficiency-prescription",
      "output-path", "output-container", "logfile-type", "hdf5-chunk-size", "rlof-printing", "evolve-unbound-systems",
      "detailed-output", "initial-mass-function", "semi-major-axis-distribution",
      "common-envelope-allow-main-sequence-survive", "quiet", "version", "help",
    ];
    for (const f of flags) expect(h.stdout).toMatch(new RegExp(`--${f}\\b`));
  });
});

describe("output", () => {
  const N = 300;
  const SEED = 4242;
  let out: string;
  let h5: string;
  let stdout: string;
  let snap: Map<string, ColumnSnapshot>;

  beforeAll(async () => {
    out = dirs();
    const r = await run(["-n", String(N), "--random-seed", String(SEED), ...physics(), "--rlof-printing", "TRUE", "--output-path", out]);
    expect(r.code).toBe(0);
    stdout = r.stdout;
    h5 = join(out, "COMPAS_Output", "COMPAS_Output.h5");
    snap = await snapshotH5(h5);
  });

  it("writes COMPAS_Output/COMPAS_Output.h5 and Run_Details with dtypes, units and chunking of the real files", async () => {
    expect(readFileSync(join(out, "COMPAS_Output", "Run_Details"), "utf8")).toMatch(/^Generated 300 of 300 binaries requested$/m);
    const real = await snapshotH5(fixtureH5, BSE);
    let compared = 0;
    for (const [key, col] of snap) {
      if (!BSE(key)) continue;
      const ref = real.get(key);
      expect(ref, `${key} exists in COMPAS output`).toBeDefined();
      expect(col.dtype, key).toBe(ref?.dtype);
      expect(col.units, key).toBe(ref?.units);
      expect(col.chunks, key).toEqual([1000]);
      expect(col.unlimited, key).toBe(true);
      compared++;
    }
    expect(compared).toBeGreaterThan(100);
    const groups = new Set([...snap.keys()].map((k) => k.split("/")[0]));
    expect([...groups].sort()).toEqual([
      "BSE_Common_Envelopes", "BSE_Double_Compact_Objects", "BSE_RLOF", "BSE_Supernovae", "BSE_System_Parameters", "Run_Details",
    ]);
  });

  it("writes every column the DCO extraction, spins and channels read", () => {
    const needed: Record<string, string[]> = {
      BSE_Double_Compact_Objects: ["SEED", "Mass(1)", "Mass(2)", "Stellar_Type(1)", "Stellar_Type(2)", "Time", "Coalescence_Time", "Merges_Hubble_Time", "SemiMajorAxis@DCO", "Eccentricity@DCO"],
      BSE_Supernovae: ["SEED", "Time", "Supernova_State", "Stellar_Type_Prev(SN)", "SemiMajorAxis<SN", "Mass_Total@CO(SN)", "Mass(CP)", "SN_Orbit_Inclination_Angle", "Stellar_Type(SN)"],
      BSE_Common_Envelopes: ["SEED", "Optimistic_CE", "Immediate_RLOF>CE", "Stellar_Type(1)<CE", "Stellar_Type(2)<CE", "Double_Core_CE"],
      BSE_RLOF: ["SEED", "MT_Event_Counter", "Time<MT", "Stellar_Type(1)<MT", "Stellar_Type(2)<MT", "RLOF(1)<MT", "RLOF(1)>MT", "RLOF(2)<MT", "RLOF(2)>MT", "CEE>MT", "Mass(1)<MT", "Mass(1)>MT", "Mass(2)<MT", "Mass(2)>MT"],
      BSE_System_Parameters: ["SEED", "Evolution_Status", "CH_on_MS(1)", "CH_on_MS(2)", "Stellar_Type@ZAMS(1)", "Stellar_Type@ZAMS(2)"],
    };
    for (const [g, cols] of Object.entries(needed)) for (const c of cols) expect(snap.has(`${g}/${c}`), `${g}/${c}`).toBe(true);
  });

  it("writes a Run_Details group of shape-(1,) entries with derivations, counts and the seed", async () => {
    const real = await snapshotH5(fixtureH5, (g) => g === "Run_Details");
    const rd = [...snap].filter(([k]) => k.startsWith("Run_Details/"));
    for (const [key, col] of rd) {
      expect(col.shape, key).toEqual([1]);
      expect(col.units, key).toBe("-");
      if (!key.endsWith("-Derivation")) expect(snap.has(`${key}-Derivation`), key).toBe(true);
      const ref = real.get(key);
      if (ref && /^</.test(ref.dtype)) expect(col.dtype, key).toBe(ref.dtype);
    }
    const value = async (name: string) => (await readColumn(h5, `Run_Details/${name}`))[0];
    expect(await value("Objects-Requested")).toBe(N);
    expect(await value("Objects-Created")).toBe(N);
    expect(await value("Actual-Random-Seed")).toBe(SEED);
    expect(await value("COMPAS-Version")).toBe("03.07.00");
    expect(await value("common-envelope-lambda-prescription")).toBe("'LAMBDA_FIXED'");
    expect(await value("metallicity-Derivation")).toBe("USER_SUPPLIED");
    expect(await value("quiet-Derivation")).toBe("DEFAULT_USED ");
    // What the star-forming mass reads (docs/rates.md), with COMPAS's defaults.
    expect(await value("initial-mass-min")).toBe(5);
    expect(await value("initial-mass-max")).toBe(150);
    expect(await value("minimum-secondary-mass")).toBe(0.1);
    expect(await value("mass-ratio-distribution")).toBe("'FLAT'");
    expect(await value("initial-mass-function")).toBe("'KROUPA'");
  });

  it("prints one progress line per binary and COMPAS's closing lines", async () => {
    const lines = stdout.split("\n").filter((l) => /^\d+: /.test(l));
    expect(lines).toHaveLength(N);
    lines.forEach((l, i) => {
      const m = PROGRESS.exec(l);
      expect(m, l).not.toBeNull();
      expect(Number(m?.[1])).toBe(i);
    });
    expect(stdout).toMatch(/^Generated 300 of 300 binaries requested$/m);
    expect(stdout.trimEnd()).toMatch(/Simulation completed\n\nEnd generating binaries at .+\n\nClock time = \S+ CPU seconds\nWall time  = \d{4}:\d\d:\d\d \(hhhh:mm:ss\)$/);
    const dcoLines = lines.filter((l) => l.includes(": DCO formed: ")).length;
    expect(snap.get("BSE_Double_Compact_Objects/SEED")?.shape[0]).toBe(dcoLines);
  });

  it("has consistent rows: one system row per SEED, SEEDs ascending, two supernovae per DCO", async () => {
    const sys = await readColumn(h5, "BSE_System_Parameters/SEED");
    expect(sys).toEqual(Array.from({ length: N }, (_, i) => SEED + i));
    for (const g of ["BSE_Supernovae", "BSE_Common_Envelopes", "BSE_RLOF", "BSE_Double_Compact_Objects"]) {
      const s = (await readColumn(h5, `${g}/SEED`)) as number[];
      expect(s.every((x, i) => i === 0 || x >= (s[i - 1] as number)), g).toBe(true);
    }
    const dco = (await readColumn(h5, "BSE_Double_Compact_Objects/SEED")) as number[];
    const sn = (await readColumn(h5, "BSE_Supernovae/SEED")) as number[];
    expect(dco.length).toBeGreaterThan(2);
    expect(dco.length).toBeLessThan(N * 0.1);
    for (const s of dco) expect(sn.filter((x) => x === s)).toHaveLength(2);
    const tc = (await readColumn(h5, "BSE_Double_Compact_Objects/Coalescence_Time")) as number[];
    const merges = await readColumn(h5, "BSE_Double_Compact_Objects/Merges_Hubble_Time");
    expect(merges).toEqual(tc.map((t) => (t < 14021.28 ? 1 : 0)));
    const types = [
      ...(await readColumn(h5, "BSE_Double_Compact_Objects/Stellar_Type(1)")),
      ...(await readColumn(h5, "BSE_Double_Compact_Objects/Stellar_Type(2)")),
    ];
    expect(types.every((t) => t === 13 || t === 14)).toBe(true);
  });

  it("creates groups lazily: no BSE_RLOF with --rlof-printing FALSE, no DCO group in a run without DCOs", async () => {
    const o = dirs();
    const r = await run(["-n", "3", "--random-seed", String(SEED), ...physics(), "--rlof-printing", "FALSE", "--output-path", o]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("DCO formed");
    const groups = new Set([...(await snapshotH5(join(o, "COMPAS_Output", "COMPAS_Output.h5"))).keys()].map((k) => k.split("/")[0]));
    expect(groups.has("BSE_RLOF")).toBe(false);
    expect(groups.has("BSE_Double_Compact_Objects")).toBe(false);
    expect(groups.has("BSE_System_Parameters")).toBe(true);
  });

  it("uses <container>_1, _2 when the container exists, the working directory when --output-path cannot be created; writes detailed files; --quiet drops progress lines", async () => {
    const o = dirs();
    const args = ["-n", "2", "--random-seed", "7", "--output-path", o, "--output-container", "C"];
    expect((await run(args)).code).toBe(0);
    expect((await run(args)).code).toBe(0);
    const quiet = await run([...args, "--detailed-output", "TRUE", "--quiet", "TRUE"]);
    expect(quiet.code).toBe(0);
    expect(readdirSync(o).sort()).toEqual(["C", "C_1", "C_2"]);
    expect(readdirSync(join(o, "C_2", "Detailed_Output")).sort()).toEqual(["BSE_Detailed_Output_0.h5", "BSE_Detailed_Output_1.h5"]);
    expect(quiet.stdout).not.toMatch(/^\d+: /m);
    expect(quiet.stdout).toContain("Generated 2 of 2 binaries requested");
    const cwd = dirs();
    mkdirSync(cwd);
    writeFileSync(join(cwd, "a-file"), "");
    const r = await run(["-n", "1", "--output-path", join(cwd, "a-file", "out")], {}, cwd);
    expect(r.code).toBe(0);
    expect(existsSync(join(cwd, "COMPAS_Output", "COMPAS_Output.h5"))).toBe(true);
  });
});

describe("determinism and physics", () => {
  it("gives bit-identical BSE groups for a chunked run (uneven chunks) and the unchunked run", async () => {
    const o = dirs();
    const base = [...physics({ "--metallicity": "0.0001" }), "--output-path", o];
    const [full, a, b, c] = await Promise.all([
      run(["-n", "400", "--random-seed", "9000", ...base, "--output-container", "full"]),
      run(["-n", "170", "--random-seed", "9000", ...base, "--output-container", "a"]),
      run(["-n", "1", "--random-seed", "9170", ...base, "--output-container", "b"]),
      run(["-n", "229", "--random-seed", "9171", ...base, "--output-container", "c"]),
    ]);
    for (const r of [full, a, b, c]) expect(r.code).toBe(0);
    const snaps = await Promise.all(["full", "a", "b", "c"].map((k) => snapshotH5(join(o, k, "COMPAS_Output.h5"), BSE)));
    const [sf, ...parts] = snaps as [Map<string, ColumnSnapshot>, ...Map<string, ColumnSnapshot>[]];
    expect(sf.has("BSE_Double_Compact_Objects/SEED")).toBe(true);
    for (const [key, col] of sf) {
      const pieces = parts.map((p) => p.get(key)?.data).filter((d) => d !== undefined);
      if (Buffer.isBuffer(col.data)) expect(Buffer.concat(pieces as Buffer[]).equals(col.data), key).toBe(true);
      else expect((pieces as string[][]).flat(), key).toEqual(col.data);
    }
    const tail = (s: string) => s.split("\n").filter((l) => /^\d+: /.test(l)).map((l) => l.replace(/^\d+: /, ""));
    expect([...tail(a.stdout), ...tail(b.stdout), ...tail(c.stdout)]).toEqual(tail(full.stdout));
  });

  it("lets lambda, sigma and fa act only through their selectors, alpha and Z always, and GSL_RNG_SEED leak through", async () => {
    const o = dirs();
    const variants: Record<string, { over: Record<string, string>; env?: Record<string, string> }> = {
      base: { over: {} },
      lambda: { over: { "--common-envelope-lambda": "0.5" } },
      sigma: { over: { "--kick-magnitude-sigma-CCSN-NS": "50", "--kick-magnitude-sigma-CCSN-BH": "50" } },
      fa: { over: { "--mass-transfer-fa": "0.1" } },
      alpha: { over: { "--common-envelope-alpha": "3" } },
      Z: { over: { "--metallicity": "0.01" } },
      gsl: { over: {}, env: { GSL_RNG_SEED: "5" } },
      inertA: { over: { "--common-envelope-lambda-prescription": "LAMBDA_NANJING", "--kick-magnitude-distribution": "MULLERMANDEL", "--mass-transfer-accretion-efficiency-prescription": "THERMAL" } },
      inertB: {
        over: {
          "--common-envelope-lambda-prescription": "LAMBDA_NANJING", "--kick-magnitude-distribution": "MULLERMANDEL", "--mass-transfer-accretion-efficiency-prescription": "THERMAL",
          "--common-envelope-lambda": "0.5", "--kick-magnitude-sigma-CCSN-NS": "50", "--kick-magnitude-sigma-CCSN-BH": "50", "--mass-transfer-fa": "0.1",
        },
      },
    };
    const names = Object.keys(variants);
    const results = await Promise.all(
      names.map((k) => run(["-n", "100", "--random-seed", "123", ...physics(variants[k]?.over), "--output-path", o, "--output-container", k], variants[k]?.env)),
    );
    for (const r of results) expect(r.code).toBe(0);
    const snaps = new Map<string, Map<string, ColumnSnapshot>>();
    for (const k of names) snaps.set(k, await snapshotH5(join(o, k, "COMPAS_Output.h5"), BSE));
    const base = snaps.get("base") as Map<string, ColumnSnapshot>;
    for (const k of ["lambda", "sigma", "fa", "alpha", "Z", "gsl"]) expect(bseEqual(base, snaps.get(k) as Map<string, ColumnSnapshot>), k).toBe(false);
    expect(bseEqual(snaps.get("inertA") as Map<string, ColumnSnapshot>, snaps.get("inertB") as Map<string, ColumnSnapshot>)).toBe(true);
  });
});

describe("failure modes (environment)", () => {
  it("FAKE_COMPAS_FAIL=exit3 exits 3 with a message", async () => {
    const r = await run(["-n", "2", "--output-path", dirs()], { FAKE_COMPAS_FAIL: "exit3" });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^ERROR: /);
  });

  it("FAKE_COMPAS_KILL_AFTER leaves a 96-byte unreadable COMPAS_Output.h5 and an empty Run_Details, and no .end file", async () => {
    const o = dirs();
    const started = join(tmp, "started-kill");
    mkdirSync(started);
    const r = await run(["-n", "10", "--output-path", o], { FAKE_COMPAS_KILL_AFTER: "3", FAKE_COMPAS_STARTED_DIR: started });
    expect(r.signal).toBe("SIGTERM");
    expect(r.stdout.split("\n").filter((l) => /^\d+: /.test(l))).toHaveLength(3);
    const h5 = join(o, "COMPAS_Output", "COMPAS_Output.h5");
    expect(statSync(h5).size).toBe(96);
    expect(statSync(join(o, "COMPAS_Output", "Run_Details")).size).toBe(0);
    const err = await openH5Read(h5).catch((e: unknown) => e);
    expect(isCompasEnsembleError(err, "HDF5_UNREADABLE")).toBe(true);
    const files = readdirSync(started);
    expect(files.filter((f) => f.endsWith(".start"))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith(".end"))).toHaveLength(0);
  });

  it("FAKE_COMPAS_KILL_SIGNAL chooses the signal FAKE_COMPAS_KILL_AFTER sends, e.g. a segmentation fault", async () => {
    const r = await run(["-n", "10", "--output-path", dirs()], { FAKE_COMPAS_KILL_AFTER: "2", FAKE_COMPAS_KILL_SIGNAL: "SIGSEGV" });
    expect(r.signal).toBe("SIGSEGV");
    expect(r.stdout.split("\n").filter((l) => /^\d+: /.test(l))).toHaveLength(2);
  });

  it("FAKE_COMPAS_FAIL=stopped reports an ERROR line on stderr after two binaries and exits 2", async () => {
    const r = await run(["-n", "10", "--output-path", dirs()], { FAKE_COMPAS_FAIL: "stopped" });
    expect(r.code).toBe(2);
    expect(r.stdout.split("\n").filter((l) => /^\d+: /.test(l))).toHaveLength(2);
    expect(r.stderr).toBe("ERROR: in BaseBinaryStar::Evolve(): failure forced by FAKE_COMPAS_FAIL=stopped\n");
    expect(r.stdout).toMatch(/^Generated 2 of 10 binaries requested$/m);
  });

  it("FAKE_COMPAS_HANG prints its pid and runs until killed", async () => {
    const child = spawn(fakeCompasPath(), ["-n", "5", "--output-path", dirs()], {
      env: { ...process.env, FAKE_COMPAS_HANG: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const pid = await new Promise<number>((resolve, reject) => {
      let buf = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        buf += d;
        const m = /fake COMPAS pid (\d+)/.exec(buf);
        if (m) resolve(Number(m[1]));
      });
      child.on("exit", () => reject(new Error("exited before printing its pid")));
    });
    expect(pid).toBe(child.pid);
    expect(child.exitCode).toBeNull();
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_c, s) => resolve(s)));
    process.kill(pid, "SIGTERM");
    expect(await exited).toBe("SIGTERM");
  });

  it("FAKE_COMPAS_DELAY_MS spreads the progress lines over time", async () => {
    const child = spawn(fakeCompasPath(), ["-n", "4", "--output-path", dirs()], {
      env: { ...process.env, FAKE_COMPAS_DELAY_MS: "150" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const seen: number[] = [];
    let buf = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      const n = buf.split("\n").filter((l) => /^\d+: /.test(l)).length;
      while (seen.length < n) seen.push(Date.now());
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(code).toBe(0);
    expect(seen).toHaveLength(4);
    expect((seen[3] as number) - (seen[0] as number)).toBeGreaterThanOrEqual(3 * 150 - 20);
  });

  it("FAKE_COMPAS_INCOMPLETE exits 0 but stops early, as an aborted COMPAS does", async () => {
    const o = dirs();
    const r = await run(["-n", "10", "--output-path", o], { FAKE_COMPAS_INCOMPLETE: "1" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Evolution stopped because an error occurred");
    expect(r.stdout).toMatch(/^Generated 5 of 10 binaries requested$/m);
    expect(r.stdout).not.toContain("Simulation completed");
    const h5 = join(o, "COMPAS_Output", "COMPAS_Output.h5");
    expect((await readColumn(h5, "Run_Details/Objects-Created"))[0]).toBe(5);
    expect((await readColumn(h5, "Run_Details/Objects-Requested"))[0]).toBe(10);
    expect(await readColumn(h5, "BSE_System_Parameters/SEED")).toHaveLength(5);
  });

  it("FAKE_COMPAS_FAIL_ONCE_FILE is killed with SIGKILL the first time and succeeds once the file exists", async () => {
    const marker = join(tmp, "fail-once");
    const first = await run(["-n", "1", "--output-path", dirs()], { FAKE_COMPAS_FAIL_ONCE_FILE: marker });
    expect(first.signal).toBe("SIGKILL");
    expect(existsSync(marker)).toBe(true);
    const second = await run(["-n", "1", "--output-path", dirs()], { FAKE_COMPAS_FAIL_ONCE_FILE: marker });
    expect(second.code).toBe(0);
  });

  it("FAKE_COMPAS_FAIL_ONCE_FILE fails exactly one of several runs started together", async () => {
    const marker = join(tmp, "fail-once-together");
    const runs = await Promise.all(Array.from({ length: 8 }, () => run(["-n", "1", "--output-path", dirs()], { FAKE_COMPAS_FAIL_ONCE_FILE: marker })));
    expect(runs.filter((r) => r.signal === "SIGKILL")).toHaveLength(1);
    expect(runs.filter((r) => r.code === 0)).toHaveLength(7);
  });

  it("FAKE_COMPAS_EXIT_AT_ONCE exits 0 without output; FAKE_COMPAS_STARTED_DIR records start and end", async () => {
    const o = dirs();
    const started = join(tmp, "started-once");
    mkdirSync(started);
    const r = await run(["-n", "100", "--output-path", o], { FAKE_COMPAS_EXIT_AT_ONCE: "1", FAKE_COMPAS_STARTED_DIR: started });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(existsSync(o)).toBe(false);
    const files = readdirSync(started).sort();
    expect(files).toHaveLength(2);
    const [end, start] = files as [string, string];
    expect(start).toMatch(/^\d+\.start$/);
    expect(end).toBe(start.replace(".start", ".end"));
    expect(Number(readFileSync(join(started, end), "utf8"))).toBeGreaterThanOrEqual(Number(readFileSync(join(started, start), "utf8")));
  });
});

describe("fakeCompasPath", () => {
  it("is the absolute path of an executable named COMPAS", () => {
    const p = fakeCompasPath();
    expect(isAbsolute(p)).toBe(true);
    expect(p.endsWith("/fake-compas/COMPAS")).toBe(true);
    expect(statSync(p).mode & 0o111).not.toBe(0);
  });
});
