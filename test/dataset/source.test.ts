import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { readDatasetSource } from "../../src/dataset/source.js";

const params = (alpha: number) => ({
  alpha_ce: alpha,
  lambda_ce: 0.1,
  kick_sigma: 217,
  metallicity: 0.0001,
  mass_transfer_fa: 0.5,
});

function run(id: string, output: string, extra: Record<string, unknown> = {}) {
  return {
    run_id: id,
    params: { ...params(1), run_id: id },
    output_file: output,
    status: "success",
    timestamp: "2025-11-26T06:15:00",
    ...extra,
  };
}

function manifest(runs: unknown[]) {
  return { creation_time: "2025-11-26T06:00:00", compas_binary: "/opt/COMPAS", n_systems_per_run: 1000, runs };
}

function touch(path: string) {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, "not really hdf5");
}

function errorOf(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    if (isCompasEnsembleError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error("expected an error");
}

describe("readDatasetSource", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sbi-source-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("accepts the output directory or the manifest, and resolves relative output_file against the manifest", () => {
    touch(join(dir, "out", "a.h5"));
    writeFileSync(join(dir, "ensemble_metadata.json"), JSON.stringify(manifest([run("r0", "out/a.h5")])));
    for (const source of [dir, join(dir, "ensemble_metadata.json")]) {
      const s = readDatasetSource(source);
      expect(s.manifestPath).toBe(join(dir, "ensemble_metadata.json"));
      expect(s.runs).toEqual([{ run_id: "r0", params: params(1), n_systems: 1000, output_path: join(dir, "out", "a.h5") }]);
      expect(s.warnings).toEqual([]);
    }
  });

  it("falls back to runs/<run_id>/COMPAS_Output/COMPAS_Output.h5 when the predecessor's absolute path is gone", () => {
    const h5 = join(dir, "runs", "r0", "COMPAS_Output", "COMPAS_Output.h5");
    touch(h5);
    writeFileSync(
      join(dir, "ensemble_metadata.json"),
      JSON.stringify(manifest([run("r0", "/home/someone/ensemble/runs/r0/COMPAS_Output/COMPAS_Output.h5")])),
    );
    expect(readDatasetSource(dir).runs[0]!.output_path).toBe(h5);
  });

  it("finds COMPAS_Output.h5 when output_file names a run directory", () => {
    touch(join(dir, "r0", "COMPAS_Output", "COMPAS_Output.h5"));
    writeFileSync(join(dir, "ensemble_metadata.json"), JSON.stringify(manifest([run("r0", join(dir, "r0"))])));
    expect(readDatasetSource(dir).runs[0]!.output_path).toBe(join(dir, "r0", "COMPAS_Output", "COMPAS_Output.h5"));
  });

  it("reports OUTPUT_INCOMPLETE naming the run and every path tried when the output is nowhere", () => {
    writeFileSync(join(dir, "ensemble_metadata.json"), JSON.stringify(manifest([run("r7", "/gone/r7.h5")])));
    const e = errorOf(() => readDatasetSource(dir));
    expect(e.code).toBe("OUTPUT_INCOMPLETE");
    expect(e.message).toContain("r7");
    expect(e.message).toContain("/gone/r7.h5");
    expect(e.message).toContain(join(dir, "runs", "r7", "COMPAS_Output", "COMPAS_Output.h5"));
  });

  it("keeps only successful runs, in manifest order, with per-run n_systems when present", () => {
    touch(join(dir, "a.h5"));
    touch(join(dir, "c.h5"));
    const runs = [
      run("a", join(dir, "a.h5"), { n_systems: 5000 }),
      run("b", "/missing.h5", { status: "failed", error: "COMPAS crashed" }),
      run("c", "c.h5"),
    ];
    writeFileSync(join(dir, "ensemble_metadata.json"), JSON.stringify(manifest(runs)));
    const s = readDatasetSource(dir);
    expect(s.runs.map((r) => [r.run_id, r.n_systems])).toEqual([
      ["a", 5000],
      ["c", 1000],
    ]);
    expect(s.failedRunIds).toEqual(["b"]);
  });

  it("rejects a missing source, a directory without manifest and an invalid manifest with METADATA_INVALID", () => {
    expect(errorOf(() => readDatasetSource(join(dir, "nope"))).code).toBe("METADATA_INVALID");
    expect(errorOf(() => readDatasetSource(dir)).message).toContain("ensemble_metadata.json");
    writeFileSync(join(dir, "ensemble_metadata.json"), "{not json");
    expect(errorOf(() => readDatasetSource(dir)).code).toBe("METADATA_INVALID");
    writeFileSync(join(dir, "ensemble_metadata.json"), JSON.stringify({ runs: [] }));
    const e = errorOf(() => readDatasetSource(dir));
    expect(e.code).toBe("METADATA_INVALID");
    expect(e.message).toMatch(/creation_time|compas_binary|n_systems_per_run/);
  });

  it("refuses a run listed as successful twice with METADATA_CONFLICT", () => {
    touch(join(dir, "a.h5"));
    writeFileSync(join(dir, "ensemble_metadata.json"), JSON.stringify(manifest([run("a", "a.h5"), run("a", "a.h5")])));
    expect(errorOf(() => readDatasetSource(dir)).code).toBe("METADATA_CONFLICT");
  });

  describe("in a copy of an ensemble", () => {
    let original: string;
    beforeEach(() => {
      original = mkdtempSync(join(tmpdir(), "sbi-original-"));
    });
    afterEach(() => rmSync(original, { recursive: true, force: true }));

    const layout = (root: string, id: string) => join(root, "runs", id, "COMPAS_Output", "COMPAS_Output.h5");

    it("reads the copy's own output, not the original's that an absolute output_file names", () => {
      touch(layout(original, "r0"));
      touch(layout(dir, "r0"));
      touch(layout(original, "r1"));
      touch(layout(dir, "r1"));
      const runs = [
        // This library's manifest: output_key relative to the ensemble, output_file absolute.
        run("r0", layout(original, "r0"), { output_key: "runs/r0/COMPAS_Output/COMPAS_Output.h5" }),
        // The predecessor's: only an absolute output_file.
        run("r1", layout(original, "r1")),
      ];
      writeFileSync(join(dir, "ensemble_metadata.json"), JSON.stringify(manifest(runs)));
      const s = readDatasetSource(dir);
      expect(s.runs.map((r) => r.output_path)).toEqual([layout(dir, "r0"), layout(dir, "r1")]);
      expect(s.warnings).toEqual([]);
    });

    it("finds a copy of the predecessor's layout from the tail of its absolute output_file", () => {
      touch(join(dir, "r0", "COMPAS_Output.h5"));
      writeFileSync(join(dir, "ensemble_metadata.json"), JSON.stringify(manifest([run("r0", "/mnt/compas_runs/r0/COMPAS_Output.h5")])));
      expect(readDatasetSource(dir).runs[0]!.output_path).toBe(join(dir, "r0", "COMPAS_Output.h5"));
    });

    it("reads an output outside the ensemble only when the ensemble has none, and warns naming the run", () => {
      touch(layout(original, "r0"));
      writeFileSync(join(dir, "ensemble_metadata.json"), JSON.stringify(manifest([run("r0", layout(original, "r0"), { output_key: "runs/r0/COMPAS_Output/COMPAS_Output.h5" })])));
      const s = readDatasetSource(dir);
      expect(s.runs[0]!.output_path).toBe(layout(original, "r0"));
      expect(s.warnings).toHaveLength(1);
      expect(s.warnings[0]).toMatch(/^r0: /);
      expect(s.warnings[0]).toContain(layout(original, "r0"));
    });

    it("treats an absolute output_file inside the ensemble, reached through a symlink, as inside", () => {
      touch(layout(dir, "r0"));
      const alias = join(original, "alias");
      symlinkSync(dir, alias);
      writeFileSync(join(dir, "ensemble_metadata.json"), JSON.stringify(manifest([run("r0", layout(alias, "r0"))])));
      const s = readDatasetSource(dir);
      expect(s.runs[0]!.output_path).toBe(layout(alias, "r0"));
      expect(s.warnings).toEqual([]);
    });
  });

  it("accepts the predecessor's failed runs written without output_file and lists them as failed", () => {
    touch(join(dir, "a.h5"));
    const failed = { run_id: "b", params: { ...params(1), run_id: "b" }, status: "failed", error: "COMPAS crashed", timestamp: "2025-11-26T06:20:00" };
    writeFileSync(join(dir, "ensemble_metadata.json"), JSON.stringify(manifest([run("a", "a.h5"), failed])));
    const s = readDatasetSource(dir);
    expect(s.runs.map((r) => r.run_id)).toEqual(["a"]);
    expect(s.failedRunIds).toEqual(["b"]);
  });
});
