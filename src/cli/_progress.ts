import type { EnsembleEvent } from "../ensemble/run.js";
import { formatDuration } from "../util/format.js";

export { formatDuration };

/**
 * Turns ensemble events into a progress bar with rate and ETA on a terminal, or into plain
 * log lines otherwise (CI logs, nohup files).
 * @param stream - where to write (stderr)
 * @param tty - whether to draw a bar
 */
export function progressReporter(stream: NodeJS.WriteStream, tty = stream.isTTY === true): (e: EnsembleEvent) => void {
  let totalSystems = 0;
  let doneSystems = 0;
  let totalTasks = 0;
  let finishedTasks = 0;
  let failedTasks = 0;
  const running = new Map<string, number>();
  const started = Date.now();

  const draw = (): void => {
    const live = [...running.values()].reduce((a, b) => a + b, 0);
    const done = doneSystems + live;
    const elapsed = (Date.now() - started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? (totalSystems - done) / rate : NaN;
    const width = 24;
    const filled = totalSystems > 0 ? Math.round((width * done) / totalSystems) : 0;
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    stream.write(
      `\r[${bar}] ${finishedTasks}/${totalTasks} tasks${failedTasks ? ` (${failedTasks} failed)` : ""} · ` +
        `${rate.toFixed(1)} binaries/s · ETA ${formatDuration(eta)}   `,
    );
  };
  const line = (text: string): void => {
    if (tty) stream.write("\r\x1b[K");
    stream.write(`${text}\n`);
    if (tty) draw();
  };

  return (e) => {
    switch (e.type) {
      case "plan": {
        const todoTasks = e.plan.tasks.length - e.done;
        totalTasks = todoTasks;
        totalSystems = Math.round((e.plan.n_systems_per_run / e.plan.runs[0]!.task_ids.length) * todoTasks);
        line(
          `ensemble ${e.plan.ensemble_id.slice(0, 12)}: ${e.plan.runs.length} runs, ${e.plan.tasks.length} tasks, ` +
            `${e.done} already done, ${e.todo} to run`,
        );
        break;
      }
      case "warning":
        line(`warning: ${e.message}`);
        break;
      case "unverified":
        line(`rerunning ${e.taskId}: ${e.reason}`);
        break;
      case "task-started":
        if (!tty) line(`started ${e.taskId} (attempt ${e.attempt})`);
        break;
      case "task-progress":
        running.set(e.taskId, e.done);
        if (tty) draw();
        break;
      case "task-finished": {
        running.delete(e.taskId);
        const f = e.fragment;
        if (f.status === "success") {
          finishedTasks++;
          doneSystems += f.n_systems;
          line(`done ${f.task_id} in ${formatDuration(f.duration_s)}`);
        } else if (e.willRetry) {
          line(`failed ${f.task_id} (attempt ${f.attempt}), will retry: ${f.error?.message ?? ""}`);
        } else {
          finishedTasks++;
          failedTasks++;
          line(`FAILED ${f.task_id}: ${f.error?.message ?? ""}`);
        }
        break;
      }
      case "task-cancelled":
        running.delete(e.taskId);
        line(`cancelled ${e.taskId}`);
        break;
      case "run-merged":
        line(`merged chunks of ${e.runId}`);
        break;
      case "log":
        line(`${e.level}: ${e.message}`);
        break;
      case "checkpoint":
        if (!tty) line(`checkpoint: manifest written (${e.succeeded} runs succeeded)`);
        break;
    }
  };
}
