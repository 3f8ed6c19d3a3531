import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Dataset, Group } from "h5wasm";
import { describe, expect, it } from "vitest";
import { runEnsemble, type EnsembleEvent, type RunEnsembleOptions } from "../../src/ensemble/run.js";
import { isCompasEnsembleError } from "../../src/errors.js";
import { LocalExecutor } from "../../src/executors/local/executor.js";
import { expandGrid, sliceGrid, sparseGrid } from "../../src/grid/index.js";
import { openH5Read } from "../../src/hdf5/h5wasm.js";
import { cliCommand } from "../support/cli.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { isAlive, maxOverlap, standInProcesses, waitFor } from "../support/processes.js";
import { withTmpfs } from "../support/tmpfs.js";
import { fragmentsIn, manifestOf } from "../support/ensemble-files.js";

const execFileAsync = promisify(execFile);

/** Runs the built CLI to its end; never rejects. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  const [node, ...cliArgs] = cliCommand();
  try {
    const { stderr } = await execFileAsync(node!, [...cliArgs, ...args], { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stderr };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const points = expandGrid(sparseGrid());

function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `ens-${name}-`));
}

function options(out: string, extra: Partial<RunEnsembleOptions> & { env?: Record<string, string>; concurrency?: number; retries?: number; timeoutMs?: number } = {}): RunEnsembleOptions {
  const { env, concurrency, retries, timeoutMs, ...rest } = extra;
  return {
    points: sliceGrid(points, 0, 3),
    nSystems: 20,
    compasBinary: fakeCompasPath(),
    output: out,
    executor: new LocalExecutor({
      concurrency: concurrency ?? 2,
      retries: retries ?? 2,
      retryBackoffMs: 10,
      taskTimeoutMs: timeoutMs,
      env: { ...process.env, ...env },
    }),
    ...rest,
  };
}

describe("runEnsemble on the local executor", () => {
  it("runs tasks in parallel up to the concurrency, observed as overlapping COMPAS processes", async () => {
    const out = tempDir("par");
    const started = tempDir("par-pids");
    const summary = await runEnsemble(
      options(out, { points: sliceGrid(points, 0, 4), env: { FAKE_COMPAS_STARTED_DIR: started, FAKE_COMPAS_DELAY_MS: "25" } }),
    );
    expect(summary.runs).toEqual({ total: 4, succeeded: 4, failed: 0, pending: 0 });
    const procs = standInProcesses(started).filter((p) => p.end !== undefined);
    // --version and --help probes also start the stand-in; the 4 task processes run 20 binaries.
    expect(procs.length).toBeGreaterThanOrEqual(4);
    expect(maxOverlap(procs)).toBe(2);
  });

  it("writes a manifest the predecessor's loaders read, with provenance, and output files that exist", async () => {
    const out = tempDir("man");
    const summary = await runEnsemble(options(out));
    const manifest = manifestOf(out);
    expect(manifest.n_systems_per_run).toBe(20);
    expect(manifest.compas_binary).toBe(fakeCompasPath());
    expect(manifest.runs.map((r) => r.run_id)).toEqual(points.slice(0, 3).map((p) => p.run_id));
    for (const [i, run] of manifest.runs.entries()) {
      expect(run.status).toBe("success");
      expect(run.params).toEqual({ ...points[i]!.params, run_id: points[i]!.run_id });
      expect(existsSync(run.output_file!)).toBe(true);
      expect(run.output_file).toBe(join(out, "runs", run.run_id, "COMPAS_Output", "COMPAS_Output.h5"));
    }
    const raw = JSON.parse(readFileSync(join(out, "ensemble_metadata.json"), "utf8"));
    expect(raw.ensemble_id).toBe(summary.ensembleId);
    expect(raw.compas.version).toBe("03.07.00");
    expect(raw.compas.sha256).toMatch(/^[0-9a-f]{64}$/);
    const frags = fragmentsIn(out);
    expect(new Set(frags.map((f) => f.seed))).toEqual(new Set([0, 20, 40]));
    for (const f of frags) {
      expect(f.output!.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(f.output!.rows.BSE_System_Parameters).toBe(20);
      expect(f.argv).not.toContain("GSL_RNG_SEED");
    }
  });

  it("skips every verified task when run again, and reruns only an output that was corrupted", async () => {
    const out = tempDir("resume");
    await runEnsemble(options(out));
    const again = await runEnsemble(options(out));
    expect(again.tasks).toEqual({ total: 3, skipped: 3, submitted: 0 });
    expect(fragmentsIn(out)).toHaveLength(3);

    const victim = points[1]!.run_id;
    writeFileSync(join(out, "runs", victim, "COMPAS_Output", "COMPAS_Output.h5"), "not an hdf5 file");
    const events: EnsembleEvent[] = [];
    const third = await runEnsemble(options(out, { onEvent: (e) => events.push(e) }));
    expect(third.tasks).toEqual({ total: 3, skipped: 2, submitted: 1 });
    expect(events.some((e) => e.type === "unverified" && e.taskId === victim)).toBe(true);
    expect(third.runs.succeeded).toBe(3);
    const rerun = fragmentsIn(out).filter((f) => f.task_id === victim);
    expect(rerun.map((f) => f.attempt).sort()).toEqual([1, 2]);
    expect(rerun.find((f) => f.attempt === 2)!.supersedes).toEqual([1]);
    const file = await openH5Read(join(out, "runs", victim, "COMPAS_Output", "COMPAS_Output.h5"));
    file.close();
  });

  it("retries a task killed from outside (SIGTERM) with backoff, then records it as failed with the reason", async () => {
    const out = tempDir("crash");
    const summary = await runEnsemble(options(out, { points: sliceGrid(points, 0, 2), retries: 1, env: { FAKE_COMPAS_KILL_AFTER: "3" } }));
    expect(summary.runs).toEqual({ total: 2, succeeded: 0, failed: 2, pending: 0 });
    const frags = fragmentsIn(out);
    expect(frags).toHaveLength(4);
    for (const f of frags) {
      expect(f.status).toBe("failed");
      expect(f.error!.code).toBe("COMPAS_FAILED");
      expect(f.error!.message).toMatch(/SIGTERM|143/);
    }
    const manifest = manifestOf(out);
    expect(manifest.runs.every((r) => r.status === "failed" && /COMPAS_FAILED/.test(r.error ?? ""))).toBe(true);
  });

  it("does not retry a command-line error (exit 3)", async () => {
    const out = tempDir("exit3");
    const summary = await runEnsemble(options(out, { points: sliceGrid(points, 0, 1), env: { FAKE_COMPAS_FAIL: "exit3" } }));
    expect(summary.runs.failed).toBe(1);
    const frags = fragmentsIn(out);
    expect(frags).toHaveLength(1);
    expect(frags[0]!.error).toMatchObject({ code: "COMPAS_FLAG_UNKNOWN", retryable: false, exit_code: 3 });
  });

  it("succeeds on the retry after a failure of the machine (COMPAS killed with SIGKILL, as by the OOM killer)", async () => {
    const out = tempDir("once");
    const marker = join(tempDir("once-marker"), "failed-once");
    const summary = await runEnsemble(options(out, { points: sliceGrid(points, 0, 1), env: { FAKE_COMPAS_FAIL_ONCE_FILE: marker } }));
    expect(summary.runs.succeeded).toBe(1);
    expect(fragmentsIn(out).map((f) => [f.attempt, f.status]).sort()).toEqual([
      [1, "failed"],
      [2, "success"],
    ]);
  });

  it("does not retry a COMPAS that exits 0 without any output: the same seed and flags give the same nothing", async () => {
    const out = tempDir("no-output");
    const summary = await runEnsemble(options(out, { points: sliceGrid(points, 0, 1), retries: 2, env: { FAKE_COMPAS_EXIT_AT_ONCE: "1" } }));
    expect(summary.runs.failed).toBe(1);
    const frags = fragmentsIn(out);
    expect(frags).toHaveLength(1);
    expect(frags[0]!.error).toMatchObject({ code: "OUTPUT_INCOMPLETE", retryable: false, exit_code: 0 });
  });

  it("does not retry an error COMPAS stops on, and names its last ERROR line and the stored log in the failure", async () => {
    const out = tempDir("stopped");
    const summary = await runEnsemble(options(out, { points: sliceGrid(points, 0, 1), retries: 2, env: { FAKE_COMPAS_FAIL: "stopped" } }));
    const frags = fragmentsIn(out);
    expect(frags).toHaveLength(1);
    const f = frags[0]!;
    expect(f.error).toMatchObject({ code: "COMPAS_FAILED", retryable: false, exit_code: 2 });
    const errorLine = "ERROR: in BaseBinaryStar::Evolve(): failure forced by FAKE_COMPAS_FAIL=stopped";
    const log = join(out, "logs", `${f.task_id}.a1.log`);
    expect(f.error!.message).toBe(`COMPAS ended with exit code 2 (last error: "${errorLine}"); its log is ${log}.`);
    expect(readFileSync(log, "utf8")).toContain(errorLine);
    expect(summary.failures).toEqual([{ run_id: f.run_id, reason: `COMPAS_FAILED: ${f.error!.message}` }]);
  });

  it("does not retry a crash in COMPAS's own code (SIGSEGV), which the same seed repeats", async () => {
    const out = tempDir("segv");
    await runEnsemble(
      options(out, { points: sliceGrid(points, 0, 1), retries: 2, env: { FAKE_COMPAS_KILL_AFTER: "1", FAKE_COMPAS_KILL_SIGNAL: "SIGSEGV" } }),
    );
    const frags = fragmentsIn(out);
    expect(frags).toHaveLength(1);
    expect(frags[0]!.error).toMatchObject({ code: "COMPAS_FAILED", retryable: false, signal: "SIGSEGV" });
  });

  it("treats exit 0 with an incomplete run as a failure (completion check)", async () => {
    const out = tempDir("incomplete");
    await runEnsemble(options(out, { points: sliceGrid(points, 0, 1), env: { FAKE_COMPAS_INCOMPLETE: "1" } }));
    const [f] = fragmentsIn(out);
    expect(f!.status).toBe("failed");
    expect(f!.error!.code).toBe("OUTPUT_INCOMPLETE");
    expect(f!.error!.message).toMatch(/Evolution stopped|Simulation completed/);
    expect(f!.error!.retryable).toBe(false);
  });

  it("kills a task that exceeds the timeout, with its whole process group", async () => {
    const out = tempDir("timeout");
    const started = tempDir("timeout-pids");
    await runEnsemble(
      options(out, { points: sliceGrid(points, 0, 1), retries: 0, timeoutMs: 1500, env: { FAKE_COMPAS_HANG: "1", FAKE_COMPAS_STARTED_DIR: started } }),
    );
    const [f] = fragmentsIn(out);
    expect(f!.error!.code).toBe("TASK_TIMEOUT");
    const hung = standInProcesses(started).filter((p) => p.end === undefined);
    expect(hung.length).toBeGreaterThanOrEqual(1);
    for (const p of hung) expect(isAlive(p.pid)).toBe(false);
  });

  it("cancels on abort: no COMPAS process is left and the manifest is consistent", async () => {
    const out = tempDir("cancel");
    const started = tempDir("cancel-pids");
    const controller = new AbortController();
    const running = new Set<string>();
    const summary = await runEnsemble(
      options(out, {
        points: sliceGrid(points, 0, 4),
        env: { FAKE_COMPAS_DELAY_MS: "1000", FAKE_COMPAS_STARTED_DIR: started },
        signal: controller.signal,
        onEvent: (e) => {
          // A progress line proves the COMPAS process is up and working, not just spawned.
          if (e.type === "task-progress") running.add(e.taskId);
          if (running.size === 2 && !controller.signal.aborted) controller.abort();
        },
      }),
    );
    expect(summary.cancelled).toBe(true);
    expect(summary.runs.succeeded).toBe(0);
    const killed = standInProcesses(started).filter((p) => p.end === undefined);
    expect(killed).toHaveLength(2);
    for (const p of killed) expect(isAlive(p.pid)).toBe(false);
    expect(fragmentsIn(out)).toHaveLength(0);
    expect(manifestOf(out).runs).toEqual([]);
    expect(existsSync(join(out, ".compas-ensemble.lock"))).toBe(false);
  });

  it("refuses a different plan in the same place unless asked to start over", async () => {
    const out = tempDir("mismatch");
    await runEnsemble(options(out, { points: sliceGrid(points, 0, 1) }));
    try {
      await runEnsemble(options(out, { points: sliceGrid(points, 0, 1), nSystems: 25 }));
      throw new Error("not refused");
    } catch (e) {
      expect(isCompasEnsembleError(e, "PLAN_MISMATCH")).toBe(true);
      expect((e as Error).message).toContain(out);
    }
    const summary = await runEnsemble(options(out, { points: sliceGrid(points, 0, 1), nSystems: 25, restart: true }));
    expect(summary.runs.succeeded).toBe(1);
    expect(readdirSync(join(out, "archive"))).toHaveLength(1);
    expect(manifestOf(out).n_systems_per_run).toBe(25);
  });

  it("refuses a plan too large for plan.json with one sentence, before replacing the ensemble already there", async () => {
    const out = tempDir("too-large");
    await runEnsemble(options(out, { points: sliceGrid(points, 0, 1) }));
    const before = readFileSync(join(out, "plan.json"), "utf8");
    // 600 tasks whose arguments share one 1 MiB value: over 600 MiB of JSON, more than a
    // string may hold, at little memory.
    const big = options(out, {
      points: sliceGrid(points, 0, 40),
      nSystems: 15,
      systemsPerTask: 1,
      compas: { extraFlags: ["--quiet", "x".repeat(2 ** 20)] },
      restart: true,
    });
    const err = await runEnsemble(big).then(
      () => new Error("not refused"),
      (e: unknown) => e,
    );
    expect(isCompasEnsembleError(err, "OPTIONS_INVALID")).toBe(true);
    expect((err as Error).message).toBe(
      "The plan of 600 tasks is too large for plan.json (more than the ~512 MiB of text Node can write and read back to resume); " +
        "run the grid in slices of fewer points with --start-index and --end-index.",
    );
    expect(readFileSync(join(out, "plan.json"), "utf8")).toBe(before);
    expect(existsSync(join(out, "archive"))).toBe(false);
    // Hashing and serialising over 600 MiB takes seconds of CPU, many more on a loaded machine.
  }, 180_000);

  it("chunks a run with consecutive seeds and merges it into the unchunked output", async () => {
    const chunked = tempDir("chunked");
    const whole = tempDir("whole");
    const one = sliceGrid(points, 2, 3);
    const summary = await runEnsemble(options(chunked, { points: one, nSystems: 30, systemsPerTask: 12 }));
    await runEnsemble(options(whole, { points: one, nSystems: 30 }));
    expect(summary.tasks.total).toBe(3);
    expect(summary.runs.succeeded).toBe(1);
    expect(new Set(fragmentsIn(chunked).map((f) => f.seed))).toEqual(new Set([60, 72, 84]));
    for (const c of [0, 1, 2]) {
      expect(existsSync(join(chunked, "chunks", one[0]!.run_id, `c${c}`, "COMPAS_Output.h5"))).toBe(false);
    }

    const rel = join("runs", one[0]!.run_id, "COMPAS_Output", "COMPAS_Output.h5");
    const a = await openH5Read(join(chunked, rel));
    const b = await openH5Read(join(whole, rel));
    try {
      const groups = b.keys().filter((k) => k.startsWith("BSE_"));
      expect(a.keys().filter((k) => k.startsWith("BSE_"))).toEqual(groups);
      for (const g of groups) {
        const ga = a.get(g) as Group;
        const gb = b.get(g) as Group;
        for (const col of gb.keys()) {
          const va = (ga.get(col) as Dataset).value as ArrayLike<unknown>;
          const vb = (gb.get(col) as Dataset).value as ArrayLike<unknown>;
          expect(Array.from(va).map(String), `${g}/${col}`).toEqual(Array.from(vb).map(String));
        }
      }
    } finally {
      a.close();
      b.close();
    }
    const again = await runEnsemble(options(chunked, { points: one, nSystems: 30, systemsPerTask: 12 }));
    expect(again.tasks.skipped).toBe(3);
  });

  it("after the orchestrator is killed with SIGKILL, a rerun stops its orphans, removes their scratch folders and ends with every run succeeded exactly once", async () => {
    const out = tempDir("sigkill");
    const started = tempDir("sigkill-pids");
    // node itself running the built CLI: SIGKILL must hit the orchestrator, not a wrapper.
    const [node, ...cliArgs] = cliCommand();
    const cli = spawn(
      node!,
      [...cliArgs, "run", "--sparse", "--end-index", "4", "--n-systems", "20", "--concurrency", "2", "--output-dir", out, "--compas-binary", fakeCompasPath()],
      { env: { ...process.env, FAKE_COMPAS_DELAY_MS: "150", FAKE_COMPAS_STARTED_DIR: started }, stdio: "ignore" },
    );
    const fragmentCount = (): number => (existsSync(join(out, "fragments")) ? readdirSync(join(out, "fragments")).filter((f) => f.endsWith(".json")).length : 0);
    await waitFor(
      () => fragmentCount() >= 1 && standInProcesses(started).filter((p) => p.end === undefined && isAlive(p.pid)).length >= 1,
      "a finished task and a running one",
      150_000,
    );
    cli.kill("SIGKILL");
    await new Promise((r) => cli.once("exit", r));
    const orphans = standInProcesses(started).filter((p) => p.end === undefined && isAlive(p.pid));
    expect(orphans.length).toBeGreaterThanOrEqual(1);
    const scratch = join(out, ".scratch");
    const left = readdirSync(scratch);
    expect(left.length).toBeGreaterThanOrEqual(1);
    // Not the ensemble's: a folder of another name, and one named like a task that is not in the plan.
    const foreign = ["notes", "alpha9.000_lambda0.10_kick217_Z0.01420_fa0.50.a1.0123abcd"].sort();
    for (const name of foreign) mkdirSync(join(scratch, name));
    writeFileSync(join(scratch, "notes", "keep.txt"), "mine");

    const summary = await runEnsemble(options(out, { points: sliceGrid(points, 0, 4), env: { FAKE_COMPAS_STARTED_DIR: started } }));
    for (const p of orphans) expect(isAlive(p.pid)).toBe(false);
    expect(readdirSync(scratch).sort()).toEqual(foreign);
    expect(readFileSync(join(scratch, "notes", "keep.txt"), "utf8")).toBe("mine");
    expect(summary.runs).toEqual({ total: 4, succeeded: 4, failed: 0, pending: 0 });
    const successes = fragmentsIn(out).filter((f) => f.status === "success");
    expect(successes.map((f) => f.task_id).sort()).toEqual(points.slice(0, 4).map((p) => p.run_id).sort());
  }, 300_000);

  it("removes scratch folders a killed run left when it next takes the lock, even with nothing left to run, and nothing else", async () => {
    const out = tempDir("stale-scratch");
    const one = sliceGrid(points, 0, 1);
    await runEnsemble(options(out, { points: one }));
    const scratch = join(out, ".scratch");
    const stale = join(scratch, `${one[0]!.run_id}.a1.0badf00d`);
    mkdirSync(join(stale, "COMPAS_Output"), { recursive: true });
    writeFileSync(join(stale, "COMPAS_Output", "COMPAS_Output.h5"), "half an output");
    writeFileSync(join(stale, "compas.pid"), "999999999 1\n");
    const foreign = [`${one[0]!.run_id}.backup`, "other"].sort();
    for (const name of foreign) mkdirSync(join(scratch, name));

    const again = await runEnsemble(options(out, { points: one }));
    expect(again.tasks).toEqual({ total: 1, skipped: 1, submitted: 0 });
    expect(readdirSync(scratch).sort()).toEqual(foreign);
  });

  it("refuses to start on a full disk with one sentence naming it, and leaves no lock behind", async () => {
    await withTmpfs(1024 * 1024, async (mnt) => {
      const out = join(mnt, "ensemble");
      mkdirSync(out);
      // Fill the file system to the last byte.
      const filler = join(mnt, "filler");
      try {
        writeFileSync(filler, Buffer.alloc(2 * 1024 * 1024, 1));
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe("ENOSPC");
      }
      const err = await runEnsemble(options(out, { points: sliceGrid(points, 0, 1) })).catch((e: unknown) => e);
      expect(isCompasEnsembleError(err, "DISK_FULL")).toBe(true);
      expect((err as Error).message).toBe(`No space left on the disk holding ${out} (mounted at ${mnt}, 0 B free) while taking the lock of the ensemble.`);
      expect(readdirSync(out)).toEqual([]);
    });
  });

  it("stops cleanly when the disk fills up, naming the disk and the space still needed, and resumes once space is freed", async () => {
    await withTmpfs(24 * 1024 * 1024, async (mnt) => {
      // 4 MiB left: four runs of the stand-in (1.8 MB each, and as much again in scratch) cannot fit.
      const filler = join(mnt, "filler");
      writeFileSync(filler, Buffer.alloc(20 * 1024 * 1024, 1));
      const out = join(mnt, "ensemble");
      const started = tempDir("full-pids");
      const slice = points.slice(0, 4);
      const args = ["run", "--sparse", "--end-index", "4", "--n-systems", "20", "--concurrency", "2", "--output-dir", out, "--compas-binary", fakeCompasPath()];

      const first = await cli(args, { FAKE_COMPAS_STARTED_DIR: started });
      expect(first.code, first.stderr).toBe(1);
      expect(first.stderr).not.toMatch(/Unhandled|\n\s+at /);
      const errors = first.stderr.split("\n").filter((l) => l.startsWith("error: "));
      expect(errors).toHaveLength(1);
      // What is on the disk, not what the run says: runs whose output file was stored.
      const stored = slice.filter((p) => existsSync(join(out, "runs", p.run_id, "COMPAS_Output", "COMPAS_Output.h5"))).length;
      expect(stored).toBeLessThan(4);
      const unfinished = 4 - stored;
      // 8,506,176 bytes: the smallest COMPAS_Output.h5 real COMPAS writes (test/fixtures/compas).
      const needed = `${((unfinished * 8_506_176) / 1e6).toFixed(1)} MB`;
      expect(errors[0]).toMatch(
        new RegExp(
          `^error: No space left on the disk holding ${escapeRegExp(out)}(/\\.scratch)? \\(mounted at ${escapeRegExp(mnt)}, [0-9.]+ [kM]?B free\\): ` +
            `the ensemble stopped with ${unfinished} of 4 runs unfinished, whose outputs need about ${escapeRegExp(needed)} more\\.$`,
        ),
      );
      expect(first.stderr).toMatch(new RegExp(`\\nhint: Free at least ${escapeRegExp(needed)} on ${escapeRegExp(mnt)} `));
      // Stopped, not crashed: no COMPAS left running, the manifest records what finished, no
      // lock and no scratch left, and a full disk is no task's failure.
      for (const p of standInProcesses(started)) expect(isAlive(p.pid)).toBe(false);
      expect(manifestOf(out).runs.filter((r) => r.status === "success")).toHaveLength(stored);
      expect(existsSync(join(out, ".compas-ensemble.lock"))).toBe(false);
      expect(readdirSync(join(out, ".scratch"))).toEqual([]);
      expect(fragmentsIn(out).filter((f) => f.status === "failed")).toEqual([]);

      rmSync(filler);
      const second = await cli(args);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toContain("4/4 runs succeeded");
      const successes = fragmentsIn(out).filter((f) => f.status === "success");
      expect(successes.map((f) => f.task_id).sort()).toEqual(slice.map((p) => p.run_id).sort());
      expect(readdirSync(join(out, ".scratch"))).toEqual([]);
    });
  }, 300_000);
});
