import type { EnsembleEvent } from "../ensemble/run.js";
import type { Plan } from "../plan/schema.js";
import { formatDuration } from "../util/format.js";

/** What the one-line view shows. */
export interface LiveCounts {
  /** Runs (grid points) in the ensemble. */
  total: number;
  /** Runs whose every task succeeded. */
  done: number;
  /** Runs with a COMPAS process running; null when the source cannot tell (a store read from afar). */
  running: number | null;
  failed: number;
  queued: number;
  elapsedS: number;
  /** Seconds left, or null while unknown. */
  etaS: number | null;
}

/**
 * The one-line view: `[k/N] runs done · r running · f failed · q queued · elapsed 1m02s · ETA 3m10s`.
 * When running runs cannot be told apart (a store read from another machine), they are
 * counted with the queued ones: `q queued or running`.
 * @param c - the counts
 */
export function formatLiveLine(c: LiveCounts): string {
  const parts = [`[${c.done}/${c.total}] runs done`];
  if (c.running === null) parts.push(`${c.failed} failed`, `${c.queued} queued or running`);
  else parts.push(`${c.running} running`, `${c.failed} failed`, `${c.queued} queued`);
  parts.push(`elapsed ${formatDuration(c.elapsedS)}`);
  if (c.done + c.failed < c.total) parts.push(`ETA ${c.etaS === null ? "unknown" : formatDuration(c.etaS)}`);
  return parts.join(" · ");
}

/**
 * One status line on a stream. On a terminal it is redrawn in place (carriage return and
 * erase-line), cut to the terminal's width so it never wraps, and log lines go above it; on
 * anything else (a pipe, a CI log, a file) each changed line is written as a plain line with
 * the same content, and unchanged ones are not repeated.
 */
export class LiveLine {
  private current = "";
  private lastPlain = "";
  private drawn = false;

  /**
   * @param stream - where to write (stderr for `run`, stdout for `status --watch`)
   * @param tty - whether to redraw in place; default: whether the stream is a terminal
   */
  constructor(
    private readonly stream: NodeJS.WritableStream & { columns?: number; isTTY?: boolean },
    readonly tty = stream.isTTY === true,
  ) {}

  /** Shows `line` as the status line. */
  update(line: string): void {
    this.current = line;
    if (this.tty) {
      this.stream.write(`\r\x1b[K${this.fit(line)}`);
      this.drawn = true;
    } else if (line !== this.lastPlain) {
      this.stream.write(`${line}\n`);
      this.lastPlain = line;
    }
  }

  /** Writes a log line above the status line. */
  log(text: string): void {
    if (this.tty) {
      this.stream.write(`\r\x1b[K${text}\n`);
      if (this.current) this.stream.write(this.fit(this.current));
    } else {
      this.stream.write(`${text}\n`);
    }
  }

  /** Leaves the last status line on screen and moves below it. */
  end(): void {
    if (this.tty && this.drawn) this.stream.write("\n");
    this.drawn = false;
  }

  private fit(line: string): string {
    const width = this.stream.columns;
    return width && width > 1 && line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line;
  }
}

type TaskState = "done" | "queued" | "running" | "failed";

/** A reporter of ensemble events that keeps the live view; `end()` stops its clock. */
export interface LiveReporter {
  (event: EnsembleEvent): void;
  /** Stops the once-a-second redraw and leaves the last line on screen. */
  end(): void;
}

/**
 * The live view of `compas-ensemble run`: `[k/N]` runs done, running, failed and queued,
 * elapsed time and ETA on one line, redrawn in place on a terminal (also once a second, for
 * the clock) and written as plain lines elsewhere. A task counts as running only from the
 * executor's task-started event, which the local executor emits when COMPAS has really
 * spawned, not when the task is queued. Task results (done, failed, retried) are log lines.
 * @param stream - where to write (stderr)
 * @param options - `tty` overrides the terminal detection; `now` is the clock (ms)
 */
