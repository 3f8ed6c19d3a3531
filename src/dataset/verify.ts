import { join } from "node:path";
import { readPlan } from "../store/ensemble-files.js";
import { readFragments } from "../store/fragments.js";
import { verifiedSuccesses } from "../ensemble/verify.js";
import { CompasEnsembleError } from "../errors.js";
import { realPathOf } from "../store/owned-paths.js";
import { LocalStore } from "../store/local.js";
import type { DatasetSource } from "./source.js";

/**
 * Checks, before anything is extracted, that every output the dataset will read is the file
 * its task recorded: size and a freshly computed sha256 against the success fragment (or, for
 * a chunked run, the merge record), with the same check `compas-ensemble run` uses on resume.
 * A manifest with no plan and fragments beside it (the predecessor's, or a manifest copied on
 * its own) cannot be checked; that is reported through `onWarning`, not refused.
 * @param src - the located source, see readDatasetSource
 * @param onWarning - receives one sentence when the outputs cannot be checked
 * @returns true when every output was checked, false when there was nothing to check against
 * @throws CompasEnsembleError OUTPUT_CORRUPT naming the runs whose output is missing or differs
 */
export async function verifySourceOutputs(src: DatasetSource, onWarning: (message: string) => void): Promise<boolean> {
  const store = new LocalStore(src.dir);
  const plan = await readPlan(store);
  const fragments = plan === null ? [] : (await readFragments(store)).fragments.filter((f) => f.ensemble_id === plan.ensemble_id);
  if (plan === null || fragments.length === 0) {
    onWarning(
      `${src.manifestPath} has no plan.json and task fragments beside it (a predecessor's or copied manifest), so the size and sha256 of its outputs were not checked.`,
    );
    return false;
  }
  const manifestId = (src.manifest as Record<string, unknown>).ensemble_id;
  if (typeof manifestId === "string" && manifestId !== plan.ensemble_id) {
    onWarning(
      `${src.manifestPath} belongs to ensemble ${manifestId.slice(0, 12)} but the plan beside it to ${plan.ensemble_id.slice(0, 12)}, so the size and sha256 of its outputs were not checked.`,
    );
    return false;
  }
  const { successes, mergedRuns, reasons } = await verifiedSuccesses(store, plan, fragments, undefined, { check: "rehash" });
  const planRuns = new Map(plan.runs.map((r) => [r.run_id, r]));
  const problems: { runId: string; reason: string }[] = [];
  for (const run of src.runs) {
    const planRun = planRuns.get(run.run_id);
    if (planRun === undefined) {
      problems.push({ runId: run.run_id, reason: "it is not in the plan beside the manifest, so nothing records its output" });
      continue;
    }
    const chunked = planRun.task_ids.length > 1;
    const only = successes.get(planRun.task_ids[0] as string);
    const key = chunked ? (mergedRuns.has(run.run_id) ? planRun.output_key : null) : (only?.output?.key ?? null);
    if (key === null) {
      const reason = planRun.task_ids.map((id) => reasons.get(id)).find((r) => r !== undefined);
      problems.push({ runId: run.run_id, reason: reason ?? "no task fragment records its success" });
    } else if (realPathOf(run.output_path) !== realPathOf(join(src.dir, ...key.split("/")))) {
      problems.push({ runId: run.run_id, reason: `the file read, ${run.output_path}, is not its recorded output ${key}` });
    }
  }
  const first = problems[0];
  if (first !== undefined) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more: ${problems.slice(1).map((p) => p.runId).join(", ")})` : "";
    throw new CompasEnsembleError(
      "OUTPUT_CORRUPT",
      `Run ${first.runId} of ${src.dir} does not match its record: ${first.reason}${more}.`,
      {
        hint: "Run `compas-ensemble run` on this directory with the same flags to recompute damaged runs, or pass --no-verify to extract the files as they are.",
      },
    );
  }
  return true;
}
