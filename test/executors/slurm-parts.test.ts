import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { parseArrayIndices, parseScontrolJobs, parseSqueueJson, slurmPhase, type SlurmElement } from "../../src/executors/slurm/_jobs.js";
import { batchScript } from "../../src/executors/slurm/_script.js";
import { quoteArg as shQuote } from "../../src/util/shell-quote.js";
import { combineStatus } from "../../src/executors/slurm/_status.js";
import { slurmHandleData, type SlurmHandleData } from "../../src/executors/slurm/handle.js";
import { sbatchArgs, validateSlurmOptions, type SlurmExecutorOptions } from "../../src/executors/slurm/options.js";
import { SlurmExecutor } from "../../src/executors/slurm/index.js";
import type { ExecutorHandle } from "../../src/executors/types.js";
import type { Fragment } from "../../src/manifest/schema.js";

const HOSTILE = [
  "",
  "plain",
  "it's",
  "'",
  "''",
  "$(touch PWNED)",
  "`touch PWNED`",
  "a b\tc",
  "line1\nline2",
  '"double" \\back\\slash',
  "${HOME} $HOME ~ * ? [a] ; & | > <",
  "ünïcødé ✓",
  "-n",
];

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isCompasEnsembleError(err) ? err.code : `not a CompasEnsembleError: ${String(err)}`;
  }
  return undefined;
}

describe("shQuote", () => {
  it("round-trips hostile words through a real /bin/sh without expanding anything", () => {
    const dir = mkdtempSync(join(tmpdir(), "shq-"));
    const script = `printf '%s\\0' ${HOSTILE.map(shQuote).join(" ")}`;
    const r = spawnSync("/bin/sh", ["-c", script], { cwd: dir, encoding: "utf8" });
    const pwned = existsSync(join(dir, "PWNED"));
    rmSync(dir, { recursive: true, force: true });
    expect(r.status).toBe(0);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual(HOSTILE);
    expect(pwned).toBe(false);
  });

  it("refuses a NUL byte with OPTIONS_INVALID", () => {
    expect(codeOf(() => shQuote("a\0b"))).toBe("OPTIONS_INVALID");
  });
});

describe("batchScript", () => {
  let dir: string;
  let recorder: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "slurm-script-"));
    recorder = join(dir, "recorder.sh");
    // Stands in for the worker: records its argv (NUL-separated, \1 after each call) and
    // exits with the next code of a list.
    writeFileSync(
      recorder,
      [
        'printf "%s\\0" "$@" >> "$REC_CALLS"',
        'printf "\\001" >> "$REC_CALLS"',
        'code=$(head -n 1 "$REC_CODES")',
        'tail -n +2 "$REC_CODES" > "$REC_CODES.next" && mv "$REC_CODES.next" "$REC_CODES"',
        'exit "${code:-0}"',
        "",
      ].join("\n"),
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function runScript(retries: number, codes: number[], store: string): { status: number | null; calls: string[][] } {
    const calls = join(dir, `calls-${Math.random()}`);
    const codesFile = join(dir, `codes-${Math.random()}`);
    writeFileSync(codesFile, codes.map((c) => `${c}\n`).join(""));
    const script = batchScript({
      workerCommand: ["/bin/sh", recorder],
      store,
      indexList: "s1-a0",
      workerArgs: ["--compas-binary", "/opt/COMPAS it's", "--task-timeout", "60"],
      retries,
      comment: ["compas-ensemble Slurm job: ensemble abc", "submission s1, array 1 of 1 (3 tasks)"],
    });
    const path = join(dir, `job-${Math.random()}.sh`);
    writeFileSync(path, script);
    const r = spawnSync("/bin/sh", [path], { cwd: dir, env: { ...process.env, SLURM_ARRAY_TASK_ID: "7", REC_CALLS: calls, REC_CODES: codesFile }, encoding: "utf8" });
    const records = existsSync(calls) ? readFileSync(calls, "utf8").split("\u0001").slice(0, -1) : [];
    return { status: r.status, calls: records.map((rec) => rec.split("\0").slice(0, -1)) };
  }

  it("passes every embedded value to the worker as one exact word, with SLURM_ARRAY_TASK_ID as --index", () => {
    const store = `/shared/ens it's $(touch PWNED) "q"\nnext`;
    const { status, calls } = runScript(0, [0], store);
    expect(status).toBe(0);
    expect(calls).toEqual([
      ["worker", "--plan", store, "--index-list", "s1-a0", "--compas-binary", "/opt/COMPAS it's", "--task-timeout", "60", "--index", "7"],
    ]);
    expect(existsSync(join(dir, "PWNED"))).toBe(false);
  });

  it("reruns the worker after exit 75 up to the retries, and exits with the last code", () => {
    expect(runScript(2, [75, 75, 0], "/s")).toMatchObject({ status: 0 });
    expect(runScript(2, [75, 75, 0], "/s").calls).toHaveLength(3);
    const noRetry = runScript(0, [75, 0], "/s");
    expect(noRetry.status).toBe(75);
    expect(noRetry.calls).toHaveLength(1);
    const plainFailure = runScript(2, [1, 0], "/s");
    expect(plainFailure.status).toBe(1);
    expect(plainFailure.calls).toHaveLength(1);
  });
});

