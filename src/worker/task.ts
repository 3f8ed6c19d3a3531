import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { constants, hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { checkCompletion } from "../compas/completion.js";
import { compasEnv } from "../compas/env.js";
import { withOutput } from "../compas/argv.js";
import { probeCompas } from "../compas/probe.js";
import { describeZodError } from "../util/zod-error.js";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { type Fragment, type TaskError } from "../manifest/schema.js";
import { TaskSchema, type Plan, type Task } from "../plan/schema.js";
import { diskFullError, isNoSpace } from "../util/disk.js";
import { planIndex } from "../plan/plan-index.js";
import { writeFragment } from "../store/fragments.js";
import { detailedOutputKey, logKey, RUN_DETAILS_FILE, runDetailsKey } from "../store/keys.js";
import type { Store } from "../store/types.js";
import { LIBRARY_VERSION } from "../version.js";
import { runProcess, type ProcessOutcome } from "./process.js";

/** Options of {@link runTask}. */
export interface RunTaskOptions {
  plan: Plan;
  task: Task;
  store: Store;
  attempt: number;
  /** Folder for per-task scratch folders on this machine. */
  scratchRoot: string;
  /** COMPAS binary on this machine; default the plan's. Its hash must match the plan's. */
  binary?: string;
  /** Kill the task after this long and record TASK_TIMEOUT. Default: no limit. */
  timeoutMs?: number;
  /** Cancels the task: its process group is killed and no fragment is written. */
  signal?: AbortSignal;
  /** Called with the COMPAS process id once it has started. */
  onSpawn?: (pid: number) => void;
  /**
   * Called once COMPAS has exited (before the output is checked and uploaded), so a caller
   * that limits COMPAS processes can start the next one while this task's bookkeeping runs.
   */
  onExit?: () => void;
  /** Called for each binary COMPAS reports finished. */
  onProgress?: (done: number, total: number) => void;
  /** Host name recorded in the fragment; default os.hostname(). */
  host?: string;
  /** Environment base for COMPAS; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Earlier successful attempts whose lost output this attempt replaces (recorded in the fragment). */
  supersedes?: readonly number[];
}

/** Outcome of {@link runTask}: a fragment, or a cancellation (which writes none). */
export type RunTaskResult =
  | { status: "success" | "failed"; fragment: Fragment }
  | { status: "cancelled"; reason: string };

const PROGRESS_LINE = /^(\d+): /;
// COMPAS reports its errors on lines that start with "ERROR:".
const ERROR_LINE = /^\s*ERROR:/;
const SCRATCH_NAME = /^(.+)\.a([1-9][0-9]*)\.[0-9a-f]{8}$/;

/**
 * The task of a scratch folder that {@link runTask} made (`<task_id>.a<attempt>.<8 hex>`), or
 * null for any other name.
 * @param name - a folder name under a scratch root
 */
export function scratchFolderTask(name: string): string | null {
  return SCRATCH_NAME.exec(name)?.[1] ?? null;
}

/**
 * The scratch root a worker uses when none is given: a folder per ensemble in the system's
 * temporary folder.
 * @param ensembleId - the plan's ensemble id
 */
export function defaultScratchRoot(ensembleId: string): string {
  return join(tmpdir(), "compas-ensemble-scratch", ensembleId);
}

/**
 * Runs one task wherever it is called (locally, on an SSH host, in a Batch container, in a
 * Slurm job): COMPAS in a fresh scratch folder, the completion check, the upload of output and
 * log, and last the fragment, so that a success fragment always means the output is stored.
 * A full disk throws a `DiskFullError` (no fragment: the task stays to do), since no further
 * task can succeed there either.
 * @param options - plan, task, store and attempt
 */
export async function runTask(options: RunTaskOptions): Promise<RunTaskResult> {
  const { plan, task, store, attempt } = options;
  // Every name below becomes part of a path: refuse a task that would leave its folders
  // (a hand-edited plan) before anything touches the disk. Plans read from a store are
  // checked by the schema already; this covers tasks built in code.
  const checked = TaskSchema.safeParse(task);
  if (!checked.success) {
    throw new CompasEnsembleError("METADATA_INVALID", `Task ${JSON.stringify(task.task_id)} of the plan is unsafe to run (${describeZodError(checked.error)}).`, {
      hint: "Task ids, run ids and output keys must be relative names without '..'; restore plan.json as compas-ensemble wrote it.",
    });
  }
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `Attempt ${attempt} of task ${task.task_id} is not a whole number >= 1.`);
  }
  const startedAt = new Date();
  // Unique per call: two workers can run the same task and attempt on one machine (the same
  // plan written to two stores, or a host that lost contact and the task was placed again),
  // and a shared folder would be wiped under the other's COMPAS.
  const scratch = join(options.scratchRoot, `${task.task_id}.a${attempt}.${randomBytes(4).toString("hex")}`);
  try {
    mkdirSync(scratch, { recursive: true });
  } catch (err) {
    if (isNoSpace(err)) throw diskFullError(options.scratchRoot, `creating the scratch folder of task ${task.task_id}`, err);
    throw err;
  }
  try {
    return await runInScratch(options, scratch, startedAt);
  } finally {
    // Whatever happened, the COMPAS output in scratch is either stored or worthless now.
    // Asynchronous: a synchronous removal stalls every other task's bookkeeping (and the
    // start of the next COMPAS) for as long as the disk takes.
    await rm(scratch, { recursive: true, force: true });
  }
}

