import { describe, expect, it } from "vitest";
import { buildCompasArgs, compasEnv, displayCommand, parseFlags, withOutput } from "../../src/compas/index.js";
import { type CompasEnsembleError, isCompasEnsembleError } from "../../src/errors.js";
import { expandGrid, sparseGrid } from "../../src/grid/index.js";

const point = expandGrid(sparseGrid())[5]!;

function valueOf(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("not refused");
}

function count(args: string[], flag: string): number {
  return args.filter((a) => a === flag).length;
}

describe("buildCompasArgs", () => {
  it("passes every grid value, N, the seed, HDF5 logging and a small chunk size", () => {
    const args = buildCompasArgs(point, { nSystems: 250, seed: 12_345 });
    expect(valueOf(args, "--number-of-systems")).toBe("250");
    expect(valueOf(args, "--random-seed")).toBe("12345");
    expect(Number(valueOf(args, "--common-envelope-alpha"))).toBe(point.params.alpha_ce);
    expect(Number(valueOf(args, "--common-envelope-lambda"))).toBe(point.params.lambda_ce);
    expect(valueOf(args, "--kick-magnitude-sigma-CCSN-NS")).toBe("217");
    expect(valueOf(args, "--kick-magnitude-sigma-CCSN-BH")).toBe("217");
    expect(Number(valueOf(args, "--metallicity"))).toBe(point.params.metallicity);
    expect(valueOf(args, "--mass-transfer-fa")).toBe("0.5");
    expect(valueOf(args, "--logfile-type")).toBe("HDF5");
    expect(valueOf(args, "--hdf5-chunk-size")).toBe("1000");
  });

  it("adds the three prescription selectors that make lambda, kick sigma and fa take effect", () => {
    const args = buildCompasArgs(point, { nSystems: 10, seed: 0 });
    expect(valueOf(args, "--common-envelope-lambda-prescription")).toBe("LAMBDA_FIXED");
    expect(valueOf(args, "--kick-magnitude-distribution")).toBe("MAXWELLIAN");
    expect(valueOf(args, "--mass-transfer-accretion-efficiency-prescription")).toBe("FIXED");
  });

  it("default profile: no detailed output, RLOF printing on", () => {
    const args = buildCompasArgs(point, { nSystems: 10, seed: 0 });
    expect(valueOf(args, "--detailed-output")).toBe("FALSE");
    expect(valueOf(args, "--rlof-printing")).toBe("TRUE");
  });

  it("predecessor profile: the old script's flags with detailed output on", () => {
    const args = buildCompasArgs(point, { nSystems: 10, seed: 0 }, { profile: "predecessor" });
    expect(valueOf(args, "--detailed-output")).toBe("TRUE");
    for (const [flag, value] of [
      ["--initial-mass-function", "KROUPA"],
      ["--semi-major-axis-distribution", "FLATINLOG"],
      ["--common-envelope-allow-main-sequence-survive", "TRUE"],
      ["--evolve-unbound-systems", "FALSE"],
      ["--rlof-printing", "TRUE"],
    ]) {
      expect(valueOf(args, flag!)).toBe(value);
    }
  });

  it("lets an extra flag replace a profile flag instead of passing it twice (COMPAS exits 3 on duplicates)", () => {
    const args = buildCompasArgs(point, { nSystems: 10, seed: 0 }, { extraFlags: ["--detailed-output", "TRUE"] });
    expect(count(args, "--detailed-output")).toBe(1);
    expect(valueOf(args, "--detailed-output")).toBe("TRUE");
  });

  it.each([
    ["--common-envelope-lambda-prescription", "LAMBDA_NANJING", "lambda_ce"],
    ["--kick-magnitude-distribution", "MULLERMANDEL", "kick_sigma"],
    ["--mass-transfer-accretion-efficiency-prescription", "THERMAL", "mass_transfer_fa"],
  ])("refuses %s %s because it makes %s inert", (flag, value, axis) => {
    try {
      buildCompasArgs(point, { nSystems: 10, seed: 0 }, { extraFlags: [flag, value] });
      throw new Error("not refused");
    } catch (e) {
      expect(isCompasEnsembleError(e, "AXIS_INERT")).toBe(true);
      expect((e as Error).message).toContain(`Grid axis ${axis}`);
      expect((e as Error).message).toContain(flag);
      // The way out, for CLI users first and API users too.
      expect((e as CompasEnsembleError).hint).toContain("--allow-inert-axes");
      expect((e as CompasEnsembleError).hint).toContain("allowInertAxes");
    }
  });

  it("allows an inert axis when asked, passing the user's selector once", () => {
    const args = buildCompasArgs(
      point,
      { nSystems: 10, seed: 0 },
      { extraFlags: ["--kick-magnitude-distribution=MULLERMANDEL"], allowInertAxes: true },
    );
    expect(count(args, "--kick-magnitude-distribution")).toBe(1);
    expect(valueOf(args, "--kick-magnitude-distribution")).toBe("MULLERMANDEL");
  });

  it("accepts the selector the library would add anyway, in any case", () => {
    const args = buildCompasArgs(point, { nSystems: 10, seed: 0 }, { extraFlags: ["--kick-magnitude-distribution", "maxwellian"] });
    expect(count(args, "--kick-magnitude-distribution")).toBe(1);
  });

  it.each([["--metallicity"], ["-z"], ["--random-seed"], ["-n"], ["--output-path"], ["--common-envelope-alpha"]])(
    "refuses extra flag %s that the library sets itself",
    (flag) => {
      expect(() => buildCompasArgs(point, { nSystems: 10, seed: 0 }, { extraFlags: [flag, "1"] })).toThrow(
        /cannot be given because/,
      );
    },
  );

  it.each([
    [["--random-seed", "5"], "--random-seed", "--seed-base", "seedBase"],
    [["-n", "5"], "-n (--number-of-systems)", "--n-systems", "nSystems"],
    [["-o", "out"], "-o (--output-path)", "--output-dir", "output"],
    [["--output-container", "c"], "--output-container", "--output-dir", "output"],
  ])("refusing %j names the flag as given, the CLI flag to use and the API option", (extraFlags, shown, cliFlag, apiOption) => {
    const e = thrown(() => buildCompasArgs(point, { nSystems: 10, seed: 0 }, { extraFlags }));
    expect(isCompasEnsembleError(e, "OPTIONS_INVALID")).toBe(true);
    expect((e as Error).message).toContain(`Extra COMPAS flag ${shown} cannot be given because`);
    expect((e as CompasEnsembleError).hint).toMatch(new RegExp(`use ${cliFlag} .*\\(${apiOption}\\b.* in the API\\)`));
  });

  it.each([
    [["--quiet", "TRUE", "--quiet", "FALSE"], "--quiet", "twice (values TRUE, FALSE)"],
    [["--quiet=TRUE", "--rlof-printing", "TRUE", "--quiet", "FALSE"], "--quiet", "twice (values TRUE, FALSE)"],
    // COMPAS matches option names without regard to case.
    [["--rlof-printing", "TRUE", "--RLOF-Printing", "FALSE", "--rlof-printing"], "--rlof-printing", "3 times (values TRUE, FALSE, (no value))"],
  ])("refuses the repeated COMPAS option in %j, which COMPAS would reject in every task", (extraFlags, flag, times) => {
    const e = thrown(() => buildCompasArgs(point, { nSystems: 10, seed: 0 }, { extraFlags }));
    expect(isCompasEnsembleError(e, "OPTIONS_INVALID")).toBe(true);
    expect((e as Error).message).toBe(`Extra COMPAS flag ${flag} is given ${times}, and COMPAS refuses a repeated option.`);
  });

  it("refuses a task of more systems than COMPAS's 32-bit --number-of-systems holds, and accepts the largest", () => {
    expect(valueOf(buildCompasArgs(point, { nSystems: 2_147_483_647, seed: 0 }), "--number-of-systems")).toBe("2147483647");
    const e = thrown(() => buildCompasArgs(point, { nSystems: 2_147_483_648, seed: 0 }));
    expect(isCompasEnsembleError(e, "OPTIONS_INVALID")).toBe(true);
    expect((e as Error).message).toContain("at most 2147483647");
    expect((e as CompasEnsembleError).hint).toContain("--systems-per-task");
  });

  it("refuses seeds past 2^53 - 1, where they stop being exact numbers", () => {
    const max = Number.MAX_SAFE_INTEGER;
    expect(valueOf(buildCompasArgs(point, { nSystems: 10, seed: max - 9 }), "--random-seed")).toBe(String(max - 9));
    const e = thrown(() => buildCompasArgs(point, { nSystems: 10, seed: max - 8 }));
    expect(isCompasEnsembleError(e, "OPTIONS_INVALID")).toBe(true);
    expect((e as CompasEnsembleError).hint).toContain("--seed-base");
  });

  it("rejects a chunk size below COMPAS's minimum", () => {
    expect(() => buildCompasArgs(point, { nSystems: 10, seed: 0 }, { hdf5ChunkSize: 10 })).toThrow(/below COMPAS's minimum/);
  });

  it("returns an argv array whose values are never split or shell-interpreted", () => {
    const args = withOutput(buildCompasArgs(point, { nSystems: 1, seed: 0 }), "/tmp/a dir; rm -rf ~", "C");
    expect(valueOf(args, "--output-path")).toBe("/tmp/a dir; rm -rf ~");
    expect(displayCommand(["COMPAS", ...args])).toContain("'/tmp/a dir; rm -rf ~'");
  });
});

describe("parseFlags", () => {
  it("reads --flag value, --flag=value, bare switches and negative numbers", () => {
    expect(parseFlags(["--a", "1", "--b=x", "--quiet", "--c", "-2"])).toEqual([
      ["--a", "1"],
      ["--b", "x"],
      ["--quiet", undefined],
      ["--c", "-2"],
    ]);
  });

  it("rejects a stray value", () => {
    expect(() => parseFlags(["TRUE"])).toThrow(/'TRUE' is not a flag/);
  });
});

describe("compasEnv", () => {
  it("drops GSL_RNG_SEED and GSL_RNG_TYPE and keeps the rest", () => {
    const env = compasEnv({ GSL_RNG_SEED: "1", GSL_RNG_TYPE: "taus", PATH: "/bin", HOME: "/h" });
    expect(env).toEqual({ PATH: "/bin", HOME: "/h" });
  });
});
