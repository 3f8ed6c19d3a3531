import { z } from "zod";

/** How a check came out. `fail` means a run cannot start; `warn` and `info` never block one. */
export const DoctorStatusSchema = z.enum(["ok", "warn", "fail", "info", "skip"]);
/** Outcome of one doctor check. */
export type DoctorStatus = z.infer<typeof DoctorStatusSchema>;

/** One line of the doctor's report. */
export const DoctorCheckSchema = z.object({
  /** Stable name: node, compas, flags, build, libraries, python, disk, memory. */
  name: z.string(),
  status: DoctorStatusSchema,
  /** What was found, in one sentence. */
  detail: z.string(),
  /** What to do about it (absent when there is nothing to do). */
  fix: z.string().optional(),
  /** The measured values behind the sentence, for scripts. */
  data: z.record(z.string(), z.unknown()).optional(),
});
/** One line of the doctor's report. */
export type DoctorCheck = z.infer<typeof DoctorCheckSchema>;

/** What `doctor()` returns and `compas-ensemble doctor --json` prints. */
export const DoctorReportSchema = z.object({
  /** True when no check failed: a run with these settings can start. */
  ok: z.boolean(),
  library_version: z.string(),
  checks: z.array(DoctorCheckSchema),
});
/** What `doctor()` returns and `compas-ensemble doctor --json` prints. */
export type DoctorReport = z.infer<typeof DoctorReportSchema>;