async function runInScratch(options: RunTaskOptions, scratch: string, startedAt: Date): Promise<RunTaskResult> {
  const { plan, task, store, attempt } = options;
  const logPath = join(scratch, "task.log");
  const binary = options.binary ?? plan.compas.binary;
  const storedLog = `${store.uri}/${logKey(task.task_id, attempt)}`;

  const finish = async (output: Fragment["output"], error: TaskError | null): Promise<RunTaskResult> => {
    const finishedAt = new Date();
    const fragment: Fragment = {
      schema_version: 1,
      ensemble_id: plan.ensemble_id,
      task_id: task.task_id,
      run_id: task.run_id,
      attempt,
      status: error ? "failed" : "success",
      host: options.host ?? hostname(),
      started_at: startedAt.toISOString(),
      finished_at: finishedAt.toISOString(),
      duration_s: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      seed: task.seed,
      n_systems: task.n_systems,
      argv: [binary, ...task.args],
      compas: plan.compas,
      library_version: LIBRARY_VERSION,
      output,
      error,
      context: contextOf(plan, task),
      ...(options.supersedes?.length ? { supersedes: [...options.supersedes] } : {}),
    };
    if (existsSync(logPath)) await store.putFile(logKey(task.task_id, attempt), logPath);
    // Validated, and never over another attempt's record: the fragment is the task's truth.
    await writeFragment(store, fragment);
    return { status: fragment.status, fragment };
  };

  try {
    const probe = await probeCompas(binary);
    if (probe.sha256 !== plan.compas.sha256) {
      return await finish(null, {
        code: "PLAN_MISMATCH",
        message:
          `COMPAS binary ${binary} has sha256 ${probe.sha256.slice(0, 12)}, but the plan was made with ` +
          `${plan.compas.sha256.slice(0, 12)} (version ${plan.compas.version}); one ensemble must use one build.`,
        retryable: false,
      });
    }
  } catch (err) {
    if (!isCompasEnsembleError(err)) throw err;
    return await finish(null, { code: err.code, message: err.message, retryable: false });
  }

  let done = 0;
  let lastError: string | undefined;
  // Seen anywhere in the output, not only in its tail: HDF5 buries them under pages of trace.
  let sawNoSpace = false;
  let sawMachineTrouble = false;
  const outcome = await runProcess({
    command: binary,
    args: withOutput(task.args, scratch, "COMPAS_Output"),
    cwd: scratch,
    env: compasEnv(options.env ?? process.env),
    logPath,
    pidPath: join(scratch, "compas.pid"),
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    onSpawn: options.onSpawn,
    onLine: (line, stream) => {
      if (stream === "stdout" && PROGRESS_LINE.test(line)) {
        options.onProgress?.(++done, task.n_systems);
        return;
      }
      if (ERROR_LINE.test(line)) lastError = line.trim().slice(0, 300);
      if (NO_SPACE_TEXT.test(line)) sawNoSpace = true;
      else if (MACHINE_TROUBLE_TEXT.test(line)) sawMachineTrouble = true;
    },
  });
  options.onExit?.();

  if (outcome.aborted && !outcome.timedOut) return { status: "cancelled", reason: "cancelled before it finished" };
  // A full disk under scratch shows as a log that cannot be written, or as a failed COMPAS
  // that says so; either way every later task would fail the same way.
  const stopIfDiskFull = (failed: boolean): void => {
    if (isNoSpace(outcome.logError) || (failed && sawNoSpace)) {
      throw diskFullError(options.scratchRoot, `running task ${task.task_id}`, outcome.logError ?? new Error(lastError ?? "No space left on device"));
    }
  };
  stopIfDiskFull(outcome.exitCode !== 0 || outcome.timedOut);
  const tails = { stderr_tail: outcome.stderrTail.slice(-2000) };
  // The sentence a person reads first (run, status, the manifest): what ended it, COMPAS's
  // own last word, and where the whole output is.
  const seeLog = (what: string): string => `${what}${lastError ? ` (last error: "${lastError}")` : ""}; its log is ${storedLog}.`;
  if (outcome.spawnError) {
    return finish(null, {
      code: "COMPAS_NOT_FOUND",
      message: `COMPAS could not be started: ${outcome.spawnError.message}.`,
      retryable: false,
      ...tails,
    });
  }
  if (outcome.timedOut) {
    return finish(null, {
      code: "TASK_TIMEOUT",
      message: seeLog(`COMPAS ran longer than the task timeout of ${Math.round((options.timeoutMs ?? 0) / 1000)} s and was killed`),
      exit_code: outcome.exitCode,
      signal: outcome.signal,
      retryable: true,
      ...tails,
    });
  }
  if (outcome.exitCode !== 0) {
    const badFlags = outcome.exitCode === 3;
    return finish(null, {
      code: badFlags ? "COMPAS_FLAG_UNKNOWN" : "COMPAS_FAILED",
      message: badFlags
        ? `COMPAS rejected its command line (exit 3): ${lastError ?? lastLine(outcome.stderrTail)}; its log is ${storedLog}.`
        : seeLog(`COMPAS ended with ${outcome.signal ? `signal ${outcome.signal}` : `exit code ${outcome.exitCode}`}`),
      exit_code: outcome.exitCode,
      signal: outcome.signal,
      retryable: failureDependsOnMachine(outcome, sawMachineTrouble),
      ...tails,
    });
  }

  const container = join(scratch, "COMPAS_Output");
  const check = await checkCompletion({ containerDir: container, nSystems: task.n_systems, stdoutTail: outcome.stdoutTail });
  if (!check.complete) {
    stopIfDiskFull(true);
    return finish(null, {
      code: "OUTPUT_INCOMPLETE",
      message: seeLog(`COMPAS exited 0 but the run is incomplete: ${check.problems.join("; ")}`),
      exit_code: 0,
      retryable: failureDependsOnMachine(outcome, sawMachineTrouble),
      ...tails,
    });
  }

  try {
    const put = await store.putFile(task.output_key, check.h5Path);
    await store.putFile(runDetailsKey(task.output_key), join(container, RUN_DETAILS_FILE));
    await uploadDetailedOutput(store, task, container);
    return await finish({ key: task.output_key, bytes: put.size, sha256: put.sha256, rows: check.rows }, null);
  } catch (err) {
    if (!isCompasEnsembleError(err) || isNoSpace(err)) throw err;
    // The store (a network, S3) failed, not COMPAS: another attempt may well get through.
    return finish(null, { code: err.code, message: err.message, retryable: true });
  }
}

