import { CompasEnsembleError } from "../../errors.js";
import { runSlurmCommand } from "./_commands.js";

/** One array element as Slurm reports it. */
export interface SlurmElement {
  /** The array's job id (what sbatch printed). */
  arrayJobId: string;
  /** SLURM_ARRAY_TASK_ID of the element. */
  index: number;
  /** Base job state, e.g. PENDING, RUNNING, COMPLETED, CANCELLED, PREEMPTED. */
  state: string;
  /** Slurm's reason (e.g. Priority, JobArrayTaskLimit, BeginTime); undefined for "None". */
  reason?: string;
  /** Exit code of the batch script, when Slurm gives one. */
  exitCode?: number;
  /** Signal that ended the batch script, when Slurm gives one. */
  signal?: number;
  /** Nodes it runs or ran on. */
  nodes?: string;
  /** Times Slurm requeued it. */
  restarts?: number;
}

/** How a Slurm state counts for a task. */
export type SlurmPhase = "pending" | "running" | "completed" | "cancelled" | "failed";

const PENDING = new Set(["PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "PREEMPTED", "SUSPENDED", "STOPPED", "RESV_DEL_HOLD", "SPECIAL_EXIT", "POWER_UP_NODE"]);
const RUNNING = new Set(["RUNNING", "CONFIGURING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING", "UPDATE_DB"]);

/**
 * What a Slurm job state means for the task: PREEMPTED and REQUEUED jobs come back
 * (pending), COMPLETING is still running; CANCELLED is a cancellation; every other end
 * state (FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE) is a failure.
 * @param state - Slurm's job state (flags after `+` or in a list are ignored but REQUEUED)
 */
export function slurmPhase(state: string): SlurmPhase {
  const words = state.toUpperCase().split(/[^A-Z_]+/).filter(Boolean);
  // A requeue in progress shows as e.g. "COMPLETING+REQUEUED" or ["PENDING","REQUEUED"].
  if (words.some((w) => w === "REQUEUED" || w === "REQUEUE_HOLD" || w === "REQUEUE_FED")) return "pending";
  const base = words[0] ?? "";
  if (PENDING.has(base)) return "pending";
  if (RUNNING.has(base)) return "running";
  if (base === "COMPLETED") return "completed";
  if (base === "CANCELLED") return "cancelled";
  return "failed";
}

/**
 * The indices of an array expression as Slurm prints it: `3`, `0-7`, `2-9%2`, `0,4-6`,
 * `0-15:4`. The throttle after `%` is dropped.
 * @param text - array_task_string / ArrayTaskId
 */
export function parseArrayIndices(text: string): number[] {
  const body = text.split("%")[0]!.trim();
  if (body === "") return [];
  const out: number[] = [];
  for (const part of body.split(",")) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) throw new CompasEnsembleError("SLURM", `Slurm printed an array expression this library cannot read: ${JSON.stringify(text)}.`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (step < 1) throw new CompasEnsembleError("SLURM", `Slurm printed an array step of 0 in ${JSON.stringify(text)}.`);
    for (let i = first; i <= last; i += step) out.push(i);
  }
  return out;
}

// squeue --json changed shape across versions: 22.05 (openapi v0.0.38) prints plain numbers
// and strings; 23.02+ (data_parser) prints {set, number} objects, state lists and exit-code
// objects. Both are read here.
function num(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  if (value && typeof value === "object" && "number" in value) {
    const v = value as { set?: boolean; infinite?: boolean; number?: unknown };
    if (v.set === false || v.infinite === true) return undefined;
    return num(v.number);
  }
  return undefined;
}

function text(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.filter((v) => typeof v === "string").join("+");
  return undefined;
}

function exitOf(value: unknown): { exitCode?: number; signal?: number } {
  const raw = num(value);
  // A plain number is a wait status: exit code in the high byte, signal in the low bits.
  if (raw !== undefined) return { exitCode: raw >> 8, signal: raw & 0x7f || undefined };
  if (value && typeof value === "object") {
    const v = value as { return_code?: unknown; signal?: { id?: unknown } };
    return { exitCode: num(v.return_code), signal: num(v.signal?.id) || undefined };
  }
  return {};
}

function reasonOf(value: unknown): string | undefined {
  const r = text(value);
  return r === undefined || r === "" || r === "None" ? undefined : r;
}

/**
 * Array elements of the given array jobs in `squeue --json` output. Other jobs are
 * ignored (Slurm 22.05 prints every job whatever the filter). A pending remainder of an
 * array (one record, array_task_string `2-9%2`) becomes one element per index.
 * @param json - squeue --json stdout
 * @param arrayJobIds - the arrays to keep
 */
export function parseSqueueJson(json: string, arrayJobIds: ReadonlySet<string>): SlurmElement[] {
  let doc: { jobs?: unknown[] };
  try {
    doc = JSON.parse(json) as { jobs?: unknown[] };
  } catch (cause) {
    throw new CompasEnsembleError("SLURM", "squeue --json printed something that is not JSON.", { cause });
  }
  if (!Array.isArray(doc.jobs)) throw new CompasEnsembleError("SLURM", "squeue --json printed no `jobs` list.");
  const out: SlurmElement[] = [];
  for (const raw of doc.jobs) {
    const job = raw as Record<string, unknown>;
    const arrayJobId = String(num(job.array_job_id) ?? "");
    const jobId = String(num(job.job_id) ?? "");
    const owner = arrayJobIds.has(arrayJobId) ? arrayJobId : arrayJobIds.has(jobId) && (num(job.array_job_id) ?? 0) === 0 ? jobId : undefined;
    if (owner === undefined) continue;
    const base = {
      arrayJobId: owner,
      state: text(job.job_state) ?? "UNKNOWN",
      reason: reasonOf(job.state_reason),
      ...exitOf(job.exit_code),
      nodes: text(job.nodes) || undefined,
      restarts: num(job.restart_cnt),
    };
    const index = num(job.array_task_id);
    const indices = index !== undefined ? [index] : parseArrayIndices(text(job.array_task_string) ?? "");
    for (const i of indices) out.push({ ...base, index: i });
  }
  return out;
}

/**
 * Array elements of the given array jobs in `scontrol show job --oneliner` output (the
 * fallback where squeue has no --json).
 * @param textOut - scontrol stdout: one `Key=Value ...` line per job record
 * @param arrayJobIds - the arrays to keep
 */
export function parseScontrolJobs(textOut: string, arrayJobIds: ReadonlySet<string>): SlurmElement[] {
  const out: SlurmElement[] = [];
  for (const line of textOut.split("\n")) {
    if (!line.startsWith("JobId=")) continue;
    const field = (key: string): string | undefined => new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(line)?.[1];
    const arrayJobId = field("ArrayJobId");
    if (arrayJobId === undefined || !arrayJobIds.has(arrayJobId)) continue;
    const [code, sig] = (field("ExitCode") ?? "").split(":").map(Number);
    const nodes = field("NodeList");
    const base = {
      arrayJobId,
      state: field("JobState") ?? "UNKNOWN",
      reason: reasonOf(field("Reason")),
      exitCode: Number.isFinite(code) ? code : undefined,
      signal: sig || undefined,
      nodes: nodes && nodes !== "(null)" ? nodes : undefined,
      restarts: num(field("Restarts")),
    };
    for (const i of parseArrayIndices(field("ArrayTaskId") ?? "")) out.push({ ...base, index: i });
  }
  return out;
}

/**
 * Asks Slurm for the elements of the given arrays: `squeue --json`, or `scontrol show job`
 * where this squeue has no JSON output. Finished elements are listed until slurmctld
 * purges them (MinJobAge); after that a task's state comes from its fragments.
 * @param arrayJobIds - array job ids printed by sbatch
 * @param env - environment of the Slurm commands
 */
export async function querySlurm(arrayJobIds: readonly string[], env: NodeJS.ProcessEnv): Promise<SlurmElement[]> {
  const ids = new Set(arrayJobIds);
  const json = await runSlurmCommand("squeue", ["--json", "--states=all", `--jobs=${arrayJobIds.join(",")}`], { env });
  if (json.code === 0) return parseSqueueJson(json.stdout, ids);
  // Where squeue honours --jobs, a purged id fails the whole call ("Invalid job id
  // specified"); asking for each id alone tells purged arrays from live ones.
  if (/invalid job id/i.test(json.stderr)) {
    if (arrayJobIds.length === 1) return [];
    const parts = await Promise.all(arrayJobIds.map((id) => querySlurm([id], env)));
    return parts.flat();
  }
  const fallback = await runSlurmCommand("scontrol", ["show", "job", "--oneliner"], { env });
  if (fallback.code === 0) return parseScontrolJobs(fallback.stdout, ids);
  throw new CompasEnsembleError(
    "SLURM",
    `squeue --json failed (${json.stderr.trim().split("\n").at(-1) || `exit ${json.code}`}) and so did scontrol show job (${fallback.stderr.trim().split("\n").at(-1) || `exit ${fallback.code}`}).`,
    { hint: "Check SLURM_CONF and that slurmctld is reachable (`sinfo`)." },
  );
}
