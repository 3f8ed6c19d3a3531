/**
 * `compas-ensemble/manifest`: the plan, the fragments and the manifest of an ensemble as
 * data: their schemas, building and hashing a plan, merging fragments into
 * `ensemble_metadata.json`, status and resume, and the older Python tool's ("legacy")
 * per-slice manifests.
 * @module manifest
 */
export { buildPlan, firstSeedOfRun, type BuildPlanOptions } from "../plan/build.js";
export { PlanSchema, TaskSchema, PlanRunSchema, CompasIdentitySchema, type Plan, type Task, type PlanRun, type CompasIdentity } from "../plan/schema.js";
export { planHash, comparePlans, assertSamePlan, type PlanContent } from "../plan/hash.js";
export {
  FragmentSchema,
  FragmentContextSchema,
  ManifestSchema,
  ManifestRunSchema,
  OutputInfoSchema,
  TaskErrorSchema,
  RowCountsSchema,
  type Fragment,
  type FragmentContext,
  type Manifest,
  type ManifestRun,
  type OutputInfo,
  type TaskError,
} from "../manifest/schema.js";
export { mergeMetadata, type MergeOptions } from "../manifest/merge.js";
export { ManifestCheckpointer, DEFAULT_CHECKPOINT_EVERY, type ManifestCheckpointerOptions } from "../manifest/checkpoint.js";
export { summarizeStatus, estimateRemainingSeconds, type InvalidOutput, type StatusSummary, type TaskFailure } from "../manifest/status.js";
export { planResume, nextAttempt, type ResumePlan } from "../manifest/resume.js";
export {
  mergeLegacyManifests,
  LEGACY_PATTERN,
  mergePredecessorManifests,
  PREDECESSOR_PATTERN,
  type MergeLegacyOptions,
  type MergeLegacySummary,
  type MergePredecessorOptions,
  type MergePredecessorSummary,
} from "../manifest/legacy.js";