// What a full disk or quota looks like in a program's output (strerror of ENOSPC and EDQUOT,
// as HDF5 and the C library print them).
const NO_SPACE_TEXT = /No space left on device|Disk quota exceeded/i;
// The machine failing under COMPAS rather than COMPAS failing: I/O errors and lack of memory.
const MACHINE_TROUBLE_TEXT = /Input\/output error|Read-only file system|Stale file handle|Cannot allocate memory|std::bad_alloc/i;
// Signals a program raises on itself when its own code goes wrong (bad memory access, failed
// assertion, floating-point trap). Every other signal is sent from outside.
// (SIGBUS is left out: on Linux it mostly means a file under a memory mapping went away.)
const FAULT_SIGNALS: ReadonlySet<string> = new Set(["SIGSEGV", "SIGFPE", "SIGILL", "SIGABRT", "SIGTRAP", "SIGSYS"]);
// COMPAS's exit code 4: it could not write its log files (the output).
const COMPAS_LOGGING_FAILED = 4;

/**
 * Whether a failed COMPAS run can turn out differently when run again: the retry rule.
 *
 * A COMPAS run is a pure function of the binary, its arguments (the seed included) and the
 * environment, which compasEnv() scrubs. A failure that COMPAS reaches by itself therefore
 * repeats on every retry and is final: an exit code COMPAS chose (3 bad command line, 2
 * stopped on an error, ...), exit 0 with missing or incomplete output (an evolution error),
 * or a fault in its own code (SIGSEGV, SIGABRT, ...). Retried are failures of the machine:
 * COMPAS killed from outside (SIGKILL from the OOM killer, SIGTERM from a scheduler or an
 * administrator, also seen as exit 128 + n through a wrapper), exit 4 (its output files could
 * not be written), I/O errors or lack of memory in its output, a timeout (a loaded machine),
 * and a failed upload to the store (decided by the caller). A full disk is neither: it stops
 * the ensemble (DiskFullError). docs: README.md, "Which failures are retried".
 * @param outcome - how the COMPAS process ended
 * @param sawMachineTrouble - whether its output reported I/O errors or lack of memory
 */