describe("Slurm job states", () => {
  it("reads array expressions: single, range, throttled, list, step", () => {
    expect(parseArrayIndices("3")).toEqual([3]);
    expect(parseArrayIndices("2-5")).toEqual([2, 3, 4, 5]);
    expect(parseArrayIndices("2-4%2")).toEqual([2, 3, 4]);
    expect(parseArrayIndices("0,4-6,9")).toEqual([0, 4, 5, 6, 9]);
    expect(parseArrayIndices("0-9:4")).toEqual([0, 4, 8]);
    expect(parseArrayIndices("")).toEqual([]);
    expect(codeOf(() => parseArrayIndices("a-b"))).toBe("SLURM");
  });

  it("maps preempted and requeued jobs to pending, completing to running, other end states to failures", () => {
    expect(slurmPhase("PREEMPTED")).toBe("pending");
    expect(slurmPhase("REQUEUED")).toBe("pending");
    expect(slurmPhase("COMPLETING+REQUEUED")).toBe("pending");
    expect(slurmPhase("PENDING")).toBe("pending");
    expect(slurmPhase("SUSPENDED")).toBe("pending");
    expect(slurmPhase("COMPLETING")).toBe("running");
    expect(slurmPhase("RUNNING")).toBe("running");
    expect(slurmPhase("COMPLETED")).toBe("completed");
    expect(slurmPhase("CANCELLED")).toBe("cancelled");
    for (const s of ["FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"]) expect(slurmPhase(s)).toBe("failed");
  });

  it("reads squeue --json of Slurm 22.05 and 23.02+, keeps only the given arrays and expands a pending remainder", () => {
    const v2205 = JSON.stringify({
      jobs: [
        { job_id: 12, array_job_id: 11, array_task_id: 0, array_task_string: "", job_state: "RUNNING", state_reason: "None", exit_code: 0, nodes: "n1", restart_cnt: 0 },
        { job_id: 13, array_job_id: 11, array_task_id: 1, array_task_string: "", job_state: "FAILED", state_reason: "NonZeroExitCode", exit_code: 256, nodes: "n1", restart_cnt: 0 },
        { job_id: 11, array_job_id: 11, array_task_id: null, array_task_string: "2-3%2", job_state: "PENDING", state_reason: "JobArrayTaskLimit", exit_code: 0, nodes: "" },
        { job_id: 20, array_job_id: 19, array_task_id: 0, array_task_string: "", job_state: "RUNNING", state_reason: "None", exit_code: 0 },
      ],
    });
    expect(parseSqueueJson(v2205, new Set(["11"]))).toEqual([
      { arrayJobId: "11", index: 0, state: "RUNNING", reason: undefined, exitCode: 0, signal: undefined, nodes: "n1", restarts: 0 },
      { arrayJobId: "11", index: 1, state: "FAILED", reason: "NonZeroExitCode", exitCode: 1, signal: undefined, nodes: "n1", restarts: 0 },
      { arrayJobId: "11", index: 2, state: "PENDING", reason: "JobArrayTaskLimit", exitCode: 0, signal: undefined, nodes: undefined, restarts: undefined },
      { arrayJobId: "11", index: 3, state: "PENDING", reason: "JobArrayTaskLimit", exitCode: 0, signal: undefined, nodes: undefined, restarts: undefined },
    ]);
    const v2302 = JSON.stringify({
      jobs: [
        {
          job_id: 31,
          array_job_id: { set: true, infinite: false, number: 30 },
          array_task_id: { set: true, infinite: false, number: 4 },
          array_task_string: "",
          job_state: ["PENDING", "REQUEUED"],
          state_reason: "BeginTime",
          exit_code: { status: ["SIGNALED"], return_code: { set: true, number: 0 }, signal: { id: { set: true, number: 15 }, name: "TERM" } },
          restart_cnt: 1,
        },
      ],
    });
    const [el] = parseSqueueJson(v2302, new Set(["30"]));
    expect(el).toMatchObject({ arrayJobId: "30", index: 4, state: "PENDING+REQUEUED", reason: "BeginTime", exitCode: 0, signal: 15, restarts: 1 });
    expect(slurmPhase(el!.state)).toBe("pending");
    expect(codeOf(() => parseSqueueJson("not json", new Set()))).toBe("SLURM");
  });

  it("reads scontrol show job --oneliner records, pending remainders included", () => {
    const text = [
      "JobId=9 ArrayJobId=8 ArrayTaskId=0 ArrayTaskThrottle=2 JobName=x JobState=RUNNING Reason=None Dependency=(null) Restarts=0 ExitCode=0:0 NodeList=localhost BatchHost=localhost",
      "JobId=8 ArrayJobId=8 ArrayTaskId=2-4%2 ArrayTaskThrottle=2 JobName=x JobState=PENDING Reason=JobArrayTaskLimit Restarts=0 ExitCode=0:0 NodeList= BatchHost=",
      "JobId=5 JobName=wrap JobState=FAILED Reason=NonZeroExitCode ExitCode=3:0",
    ].join("\n");
    expect(parseScontrolJobs(text, new Set(["8"])).map((e) => `${e.index}:${e.state}:${e.reason ?? ""}:${e.nodes ?? ""}`)).toEqual([
      "0:RUNNING::localhost",
      "2:PENDING:JobArrayTaskLimit:",
      "3:PENDING:JobArrayTaskLimit:",
      "4:PENDING:JobArrayTaskLimit:",
    ]);
  });
});

