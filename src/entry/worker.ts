/**
 * `compas-ensemble/worker`: what runs one task wherever an executor puts it (for writing an
 * executor of your own): the task runner and the worker process's entry with its exit codes.
 * @module worker
 */
export { runTask, type RunTaskOptions, type RunTaskResult } from "../worker/task.js";
export { runWorker, WORKER_EXIT, type RunWorkerOptions, type RunWorkerResult } from "../worker/main.js";
