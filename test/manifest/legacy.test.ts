import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { mergeMetadata } from "../../src/manifest/merge.js";
import { mergePredecessorManifests } from "../../src/manifest/legacy.js";
import { ManifestSchema } from "../../src/manifest/schema.js";
import { makeFragment, makePlan } from "./_fixtures.js";

const root = mkdtempSync(join(tmpdir(), "ce-predecessor-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// The sparse grid as the predecessor wrote it: alpha outermost, then lambda, then Z.
const ALPHA = [
  ["0.100", "0.1"],
  ["0.154", "0.15444521049463789"],
  ["0.239", "0.23853323044733007"],
] as const;

function sparse(k: number): { runId: string; params: string } {
  const [alphaText, alphaJson] = ALPHA[Math.floor(k / 4)] as readonly [string, string];
  const lambda = Math.floor(k / 2) % 2 === 0 ? ["0.10", "0.1"] : ["0.50", "0.5"];
  const z = k % 2 === 0 ? ["0.00010", "0.0001"] : ["0.01420", "0.0142"];
  const runId = `alpha${alphaText}_lambda${lambda[0]}_kick217_Z${z[0]}_fa0.50`;
  // Written as Python's json.dump(indent=2) does, floats with their ".0".
  const params = `{
        "alpha_ce": ${alphaJson},
        "lambda_ce": ${lambda[1]},
        "kick_sigma": 217.0,
        "metallicity": ${z[1]},
        "mass_transfer_fa": 0.5,
        "run_id": "${runId}"
      }`;
  return { runId, params };
}

function pyRun(k: number, status: "success" | "failed", time: string, extra: { outputRoot?: string; error?: string } = {}): string {
  const { runId, params } = sparse(k);
  const error = extra.error === undefined ? "" : `,\n      "error": ${JSON.stringify(extra.error)}`;
  return `    {
      "run_id": "${runId}",
      "params": ${params},
      "output_file": "${extra.outputRoot ?? "/mnt/compas_runs"}/${runId}/COMPAS_Output.h5",
      "status": "${status}",
      "timestamp": "2025-11-${time}"${error}
    }`;
}

// The predecessor wrote a failed run without output_file.
function pyFailed(k: number, time: string, error: string): string {
  const { runId, params } = sparse(k);
  return `    {
      "run_id": "${runId}",
      "params": ${params},
      "status": "failed",
      "error": ${JSON.stringify(error)},
      "timestamp": "2025-11-${time}"
    }`;
}

function pySlice(created: string, runs: string[], n = 10000): string {
  return `{
  "creation_time": "2025-11-${created}",
  "compas_binary": "/opt/ASTROTHESIS/simulators/compas/src/bin/COMPAS",
  "n_systems_per_run": ${n},
  "runs": [
${runs.join(",\n")}
  ]
}
`;
}

function writeSlices(name: string, slices: Record<string, string>): string {
  const dir = join(root, name);
  for (const [slice, text] of Object.entries(slices)) {
    mkdirSync(join(dir, slice), { recursive: true });
    writeFileSync(join(dir, slice, "ensemble_metadata.json"), text);
  }
  return dir;
}

const OOM = "Command '['/opt/ASTROTHESIS/simulators/compas/src/bin/COMPAS', '--number-of-systems', '10000']' died with <Signals.SIGKILL: 9>.";

function realisticSlices(): Record<string, string> {
  return {
    slice_0: pySlice("27T08:12:44.518203", [
      pyRun(0, "success", "27T09:40:02.114733"),
      pyRun(1, "success", "27T11:02:51.009812"),
      pyRun(2, "success", "27T12:30:17.771020"),
      pyRun(3, "success", "27T13:58:40.402351"),
    ]),
    slice_1: pySlice("27T08:13:05.140027", [
      pyRun(4, "success", "27T09:51:12.663411"),
      pyRun(5, "failed", "27T10:07:58.220190", { error: OOM }),
      pyRun(6, "success", "27T11:30:26.918273"),
      pyRun(7, "failed", "27T12:01:44.310554", { error: "COMPAS exited with code 2" }),
    ]),
    // A retry slice, run later on another node: run 5 succeeds, run 7 fails again, and an
    // overlapping re-run of run 0 fails (the earlier success must stand).
    slice_10: pySlice("28T16:00:00.000001", [
      pyRun(0, "failed", "28T16:20:00.000000", { error: "COMPAS exited with code 143" }),
      pyRun(5, "success", "28T17:25:33.004419", { outputRoot: "/mnt/compas_runs" }),
      pyRun(7, "failed", "28T17:31:02.000000", { error: "COMPAS exited with code 3" }),
    ]),
    slice_2: pySlice("27T08:13:30.997761", [pyRun(8, "success", "27T10:02:09.551326"), pyRun(9, "success", "27T11:44:00.120948")]),
  };
}

describe("mergePredecessorManifests", () => {
  it("merges slice manifests by run id, success beating an earlier failure from another slice", async () => {
    const dir = writeSlices("realistic", realisticSlices());
    const summary = await mergePredecessorManifests({ inputDir: dir, now: () => new Date("2026-01-01T00:00:00Z") });
    expect({ files: summary.files, runs: summary.runs, success: summary.success, failed: summary.failed, duplicates: summary.duplicates }).toEqual({
      files: 4,
      runs: 10,
      success: 9,
      failed: 1,
      duplicates: 3,
    });
    expect(summary.output).toBe(join(dir, "ensemble_metadata.json"));
    const written = JSON.parse(readFileSync(join(dir, "ensemble_metadata.json"), "utf8"));
    expect(ManifestSchema.safeParse(written).success).toBe(true);
    expect(written.merged_from).toEqual([
      "slice_0/ensemble_metadata.json",
      "slice_1/ensemble_metadata.json",
      "slice_2/ensemble_metadata.json",
      "slice_10/ensemble_metadata.json",
    ]);
    expect(written.creation_time).toBe("2025-11-27T08:12:44.518203");
    expect(written.n_systems_per_run).toBe(10000);
    expect(written.runs.map((r: { run_id: string }) => r.run_id)).toEqual(Array.from({ length: 10 }, (_, k) => sparse(k).runId));
    expect(written.runs[0].status).toBe("success");
    expect(written.runs[0].timestamp).toBe("2025-11-27T09:40:02.114733");
    const run5 = written.runs[5];
    expect(run5.status).toBe("success");
    expect(run5.timestamp).toBe("2025-11-28T17:25:33.004419");
    expect(run5.error).toBeUndefined();
    expect(run5.params.kick_sigma).toBe(217);
    const run7 = written.runs[7];
    expect(run7.status).toBe("failed");
    expect(run7.error).toBe("COMPAS exited with code 3");
  });

  it("names the bad file and field when a slice manifest is invalid", async () => {
    const slices = realisticSlices();
    slices.slice_1 = (slices.slice_1 as string).replace('"status": "failed"', '"status": "crashed"');
    const dir = writeSlices("bad-field", slices);
    const file = join(dir, "slice_1", "ensemble_metadata.json");
    await expect(mergePredecessorManifests({ inputDir: dir })).rejects.toSatisfy(
      (e) => isCompasEnsembleError(e, "METADATA_INVALID") && (e as Error).message.includes(file) && (e as Error).message.includes("runs[1].status"),
    );
    expect(existsSync(join(dir, "ensemble_metadata.json"))).toBe(false);
  });

  it("names a slice file that is not JSON", async () => {
    const dir = writeSlices("bad-json", { ...realisticSlices(), slice_3: '{\n  "creation_time": "2025-11-27T08:1' });
    await expect(mergePredecessorManifests({ inputDir: dir })).rejects.toSatisfy(
      (e) => isCompasEnsembleError(e, "METADATA_INVALID") && (e as Error).message.includes(join(dir, "slice_3", "ensemble_metadata.json")),
    );
  });

  it("reports two successes of one run with different outputs as METADATA_CONFLICT naming both files", async () => {
    const slices = realisticSlices();
    slices.slice_2 = pySlice("27T08:13:30.997761", [pyRun(3, "success", "28T10:00:00.000000", { outputRoot: "/data/other" })]);
    const dir = writeSlices("conflict", slices);
    const err = await mergePredecessorManifests({ inputDir: dir }).catch((e: unknown) => e);
    expect(isCompasEnsembleError(err, "METADATA_CONFLICT")).toBe(true);
    expect((err as Error).message).toContain(join(dir, "slice_0", "ensemble_metadata.json"));
    expect((err as Error).message).toContain(join(dir, "slice_2", "ensemble_metadata.json"));
    expect((err as Error).message).toContain("output_file");
  });

  it("refuses slices of ensembles with a different number of systems per run", async () => {
    const slices = realisticSlices();
    slices.slice_2 = pySlice("27T08:13:30.997761", [pyRun(8, "success", "27T10:02:09.551326")], 100);
    const dir = writeSlices("mixed-n", slices);
    await expect(mergePredecessorManifests({ inputDir: dir })).rejects.toSatisfy((e) => isCompasEnsembleError(e, "METADATA_CONFLICT"));
  });

  it("writes nothing on a dry run and prints a summary", async () => {
    const dir = writeSlices("dry", realisticSlices());
    const lines: string[] = [];
    const summary = await mergePredecessorManifests({ inputDir: dir, dryRun: true, print: (l) => lines.push(l) });
    expect(summary.output).toBeNull();
    expect(existsSync(join(dir, "ensemble_metadata.json"))).toBe(false);
    expect(lines[0]).toContain("10 run(s): 9 success, 1 failed");
    expect(lines.slice(1)).toEqual([`failed: ${sparse(7).runId}: COMPAS exited with code 3`]);
  });

  it("follows --pattern and --output, with * staying inside one path segment", async () => {
    const dir = writeSlices("pattern", { "aws/slice_0": realisticSlices().slice_0 as string, "aws/x/slice_1": realisticSlices().slice_1 as string });
    const output = join(root, "pattern-out", "merged.json");
    const summary = await mergePredecessorManifests({ inputDir: dir, pattern: "aws/*/ensemble_metadata.json", output });
    expect(summary.files).toBe(1);
    expect(JSON.parse(readFileSync(output, "utf8")).runs).toHaveLength(4);
    await expect(mergePredecessorManifests({ inputDir: dir })).rejects.toSatisfy(
      (e) => isCompasEnsembleError(e, "METADATA_INVALID") && (e as Error).message.includes("slice_*/ensemble_metadata.json"),
    );
  });

  it("accepts this library's own manifests and keeps their shared provenance", async () => {
    const plan = makePlan({ runs: 4 });
    const all = plan.tasks.map((t) => makeFragment(plan, t.task_id));
    const dir = join(root, "ours");
    for (const [name, part] of [["slice_b", all.slice(0, 2)], ["slice_a", all.slice(2)]] as const) {
      mkdirSync(join(dir, name), { recursive: true });
      writeFileSync(join(dir, name, "ensemble_metadata.json"), JSON.stringify(mergeMetadata(part, plan)));
    }
    const summary = await mergePredecessorManifests({ inputDir: dir });
    expect(summary.runs).toBe(4);
    // slice_a holds the later grid points, yet grid_index puts them last.
    expect(summary.manifest.runs.map((r) => r.run_id)).toEqual(plan.runs.map((r) => r.run_id));
    expect(summary.manifest.ensemble_id).toBe(plan.ensemble_id);
    expect(summary.manifest.compas).toEqual(plan.compas);
  });

  it("accepts failed runs written without output_file, keeping them failed unless another slice has their success", async () => {
    const dir = writeSlices("no-output-file", {
      slice_0: pySlice("27T08:12:44.518203", [
        pyRun(0, "success", "27T09:40:02.114733"),
        pyFailed(1, "27T10:07:58.220190", OOM),
        pyFailed(2, "27T10:30:00.000000", "COMPAS exited with code 2"),
      ]),
      // The retry slice, run later: run 1 succeeds, run 2 fails again.
      slice_1: pySlice("28T16:00:00.000001", [
        pyRun(1, "success", "28T17:25:33.004419"),
        pyFailed(2, "28T17:31:02.000000", "COMPAS exited with code 3"),
      ]),
    });
    const summary = await mergePredecessorManifests({ inputDir: dir });
    expect({ runs: summary.runs, success: summary.success, failed: summary.failed }).toEqual({ runs: 3, success: 2, failed: 1 });
    const written = JSON.parse(readFileSync(join(dir, "ensemble_metadata.json"), "utf8"));
    expect(written.runs[1]).toMatchObject({ run_id: sparse(1).runId, status: "success", output_file: `/mnt/compas_runs/${sparse(1).runId}/COMPAS_Output.h5` });
    expect(written.runs[1].error).toBeUndefined();
    expect(written.runs[2]).toMatchObject({ run_id: sparse(2).runId, status: "failed", error: "COMPAS exited with code 3" });
    expect("output_file" in written.runs[2]).toBe(false);
    // The success also wins when its slice comes first.
    const reversed = writeSlices("no-output-file-reversed", {
      slice_0: pySlice("28T16:00:00.000001", [pyRun(1, "success", "28T17:25:33.004419")]),
      slice_1: pySlice("27T08:12:44.518203", [pyFailed(1, "29T10:07:58.220190", OOM)]),
    });
    expect((await mergePredecessorManifests({ inputDir: reversed })).manifest.runs[0]!.status).toBe("success");
  });

  describe("refuses an --output that would overwrite what it merges", () => {
    it("refuses one of the slices, also through .. or a symlink, and leaves it unchanged", async () => {
      const dir = writeSlices("output-is-input", realisticSlices());
      const slice = join(dir, "slice_0", "ensemble_metadata.json");
      const before = readFileSync(slice, "utf8");
      symlinkSync(slice, join(dir, "link.json"));
      for (const output of [slice, join(dir, "slice_1", "..", "slice_0", "ensemble_metadata.json"), join(dir, "link.json")]) {
        const err = await mergePredecessorManifests({ inputDir: dir, output }).catch((e: unknown) => e);
        expect(isCompasEnsembleError(err, "OUTPUT_PATH_REFUSED"), String(err)).toBe(true);
        expect((err as Error).message).toContain(slice);
      }
      expect(readFileSync(slice, "utf8")).toBe(before);
    });

    it("refuses a file a slice's ensemble owns, such as its plan.json or anything under runs/", async () => {
      const dir = writeSlices("output-is-owned", realisticSlices());
      for (const output of [join(dir, "slice_0", "plan.json"), join(dir, "slice_0", "runs", "merged.json")]) {
        await expect(mergePredecessorManifests({ inputDir: dir, output })).rejects.toSatisfy((e) => isCompasEnsembleError(e, "OUTPUT_PATH_REFUSED"));
        expect(existsSync(output)).toBe(false);
      }
    });

    it("replaces its own earlier result when a wide pattern matches it", async () => {
      const dir = join(root, "flat");
      mkdirSync(dir);
      const slices = realisticSlices();
      writeFileSync(join(dir, "slice_0.json"), slices.slice_0 as string);
      writeFileSync(join(dir, "slice_1.json"), slices.slice_1 as string);
      const first = await mergePredecessorManifests({ inputDir: dir, pattern: "*.json" });
      const second = await mergePredecessorManifests({ inputDir: dir, pattern: "*.json" });
      expect(second.files).toBe(2);
      expect(second.runs).toBe(first.runs);
    });
  });
});