describe("combineStatus", () => {
  const handle: ExecutorHandle = {
    kind: "slurm",
    ensemble_id: "ens",
    task_ids: ["t0", "t1", "t2"],
    submitted_at: "2026-01-01T00:00:00Z",
    data: {},
  };
  const data: SlurmHandleData = {
    format: 1,
    store: "/store",
    submission: "s1",
    arrays: [
      { job_id: "100", index_list: "s1-a0", size: 2 },
      { job_id: "200", index_list: "s1-a1", size: 1 },
    ],
    first_attempt: { t2: 2 },
    log_dir: "/logs",
  };
  const el = (arrayJobId: string, index: number, state: string, extra: Partial<SlurmElement> = {}): SlurmElement => ({ arrayJobId, index, state, ...extra });
  const frag = (task: string, attempt: number, status: "success" | "failed", message = "boom"): Fragment =>
    ({
      task_id: task,
      ensemble_id: "ens",
      attempt,
      status,
      host: "node7",
      error: status === "failed" ? { code: "COMPAS_FAILED", message, retryable: false } : null,
    }) as Fragment;

  it("takes pending and running from Slurm while it knows the element, with Slurm's reason", () => {
    const s = combineStatus({
      handle,
      data,
      elements: [el("100", 0, "PREEMPTED", { reason: "Preempted" }), el("100", 1, "RUNNING", { nodes: "n3" }), el("200", 0, "PENDING", { reason: "Dependency" })],
      fragments: [],
      cancelled: false,
    });
    expect(s.map((x) => [x.taskId, x.state, x.reason, x.where])).toEqual([
      ["t0", "pending", "Slurm: PREEMPTED (Preempted)", "slurm 100_0"],
      ["t1", "running", undefined, "slurm 100_1 on n3"],
      ["t2", "pending", "Slurm: PENDING (Dependency)", "slurm 200_0"],
    ]);
  });

  it("lets a success fragment of this submission win, and ignores an older success it replaces", () => {
    const s = combineStatus({
      handle,
      data,
      elements: [el("100", 0, "RUNNING"), el("100", 1, "COMPLETED"), el("200", 0, "RUNNING")],
      fragments: [frag("t0", 1, "success"), frag("t1", 1, "success"), frag("t2", 1, "success")],
      cancelled: false,
    });
    expect(s.map((x) => x.state)).toEqual(["succeeded", "succeeded", "running"]);
  });

  it("explains end states the worker could not record (TIMEOUT) and uses the fragment's reason for FAILED", () => {
    const s = combineStatus({
      handle,
      data,
      elements: [el("100", 0, "TIMEOUT", { exitCode: 0 }), el("100", 1, "FAILED", { exitCode: 1 }), el("200", 0, "CANCELLED")],
      fragments: [frag("t1", 1, "failed", "COMPAS rejected its command line (exit 3): ERROR: x")],
      cancelled: false,
    });
    expect(s[0]).toMatchObject({ state: "failed" });
    expect(s[0]!.reason).toMatch(/TIMEOUT.*\/logs\/slurm-100_0\.out/);
    expect(s[1]).toMatchObject({ state: "failed", reason: "COMPAS rejected its command line (exit 3): ERROR: x" });
    expect(s[2]).toMatchObject({ state: "cancelled" });
  });

  it("after Slurm forgets the jobs: fragments decide, the cancel marker says cancelled, nothing says failed", () => {
    const gone = { handle, data, elements: [], fragments: [frag("t0", 1, "success"), frag("t1", 1, "failed"), frag("t2", 1, "success")] };
    expect(combineStatus({ ...gone, cancelled: false }).map((x) => x.state)).toEqual(["succeeded", "failed", "failed"]);
    expect(combineStatus({ ...gone, cancelled: false })[2]!.reason).toMatch(/no longer knows job 200_0/);
    expect(combineStatus({ ...gone, cancelled: true }).map((x) => x.state)).toEqual(["succeeded", "cancelled", "cancelled"]);
  });
});