function failureDependsOnMachine(outcome: ProcessOutcome, sawMachineTrouble: boolean): boolean {
  if (sawMachineTrouble) return true;
  const signal = outcome.signal ?? signalOfExitCode(outcome.exitCode);
  if (signal !== null) return !FAULT_SIGNALS.has(signal);
  return outcome.exitCode === COMPAS_LOGGING_FAILED;
}

// A shell or wrapper script reports a child killed by signal n as exit code 128 + n.
function signalOfExitCode(code: number | null): string | null {
  if (code === null || code <= 128 || code >= 128 + 65) return null;
  const entry = Object.entries(constants.signals).find(([, n]) => n === code - 128);
  return entry ? entry[0] : null;
}

/**
 * Removes the scratch folders that earlier calls left in `scratchRoot` for tasks of this plan
 * (an orchestrator killed with SIGKILL leaves whole COMPAS outputs there). Only folders named
 * as {@link runTask} names them, for a task of the plan, are touched; anything else stays.
 * Call it only where no other worker of the plan can be running in `scratchRoot`, and after
 * killOrphans() has stopped the COMPAS processes of earlier calls.
 * @param scratchRoot - folder holding per-call scratch folders
 * @param plan - the plan whose tasks' folders are removed
 * @returns names of the folders removed
 */
export function removeStaleScratch(scratchRoot: string, plan: Plan): string[] {
  if (!existsSync(scratchRoot)) return [];
  const taskIds = new Set(plan.tasks.map((t) => t.task_id));
  const removed: string[] = [];
  for (const name of readdirSync(scratchRoot)) {
    const taskId = scratchFolderTask(name);
    if (taskId === null || !taskIds.has(taskId)) continue;
    const path = join(scratchRoot, name);
    if (!lstatSync(path).isDirectory()) continue;
    // Retries: an orphan killed a moment ago may still be finishing its last write.
    rmSync(path, { recursive: true, force: true, maxRetries: 5 });
    removed.push(name);
  }
  return removed;
}

// Detailed files are named by in-run index, so chunks would collide: file i of a chunk
// becomes file first_system + i of the run, the name an unchunked run would have used.
async function uploadDetailedOutput(store: Store, task: Task, container: string): Promise<void> {
  const dir = join(container, "Detailed_Output");
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const m = /^BSE_Detailed_Output_(\d+)\.h5$/.exec(name);
    const target = m ? `BSE_Detailed_Output_${task.first_system + Number(m[1])}.h5` : name;
    await store.putFile(detailedOutputKey(task.run_id, target), join(dir, name));
  }
}

function contextOf(plan: Plan, task: Task): Fragment["context"] {
  const run = planIndex(plan).runs.get(task.run_id);
  if (!run) {
    throw new CompasEnsembleError("PLAN_MISMATCH", `Task ${task.task_id} names run ${task.run_id}, which is not in the plan.`);
  }
  return {
    grid_index: run.grid_index,
    params: run.params,
    chunk_index: task.chunk_index,
    n_chunks: task.n_chunks,
    run_output_key: run.output_key,
  };
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1) ?? "";
}
