import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { checkCompletion } from "../compas/completion.js";
import { compasEnv } from "../compas/env.js";
import { withOutput } from "../compas/argv.js";
import { probeCompas } from "../compas/probe.js";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { planIndex } from "../metadata/plan-index.js";
import type { Fragment, Plan, Task, TaskError } from "../metadata/schemas.js";
import type { Store } from "../store/types.js";
import { LIBRARY_VERSION } from "../version.js";
import { runProcess } from "./_process.js";

/** Store key of one attempt's fragment. */
export function fragmentKey(taskId: string, attempt: number): string {
  return `fragments/${taskId}.a${attempt}.json`;
}

/** Store key of one attempt's log (stdout and stderr of COMPAS). */
export function logKey(taskId: string, attempt: number): string {
  return `logs/${taskId}.a${attempt}.log`;
}

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

/**
 * Runs one task wherever it is called (locally, on an SSH host, in a Batch container, in a
 * Slurm job): COMPAS in a fresh scratch folder, the completion check, the upload of output and
 * log, and last the fragment, so that a success fragment always means the output is stored.
 * @param options - plan, task, store and attempt
 */
export async function runTask(options: RunTaskOptions): Promise<RunTaskResult> {
  const { plan, task, store, attempt } = options;
  const startedAt = new Date();
  // Unique per call: two workers can run the same task and attempt on one machine (the same
  // plan written to two stores, or a host that lost contact and the task was placed again),
  // and a shared folder would be wiped under the other's COMPAS.
  const scratch = join(options.scratchRoot, `${task.task_id}.a${attempt}.${randomBytes(4).toString("hex")}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const logPath = join(scratch, "task.log");
  const binary = options.binary ?? plan.compas.binary;

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
    await store.put(fragmentKey(task.task_id, attempt), JSON.stringify(fragment, null, 2) + "\n");
    rmSync(scratch, { recursive: true, force: true });
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
    onLine: (line) => {
      if (PROGRESS_LINE.test(line)) options.onProgress?.(++done, task.n_systems);
    },
  });
  options.onExit?.();

  if (outcome.aborted && !outcome.timedOut) {
    rmSync(scratch, { recursive: true, force: true });
    return { status: "cancelled", reason: "cancelled before it finished" };
  }
  const tails = { stderr_tail: outcome.stderrTail.slice(-2000) };
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
      message: `COMPAS ran longer than the task timeout of ${Math.round((options.timeoutMs ?? 0) / 1000)} s and was killed.`,
      exit_code: outcome.exitCode,
      signal: outcome.signal,
      retryable: true,
      ...tails,
    });
  }
  if (outcome.exitCode !== 0) {
    // Exit 3 is a command-line error: the same argv fails the same way every time.
    const badFlags = outcome.exitCode === 3;
    return finish(null, {
      code: badFlags ? "COMPAS_FLAG_UNKNOWN" : "COMPAS_FAILED",
      message: badFlags
        ? `COMPAS rejected its command line (exit 3): ${lastLine(outcome.stderrTail)}`
        : `COMPAS ended with ${outcome.signal ? `signal ${outcome.signal}` : `exit code ${outcome.exitCode}`}.`,
      exit_code: outcome.exitCode,
      signal: outcome.signal,
      retryable: !badFlags,
      ...tails,
    });
  }

  const container = join(scratch, "COMPAS_Output");
  const check = await checkCompletion({ containerDir: container, nSystems: task.n_systems, stdoutTail: outcome.stdoutTail });
  if (!check.complete) {
    // An evolution error is deterministic in the seed; anything else (disk, I/O) may pass later.
    const deterministic = /Evolution stopped because an error occurred/.test(outcome.stdoutTail);
    return finish(null, {
      code: "OUTPUT_INCOMPLETE",
      message: `COMPAS exited 0 but the run is incomplete: ${check.problems.join("; ")}.`,
      exit_code: 0,
      retryable: !deterministic,
      ...tails,
    });
  }

  try {
    const put = await store.putFile(task.output_key, check.h5Path);
    await store.putFile(join(dirname(task.output_key), "Run_Details"), join(container, "Run_Details"));
    await uploadDetailedOutput(store, task, container);
    return await finish({ key: task.output_key, bytes: put.size, sha256: put.sha256, rows: check.rows }, null);
  } catch (err) {
    if (!isCompasEnsembleError(err)) throw err;
    return finish(null, { code: err.code, message: err.message, retryable: true });
  }
}

// Detailed files are named by in-run index, so chunks would collide: file i of a chunk
// becomes file first_system + i of the run, the name an unchunked run would have used.
async function uploadDetailedOutput(store: Store, task: Task, container: string): Promise<void> {
  const dir = join(container, "Detailed_Output");
  if (!existsSync(dir)) return;
  const runDir = `runs/${task.run_id}/COMPAS_Output/Detailed_Output`;
  for (const name of readdirSync(dir)) {
    const m = /^BSE_Detailed_Output_(\d+)\.h5$/.exec(name);
    const target = m ? `BSE_Detailed_Output_${task.first_system + Number(m[1])}.h5` : name;
    await store.putFile(`${runDir}/${target}`, join(dir, name));
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
