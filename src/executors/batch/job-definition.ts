import type { JobDefinition, RegisterJobDefinitionCommandInput } from "@aws-sdk/client-batch";
import { CompasEnsembleError } from "../../errors.js";
import { canonicalJson, compareStrings, sha256Hex } from "../../util/canonical-json.js";
import type { BatchApi } from "./_api.js";
import { JobDefinitionSpecSchema, type JobDefinitionSpec } from "./options.js";

/** Tag holding the hash of the spec a definition was registered from. */
export const SPEC_TAG = "compas-ensemble:spec-sha256";
/** Tag declaring the sha256 of the COMPAS binary in the definition's image. */
export const COMPAS_SHA256_TAG = "compas-ensemble:compas-sha256";

/**
 * The RegisterJobDefinition request for a spec: an EC2 container job with the spec's image,
 * vCPUs, memory, roles, environment and timeout, tagged with the hash of all of these so an
 * identical definition can be found again.
 * @param spec - what to register (defaults filled in here)
 */
export function jobDefinitionInput(spec: JobDefinitionSpec): RegisterJobDefinitionCommandInput {
  const s = JobDefinitionSpecSchema.parse(spec);
  const environment = Object.entries(s.environment ?? {})
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([name, value]) => ({ name, value }));
  const body: Omit<RegisterJobDefinitionCommandInput, "tags"> = {
    jobDefinitionName: s.name,
    type: "container",
    platformCapabilities: ["EC2"],
    containerProperties: {
      image: s.image,
      resourceRequirements: [
        { type: "VCPU", value: String(s.vcpus) },
        { type: "MEMORY", value: String(s.memoryMiB) },
      ],
      ...(s.jobRoleArn ? { jobRoleArn: s.jobRoleArn } : {}),
      ...(s.executionRoleArn ? { executionRoleArn: s.executionRoleArn } : {}),
      ...(environment.length > 0 ? { environment } : {}),
    },
    ...(s.timeoutSeconds ? { timeout: { attemptDurationSeconds: s.timeoutSeconds } } : {}),
    propagateTags: true,
  };
  // The declared build is part of the identity: a definition declaring another is not reused.
  const hashed = s.compasSha256 ? { ...body, compasSha256: s.compasSha256 } : body;
  return { ...body, tags: { [SPEC_TAG]: sha256Hex(canonicalJson(hashed)), ...(s.compasSha256 ? { [COMPAS_SHA256_TAG]: s.compasSha256 } : {}) } };
}

/** Which definition to use and whether it was registered now. */
export interface ResolvedJobDefinition {
  /** ARN (or name:revision) to submit with. */
  jobDefinition: string;
  registered: boolean;
}

/**
 * Finds an ACTIVE definition registered from an identical spec (same hash tag, same image)
 * and returns it; registers a new revision only when there is none.
 * @param api - Batch API
 * @param spec - the definition wanted
 */
export async function ensureJobDefinition(api: BatchApi, spec: JobDefinitionSpec): Promise<ResolvedJobDefinition> {
  const input = jobDefinitionInput(spec);
  const hash = input.tags![SPEC_TAG]!;
  const existing = await api.describeJobDefinitions({ jobDefinitionName: input.jobDefinitionName, status: "ACTIVE" });
  const same = existing
    .filter((d) => isIdentical(d, input, hash))
    .sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0];
  if (same) return { jobDefinition: same.jobDefinitionArn ?? `${same.jobDefinitionName}:${same.revision}`, registered: false };
  const res = await api.registerJobDefinition(input);
  const ref = res.jobDefinitionArn ?? (res.revision !== undefined ? `${res.jobDefinitionName}:${res.revision}` : undefined);
  if (!ref) {
    throw new CompasEnsembleError("BATCH_API", `RegisterJobDefinition for ${input.jobDefinitionName} returned neither an ARN nor a revision.`);
  }
  return { jobDefinition: ref, registered: true };
}

function isIdentical(d: JobDefinition, input: RegisterJobDefinitionCommandInput, hash: string): boolean {
  return (
    d.status === "ACTIVE" &&
    d.jobDefinitionName === input.jobDefinitionName &&
    d.tags?.[SPEC_TAG] === hash &&
    d.tags?.[COMPAS_SHA256_TAG] === input.tags?.[COMPAS_SHA256_TAG] &&
    // A tag can be copied by hand; the image is the one field that must never be mixed up.
    d.containerProperties?.image === input.containerProperties?.image
  );
}

/**
 * The COMPAS sha256 a job definition declares (its {@link COMPAS_SHA256_TAG} tag), or undefined
 * when it declares none. A bare name means its latest ACTIVE revision, as for SubmitJob.
 * @param api - Batch API
 * @param ref - ARN, name:revision or name
 */
export async function declaredCompasSha256(api: BatchApi, ref: string): Promise<string | undefined> {
  const withRevision = /:\d+$/.test(ref);
  const found = await api.describeJobDefinitions(withRevision ? { jobDefinitions: [ref] } : { jobDefinitionName: ref, status: "ACTIVE" });
  const def = found.filter((d) => withRevision || d.status === "ACTIVE").sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0];
  if (!def) throw new CompasEnsembleError("BATCH_API", `Job definition ${ref} does not exist${withRevision ? "" : " (no ACTIVE revision)"}.`, { hint: "Check --job-definition, or register one with --image." });
  return def.tags?.[COMPAS_SHA256_TAG];
}

/**
 * Refuses a plan whose COMPAS build is not the one the definition's image declares: every
 * child would refuse it (one ensemble = one build), after Batch had started them all.
 * @param declared - the definition's declared sha256
 * @param planned - the plan's COMPAS identity
 * @param definition - the definition, for the message
 */
export function assertImageCompas(declared: string, planned: { version: string; sha256: string }, definition: string): void {
  if (declared === planned.sha256) return;
  throw new CompasEnsembleError(
    "PLAN_MISMATCH",
    `Job definition ${definition} declares COMPAS sha256 ${declared.slice(0, 12)} (tag ${COMPAS_SHA256_TAG}), but the plan was made with COMPAS ${planned.version}, sha256 ${planned.sha256.slice(0, 12)}; no job was submitted.`,
    {
      hint: "Plan with the image's COMPAS binary (examples/batch/README.md: run the orchestrator from the image, or copy its COMPAS out), or use a definition for an image that holds the planned build.",
    },
  );
}