export function liveReporter(
  stream: NodeJS.WritableStream & { columns?: number; isTTY?: boolean },
  options: { tty?: boolean; now?: () => number } = {},
): LiveReporter {
  const now = options.now ?? Date.now;
  const line = new LiveLine(stream, options.tty ?? stream.isTTY === true);
  const started = now();
  let plan: Plan | null = null;
  const taskState = new Map<string, TaskState>();
  const runOfTask = new Map<string, string>();
  const partial = new Map<string, number>();
  let systemsTodo = 0;
  let systemsDone = 0;
  let timer: NodeJS.Timeout | undefined;

  const counts = (): LiveCounts => {
    const byRun = new Map<string, TaskState[]>();
    for (const [task, state] of taskState) {
      const run = runOfTask.get(task)!;
      byRun.set(run, [...(byRun.get(run) ?? []), state]);
    }
    const c = { total: plan?.runs.length ?? 0, done: 0, running: 0, failed: 0, queued: 0 };
    for (const states of byRun.values()) {
      if (states.includes("running")) c.running++;
      else if (states.every((s) => s === "done")) c.done++;
      else if (states.includes("failed")) c.failed++;
      else c.queued++;
    }
    const elapsedS = (now() - started) / 1000;
    const progressed = systemsDone + [...partial.values()].reduce((a, b) => a + b, 0);
    const rate = elapsedS > 0 ? progressed / elapsedS : 0;
    const left = systemsTodo - progressed;
    return { ...c, elapsedS, etaS: left <= 0 ? 0 : rate > 0 ? left / rate : null };
  };
  const draw = (): void => {
    if (plan) line.update(formatLiveLine(counts()));
  };

  const reporter = ((e: EnsembleEvent): void => {
    switch (e.type) {
      case "plan": {
        plan = e.plan;
        const todo = new Set(e.todoIds ?? e.plan.tasks.map((t) => t.task_id));
        for (const t of e.plan.tasks) {
          runOfTask.set(t.task_id, t.run_id);
          taskState.set(t.task_id, todo.has(t.task_id) ? "queued" : "done");
          if (todo.has(t.task_id)) systemsTodo += t.n_systems;
        }
        line.log(
          `ensemble ${e.plan.ensemble_id.slice(0, 12)}: ${e.plan.runs.length} runs, ${e.plan.tasks.length} tasks, ` +
            `${e.done} already done, ${e.todo} to run`,
        );
        if (line.tty && timer === undefined) {
          timer = setInterval(draw, 1000);
          timer.unref();
        }
        break;
      }
      case "warning":
        line.log(`warning: ${e.message}`);
        break;
      case "unverified":
        line.log(`rerunning ${e.taskId}: ${e.reason}`);
        break;
      case "task-started":
        taskState.set(e.taskId, "running");
        line.log(`started ${e.taskId}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}${e.where && e.where !== "local" ? ` on ${e.where}` : ""}`);
        break;
      case "task-progress":
        partial.set(e.taskId, e.done);
        if (line.tty) draw();
        return;
      case "task-finished": {
        partial.delete(e.taskId);
        const f = e.fragment;
        if (f.status === "success") {
          taskState.set(e.taskId, "done");
          systemsDone += f.n_systems;
          line.log(`done ${f.task_id} in ${formatDuration(f.duration_s)}`);
        } else if (e.willRetry) {
          taskState.set(e.taskId, "queued");
          line.log(`failed ${f.task_id} (attempt ${f.attempt}), will retry: ${f.error?.message ?? ""}`);
        } else {
          taskState.set(e.taskId, "failed");
          line.log(`FAILED ${f.task_id}: ${f.error?.message ?? ""}`);
        }
        break;
      }
      case "task-cancelled":
        partial.delete(e.taskId);
        taskState.set(e.taskId, "queued");
        line.log(`cancelled ${e.taskId}`);
        break;
      case "run-merged":
        line.log(`merged chunks of ${e.runId}`);
        break;
      case "log":
        line.log(`${e.level}: ${e.message}`);
        break;
      case "checkpoint":
        if (!line.tty) line.log(`checkpoint: manifest written (${e.succeeded} runs succeeded)`);
        break;
    }
    draw();
  }) as LiveReporter;
  reporter.end = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
    draw();
    line.end();
  };
  return reporter;
}

/**
 * What to do after an ensemble: the commands that extract the SBI dataset and make the
 * report, with the output location as the user gave it.
 * @param output - the ensemble's output directory or S3 URI
 */
export function nextSteps(output: string): string[] {
  const name = output.replace(/\/+$/, "").split("/").at(-1) || "ensemble";
  const arg = /[^\w@%+=:,./-]/.test(output) ? `'${output.replaceAll("'", "'\\''")}'` : output;
  return [`next: compas-ensemble extract ${arg} --out ${name}-sbi.h5`, `      compas-ensemble report ${arg} --out ${name}-report.html`];
}
