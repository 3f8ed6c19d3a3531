import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executorFromFlags } from "../../src/cli/_executors.js";
import { probeCompas, type CompasProbe } from "../../src/compas/probe.js";
import { buildPlan } from "../../src/plan/build.js";
import { isCompasEnsembleError } from "../../src/errors.js";
import { BatchApi } from "../../src/executors/batch/_api.js";
import { BatchExecutor, COMPAS_SHA256_TAG, ensureJobDefinition, type BatchExecutorOptions } from "../../src/executors/batch/index.js";
import type { ExecutorEvent } from "../../src/executors/types.js";
import { expandGrid, sliceGrid, sparseGrid } from "../../src/grid/index.js";
import type { Plan } from "../../src/plan/schema.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/types.js";
import { startFakeBatch, type FakeBatch } from "../support/fake-batch.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { startS3rver, type S3rverHandle } from "../support/s3rver.js";

const DUMMY = { accessKeyId: "AKIDFAKEBATCH", secretAccessKey: "fake-batch-secret" };
const FAST_RETRY = { maxRetries: 4, baseDelayMs: 2, maxDelayMs: 10 };
const OTHER_BUILD = "0123456789abcdef".repeat(4);

describe("run --executor batch refuses a plan whose COMPAS is not the image's (fake Batch control plane)", () => {
  let fake: FakeBatch;
  let s3: S3rverHandle;
  let api: BatchApi;
  let probe: CompasProbe;
  let plan: Plan;
  const executors: BatchExecutor[] = [];

  beforeAll(async () => {
    s3 = await startS3rver();
    // Jobs stay RUNNABLE: these tests are about what is submitted, not about running it.
    fake = await startFakeBatch({ start: false, timeScale: 0 });
    api = new BatchApi({ endpoint: fake.endpoint, region: "us-east-1", credentials: DUMMY, apiRetry: FAST_RETRY });
    probe = await probeCompas(fakeCompasPath());
    plan = buildPlan({ points: sliceGrid(expandGrid(sparseGrid()), 0, 2), nSystems: 5, compas: probe });
  });
  afterAll(async () => {
    for (const e of executors) e.close();
    api?.destroy();
    await fake?.stop();
    await s3?.stop();
  });

  const executor = (extra: BatchExecutorOptions): BatchExecutor => {
    const e = new BatchExecutor({ endpoint: fake.endpoint, region: "us-east-1", credentials: DUMMY, jobQueue: "q", apiRetry: FAST_RETRY, storeOptions: s3.storeOptions(), ...extra });
    executors.push(e);
    return e;
  };
  const store = async (): Promise<Store> => openStore(`s3://${await s3.createBucket()}/ens`, s3.storeOptions());
  const submit = async (ex: BatchExecutor, events: ExecutorEvent[] = []): Promise<{ error?: unknown; store: Store }> => {
    const s = await store();
    try {
      await ex.submit({ plan, store: s, firstAttempt: {}, onEvent: (e) => events.push(e) }, plan.tasks.map((t) => t.task_id));
      return { store: s };
    } catch (error) {
      return { error, store: s };
    }
  };
  const delta = (before: Record<string, number>, op: string): number => (fake.requests[op] ?? 0) - (before[op] ?? 0);

  it("tags the definition it registers for --image with the declared sha256, and submits a plan of that build", async () => {
    const before = { ...fake.requests };
    const { error } = await submit(executor({ jobDefinitionSpec: { name: "ce-declared", image: "registry/compas:1", compasSha256: probe.sha256 } }));
    expect(error).toBeUndefined();
    expect(delta(before, "registerjobdefinition")).toBe(1);
    expect(delta(before, "submitjob")).toBe(1);
    const [def] = await api.describeJobDefinitions({ jobDefinitionName: "ce-declared" });
    expect(def!.tags?.[COMPAS_SHA256_TAG]).toBe(probe.sha256);
  });

  it("refuses a plan of another build than --image declares before registering or submitting anything", async () => {
    const before = { ...fake.requests };
    const { error, store: s } = await submit(executor({ jobDefinitionSpec: { name: "ce-wrong", image: "registry/compas:2", compasSha256: OTHER_BUILD } }));
    expect(isCompasEnsembleError(error, "PLAN_MISMATCH")).toBe(true);
    expect((error as Error).message).toBe(
      `Job definition for image registry/compas:2 declares COMPAS sha256 ${OTHER_BUILD.slice(0, 12)} (tag ${COMPAS_SHA256_TAG}), but the plan was made with COMPAS 03.07.00, sha256 ${probe.sha256.slice(0, 12)}; no job was submitted.`,
    );
    expect(delta(before, "registerjobdefinition")).toBe(0);
    expect(delta(before, "submitjob")).toBe(0);
    expect(await s.list("")).toEqual([]);
  });

  it("reads the declared build of a definition named by --job-definition: a bare name is its latest ACTIVE revision", async () => {
    const first = await ensureJobDefinition(api, { name: "ce-existing", image: "registry/compas:old", compasSha256: OTHER_BUILD });
    expect(first.jobDefinition).toMatch(/ce-existing:1$/);
    const before = { ...fake.requests };
    for (const ref of ["ce-existing", "ce-existing:1", first.jobDefinition]) {
      const { error, store: s } = await submit(executor({ jobDefinition: ref }));
      expect(isCompasEnsembleError(error, "PLAN_MISMATCH"), `${ref}: ${String(error)}`).toBe(true);
      expect((error as Error).message).toMatch(new RegExp(`^Job definition ${ref} declares COMPAS sha256 ${OTHER_BUILD.slice(0, 12)} `));
      expect(await s.list("")).toEqual([]);
    }
    expect(delta(before, "submitjob")).toBe(0);

    // A new revision for an image with the planned build: the bare name now means it.
    await ensureJobDefinition(api, { name: "ce-existing", image: "registry/compas:new", compasSha256: probe.sha256 });
    expect((await submit(executor({ jobDefinition: "ce-existing" }))).error).toBeUndefined();
    expect(isCompasEnsembleError((await submit(executor({ jobDefinition: "ce-existing:1" }))).error, "PLAN_MISMATCH")).toBe(true);
    expect(delta(before, "submitjob")).toBe(1);
  });

  it("submits under a definition that declares nothing, with a warning that only the workers will check", async () => {
    const events: ExecutorEvent[] = [];
    const { error } = await submit(executor({ jobDefinitionSpec: { name: "ce-undeclared", image: "registry/compas:3" } }), events);
    expect(error).toBeUndefined();
    const warnings = events.filter((e) => e.type === "log" && e.level === "warn").map((e) => (e as { message: string }).message);
    expect(warnings).toEqual([expect.stringMatching(/^Batch job definition \S+ce-undeclared:1 declares no COMPAS sha256 \(tag compas-ensemble:compas-sha256\)/)]);
  });

  it("takes the declaration from --image-compas-sha256, and refuses it without --image or when it is not a sha256", async () => {
    const flags = { executor: "batch" as const, retries: "2", jobQueue: "q", region: "us-east-1" };
    const ex = (await executorFromFlags({ ...flags, image: "registry/compas:1", imageCompasSha256: probe.sha256.toUpperCase() })) as BatchExecutor;
    executors.push(ex);
    expect(ex.resolvedOptions.jobDefinitionSpec?.compasSha256).toBe(probe.sha256);
    const refusal = async (f: () => Promise<unknown>): Promise<string> => {
      try {
        await f();
      } catch (err) {
        if (isCompasEnsembleError(err, "OPTIONS_INVALID")) return err.message;
        throw err;
      }
      throw new Error("expected a refusal");
    };
    expect(await refusal(() => executorFromFlags({ ...flags, jobDefinition: "d", imageCompasSha256: probe.sha256 }))).toMatch(/^--image-compas-sha256 goes with --image/);
    expect(await refusal(() => executorFromFlags({ ...flags, image: "i", imageCompasSha256: "abc" }))).toBe("A Batch executor option is invalid: jobDefinitionSpec.compasSha256: 64 lowercase hex digits.");
  });
});
