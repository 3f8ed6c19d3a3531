export {
  type AtomicWriteOptions,
  isAtomicTempName,
  type PreparedAtomicWrite,
  prepareAtomicWrite,
  writeFileAtomic,
  writeJsonAtomic,
} from "../util/atomic-write.js";
export { ManifestCheckpointer, type ManifestCheckpointerOptions } from "./checkpoint.js";
export {
  MANIFEST_FILE,
  PLAN_FILE,
  readManifest,
  readPlan,
  readValidated,
  writeManifest,
  writePlan,
} from "./files.js";
export { FRAGMENTS_DIR, fragmentFileName, type InvalidFragmentFile, readFragments, writeFragment } from "../store/fragments.js";
export { type MergeOptions, mergeMetadata } from "./merge.js";
export { assertSamePlan, comparePlans, type PlanContent, planHash } from "../plan/hash.js";
export {
  type MergePredecessorOptions,
  type MergePredecessorSummary,
  mergePredecessorManifests,
  PREDECESSOR_PATTERN,
} from "./legacy.js";
export { nextAttempt, planResume, type ResumePlan } from "./resume.js";
export {
  type CompasIdentity,
  CompasIdentitySchema,
  type Fragment,
  type FragmentContext,
  FragmentContextSchema,
  FragmentSchema,
  type Manifest,
  type ManifestRun,
  ManifestRunSchema,
  ManifestSchema,
  type OutputInfo,
  OutputInfoSchema,
  type Plan,
  type PlanRun,
  PlanRunSchema,
  PlanSchema,
  RowCountsSchema,
  type Task,
  type TaskError,
  TaskErrorSchema,
  TaskSchema,
} from "./schema.js";
export { estimateRemainingSeconds, type InvalidOutput, type StatusSummary, summarizeStatus, type TaskFailure } from "./status.js";
