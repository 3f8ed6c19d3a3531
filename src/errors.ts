/**
 * Stable error codes. Scripts and the CLI branch on these, so never rename one.
 */
export const ERROR_CODES = [
  "GRID_INVALID",
  "COMPAS_NOT_FOUND",
  "COMPAS_FLAG_UNKNOWN",
  "COMPAS_FAILED",
  "AXIS_INERT",
  "OPTIONS_INVALID",
  "OUTPUT_INCOMPLETE",
  "HDF5_UNREADABLE",
  "HDF5_COLUMN_MISSING",
  "PLAN_MISMATCH",
  "METADATA_INVALID",
  "METADATA_CONFLICT",
  "STORE_ACCESS",
  "STORE_KEY_UNSAFE",
  "DISK_FULL",
  "PATH_UNUSABLE",
  "TASK_FAILED",
  "TASK_TIMEOUT",
  "CANCELLED",
  "SSH_HOST_UNREACHABLE",
  "SSH_HOST_KEY",
  "BATCH_API",
  "SLURM",
  "OUTPUT_CORRUPT",
  "OUTPUT_PATH_REFUSED",
  "N_MISMATCH",
  "ENSEMBLE_LOCKED",
  "PLAN_MISSING",
  "HANDLE_MISSING",
  "INTERNAL",
] as const;

/** One of the stable error codes in {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes whose errors are the user's to fix (bad input); the CLI exits 2 for these. */
const USER_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "GRID_INVALID",
  "COMPAS_NOT_FOUND",
  "COMPAS_FLAG_UNKNOWN",
  "AXIS_INERT",
  "OPTIONS_INVALID",
  // A file given to inspect or extract that is not HDF5, corrupt, or lacks a column: the
  // input is wrong. (Outputs a run checks itself are caught and rerun, not reported here.)
  "HDF5_UNREADABLE",
  "HDF5_COLUMN_MISSING",
  "PLAN_MISMATCH",
  "METADATA_INVALID",
  "STORE_KEY_UNSAFE",
  "PATH_UNUSABLE",
  "SSH_HOST_KEY",
  "OUTPUT_PATH_REFUSED",
  "N_MISMATCH",
  // Another process holds the ensemble directory: wait for it or stop it.
  "ENSEMBLE_LOCKED",
  // The path given is not an ensemble output (no plan.json), or nothing detached was submitted there.
  "PLAN_MISSING",
  "HANDLE_MISSING",
]);

/** Options for {@link CompasEnsembleError}. */
export interface CompasEnsembleErrorOptions {
  /** The underlying error, kept for --debug and programmatic inspection. */
  cause?: unknown;
  /** A short suggestion of what to do next, printed by the CLI under the message. */
  hint?: string;
  /** The task the error is about, when there is one. */
  taskId?: string;
  /** The store key (or file) the error is about, when there is one. */
  key?: string;
  /** The host (SSH host name, Batch job, Slurm node) the error is about, when there is one. */
  host?: string;
}

/**
 * The one base error of the library: every error it throws on purpose is one of these,
 * with a stable {@link ErrorCode} and the original error as `cause`.
 */
export class CompasEnsembleError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** What the user can do about it, if anything. */
  readonly hint: string | undefined;
  /** The task the error is about, if known. */
  readonly taskId: string | undefined;
  /** The store key (or file) the error is about, if known. */
  readonly key: string | undefined;
  /** The host the error is about, if known. */
  readonly host: string | undefined;

  /**
   * @param code - stable code from {@link ERROR_CODES}
   * @param message - one sentence naming the file, flag or axis and what is wrong
   * @param options - `cause`, `hint` and the task, key or host it is about
   */
  constructor(code: ErrorCode, message: string, options: CompasEnsembleErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CompasEnsembleError";
    this.code = code;
    this.hint = options.hint;
    this.taskId = options.taskId;
    this.key = options.key;
    this.host = options.host;
  }

  /** True when the error is caused by user input rather than a failure while running. */
  get isUserError(): boolean {
    return USER_ERROR_CODES.has(this.code);
  }
}

/**
 * Type guard for library errors, optionally of one code.
 * @param err - anything caught
 * @param code - if given, also require this code
 */
export function isCompasEnsembleError(err: unknown, code?: ErrorCode): err is CompasEnsembleError {
  return err instanceof CompasEnsembleError && (code === undefined || err.code === code);
}

/**
 * A local file system ran out of space (ENOSPC) or quota (EDQUOT). Not the user's input, but
 * theirs to fix: nothing more can be written, so the ensemble stops instead of failing task
 * after task, and the path says which disk needs room.
 */
export class DiskFullError extends CompasEnsembleError {
  /** The folder or file that could not be written. */
  readonly path: string;

  /**
   * @param path - the folder or file that could not be written
   * @param message - one sentence naming the disk
   * @param options - `cause` and `hint`
   */
  constructor(path: string, message: string, options: CompasEnsembleErrorOptions = {}) {
    super("DISK_FULL", message, options);
    this.name = "DiskFullError";
    this.path = path;
  }
}