describe("options and handles", () => {
  it("refuses bad options with OPTIONS_INVALID before anything is submitted", () => {
    const bad: SlurmExecutorOptions[] = [
      { timeLimit: "2 hours" },
      { memory: "lots" },
      { cpusPerTask: 0 },
      { throttle: 1.5 },
      { extraSbatchArgs: ["--array=0-3"] },
      { extraSbatchArgs: ["-o", "x"] },
      { extraSbatchArgs: ["script.sh"] },
      { extraSbatchArgs: ["--wrap", "echo"] },
      { workerCommand: [] },
      { partition: "a\nb" },
    ];
    for (const options of bad) expect(codeOf(() => validateSlurmOptions(options)), JSON.stringify(options)).toBe("OPTIONS_INVALID");
    expect(codeOf(() => new SlurmExecutor({ logDir: "/logs/%j" }))).toBe("OPTIONS_INVALID");
    for (const t of ["30", "1:30", "02:00:00", "1-12", "1-12:30", "1-12:30:00", "UNLIMITED"]) expect(codeOf(() => validateSlurmOptions({ timeLimit: t }))).toBeUndefined();
  });

  it("builds sbatch argv with each option as its own word and the throttle on the array", () => {
    const args = sbatchArgs(
      { partition: "debug queue", account: "astro", timeLimit: "1-00:00:00", memory: "2G", cpusPerTask: 2, throttle: 5, extraSbatchArgs: ["--qos", "long; rm -rf /"] },
      { size: 10, jobName: "ce-abc", outputPattern: "/logs/slurm-%A_%a.out", after: "41" },
    );
    expect(args).toEqual([
      "--parsable",
      "--array=0-9%5",
      "--job-name=ce-abc",
      "--output=/logs/slurm-%A_%a.out",
      "--cpus-per-task=2",
      "--partition=debug queue",
      "--account=astro",
      "--time=1-00:00:00",
      "--mem=2G",
      "--dependency=afterany:41",
      "--qos",
      "long; rm -rf /",
    ]);
  });

  it("rejects a handle of another kind or with arrays that do not cover its tasks", () => {
    const data = { format: 1, store: "/s", submission: "s1", arrays: [{ job_id: "1", index_list: "s1-a0", size: 2 }], first_attempt: {}, log_dir: "/l" };
    const handle: ExecutorHandle = { kind: "slurm", ensemble_id: "e", task_ids: ["a", "b"], submitted_at: "", data };
    expect(slurmHandleData(handle).arrays[0]!.size).toBe(2);
    expect(codeOf(() => slurmHandleData({ ...handle, kind: "batch" }))).toBe("OPTIONS_INVALID");
    expect(codeOf(() => slurmHandleData({ ...handle, task_ids: ["a"] }))).toBe("METADATA_INVALID");
    expect(codeOf(() => slurmHandleData({ ...handle, data: { ...data, arrays: [{ job_id: "1; rm", index_list: "x", size: 2 }] } }))).toBe("METADATA_INVALID");
  });
});
