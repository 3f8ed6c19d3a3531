import { planHash } from "../../src/plan/hash.js";
import type { Fragment } from "../../src/manifest/schema.js";
import type { Plan, PlanRun, Task } from "../../src/plan/schema.js";

const ALPHAS = [0.1, 0.15475, 0.23948, 0.37060, 0.57352];
const LAMBDAS = [0.1, 0.5];
const ZS = [0.0001, 0.0142];

function runId(alpha: number, lambda: number, z: number): string {
  return `alpha${alpha.toFixed(3)}_lambda${lambda.toFixed(2)}_kick217_Z${z.toFixed(5)}_fa0.50`;
}

/**
 * A small, realistic plan: sparse-grid-like points in the predecessor's order, each run split
 * into `chunks` tasks of equal size.
 */
export function makePlan(opts: { runs?: number; chunks?: number; nSystems?: number; profile?: string } = {}): Plan {
  const nRuns = opts.runs ?? 4;
  const chunks = opts.chunks ?? 1;
  const n = opts.nSystems ?? 1000;
  const perTask = n / chunks;
  const points = [];
  const runs: PlanRun[] = [];
  const tasks: Task[] = [];
  let k = 0;
  outer: for (const alpha of ALPHAS) {
    for (const lambda of LAMBDAS) {
      for (const z of ZS) {
        if (k >= nRuns) break outer;
        const id = runId(alpha, lambda, z);
        const params = { alpha_ce: alpha, lambda_ce: lambda, kick_sigma: 217, metallicity: z, mass_transfer_fa: 0.5 };
        points.push({ index: k, run_id: id, params });
        const seed = 1_000 + k * n;
        const runKey = `runs/${id}/COMPAS_Output/COMPAS_Output.h5`;
        const taskIds: string[] = [];
        for (let c = 0; c < chunks; c++) {
          const taskId = chunks === 1 ? id : `${id}.c${c}`;
          taskIds.push(taskId);
          tasks.push({
            task_id: taskId,
            run_id: id,
            grid_index: k,
            chunk_index: c,
            n_chunks: chunks,
            first_system: c * perTask,
            n_systems: perTask,
            seed: seed + c * perTask,
            args: [
              "--number-of-systems", String(perTask),
              "--common-envelope-alpha", String(alpha),
              "--common-envelope-lambda", String(lambda),
              "--metallicity", String(z),
              "--random-seed", String(seed + c * perTask),
            ],
            output_key: chunks === 1 ? runKey : `runs/${id}/chunks/c${c}/COMPAS_Output.h5`,
          });
        }
        runs.push({ run_id: id, grid_index: k, params, seed, n_systems: n, task_ids: taskIds, output_key: runKey });
        k++;
      }
    }
  }
  const content = {
    schema_version: 1 as const,
    compas: { binary: "/opt/COMPAS/src/bin/COMPAS", version: "03.07.00", sha256: "ab".repeat(32) },
    profile: opts.profile ?? "fast",
    n_systems_per_run: n,
    systems_per_task: perTask,
    seed_base: 1_000,
    hdf5_chunk_size: 1000,
    points,
    runs,
    tasks,
  };
  return { ...content, ensemble_id: planHash(content), created_at: "2026-11-28T10:00:00.000Z", library_version: "0.1.0" };
}

/** A fragment for one task of `plan`, as a worker would write it. */
export function makeFragment(
  plan: Plan,
  taskId: string,
  opts: { attempt?: number; status?: "success" | "failed"; sha?: string; minute?: number; host?: string; seed?: number } = {},
): Fragment {
  const task = plan.tasks.find((t) => t.task_id === taskId);
  if (task === undefined) throw new Error(`no task ${taskId}`);
  const run = plan.runs.find((r) => r.run_id === task.run_id) as PlanRun;
  const attempt = opts.attempt ?? 1;
  const status = opts.status ?? "success";
  const minute = String(opts.minute ?? attempt).padStart(2, "0");
  return {
    schema_version: 1,
    ensemble_id: plan.ensemble_id,
    task_id: taskId,
    run_id: task.run_id,
    attempt,
    status,
    host: opts.host ?? "worker-1",
    started_at: `2026-11-28T11:${minute}:00.000Z`,
    finished_at: `2026-11-28T11:${minute}:30.000Z`,
    duration_s: 30,
    seed: opts.seed ?? task.seed,
    n_systems: task.n_systems,
    argv: [
      "/opt/COMPAS/src/bin/COMPAS",
      ...task.args,
      "--output-path", `/scratch/${taskId}.a${attempt}`,
      "--output-container", "COMPAS_Output",
    ],
    compas: plan.compas,
    library_version: "0.1.0",
    output:
      status === "success"
        ? { key: task.output_key, bytes: 8_800_000, sha256: opts.sha ?? "cd".repeat(32), rows: { BSE_System_Parameters: task.n_systems } }
        : null,
    error:
      status === "failed"
        ? { code: "COMPAS_FAILED", message: `COMPAS exited with code 2 (attempt ${attempt})`, exit_code: 2, retryable: true }
        : null,
    context: {
      grid_index: task.grid_index,
      params: run.params,
      chunk_index: task.chunk_index,
      n_chunks: task.n_chunks,
      run_output_key: run.output_key,
    },
  };
}

/** Deterministic pseudo-random permutation (mulberry32), so failures reproduce. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
