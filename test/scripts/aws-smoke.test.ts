// scripts/aws-smoke.sh is for users' own AWS accounts; here it runs against the fake Batch
// control plane and s3rver, so that the script itself (arguments, clean-up, the cost it
// prints) is known to work before anyone spends money on it.
import { BatchClient, DescribeJobDefinitionsCommand } from "@aws-sdk/client-batch";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { costOfAttempts, definitionResources, formatCost, MIB_PER_VCPU } from "../../scripts/aws-smoke.js";
import type { PriceTable } from "../../src/estimate/prices.js";
import { builtCli } from "../support/cli.js";
import { startFakeBatch, type FakeBatch } from "../support/fake-batch.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { assertLegacyOpenssl, S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from "../support/s3rver.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const TABLE: PriceTable = {
  date: "2026-01-01",
  region: "test-region-1",
  source: "made up for the test",
  instances: { "x.large": { vcpus: 4, onDemand: 0.4, spot: 0.1, smt: true } },
};

describe("the smoke test's cost", () => {
  it("prices container time times the vCPUs a child occupies, its memory included, per vCPU-hour of the instance type", () => {
    const attempts = [
      { startedAt: 0, stoppedAt: 1_800_000 },
      { startedAt: 5_000, stoppedAt: 1_805_000 },
      // Failed before its container ran (e.g. a pull error): no container time.
      { stoppedAt: 10_000 },
    ];
    // 2 x 1800 s = 1 hour; 1 vCPU, but 2.5 vCPUs' worth of memory on a 2 GiB-per-vCPU type.
    const c = costOfAttempts(attempts, { vcpus: 1, memoryMiB: 2.5 * MIB_PER_VCPU }, "x.large", TABLE);
    expect(c).toEqual({ attempts: 3, containerSeconds: 3600, vcpusPerChild: 2.5, vcpuHours: 2.5, onDemandUsd: 2.5 * 0.1, spotUsd: 2.5 * 0.025, instanceType: "x.large" });
    expect(costOfAttempts(attempts, { vcpus: 2, memoryMiB: 1024 }, "x.large", TABLE).vcpuHours).toBe(2);
    expect(formatCost(c, 2, TABLE)).toBe(
      "cost: 3 attempt(s) of 2 task(s), 3600 container-seconds x 2.5 vCPU = 2.5000 vCPU-hours: $0.25 on demand, about $0.06 on Spot (x.large, price table of 2026-01-01, test-region-1)",
    );
    expect(() => costOfAttempts(attempts, { vcpus: 1, memoryMiB: 2048 }, "z.huge", TABLE)).toThrow(/not in the price table/);
  });

  it("reads vCPUs and memory from a job definition's resource requirements or its older fields", () => {
    expect(definitionResources({ containerProperties: { resourceRequirements: [{ type: "VCPU", value: "2" }, { type: "MEMORY", value: "4096" }] } } as never)).toEqual({ vcpus: 2, memoryMiB: 4096 });
    expect(definitionResources({ containerProperties: { vcpus: 1, memory: 2048 } } as never)).toEqual({ vcpus: 1, memoryMiB: 2048 });
  });
});

describe("scripts/aws-smoke.sh against the fake Batch control plane and s3rver", () => {
  let s3: S3rverHandle;
  let fake: FakeBatch;
  const env = { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, AWS_REGION: "us-east-1" };
  beforeAll(async () => {
    assertLegacyOpenssl();
    builtCli();
    s3 = await startS3rver();
    fake = await startFakeBatch({ env: { ...env, AWS_ENDPOINT_URL_S3: s3.endpoint } });
  });
  afterAll(async () => {
    await fake?.stop();
    await s3?.stop();
  });

  it("runs a 2-point grid of 100 binaries, extracts it, prints what the attempts cost, and leaves nothing behind", async () => {
    const bucket = await s3.createBucket();
    const { code, stdout, stderr } = await runScript(
      ["--queue", "smoke-q", "--bucket", bucket, "--image", "local/compas-ensemble:smoke", "--batch-endpoint", fake.endpoint, "--poll-interval", "1",
        "--compas-binary", fakeCompasPath(), "--container-compas-binary", fakeCompasPath(), "--prefix", "ensembles/smoke-test"],
      { ...process.env, ...env, AWS_ENDPOINT_URL_S3: s3.endpoint },
    );
    expect(code, stderr + stdout).toBe(0);
    expect(stdout).toContain("2 runs, ");
    expect(stdout).toContain("aws-smoke: passed");

    // One array of 2 children, 100 binaries each, under a definition the script registered.
    const [submit] = fake.submitted();
    expect(submit).toMatchObject({ arrayProperties: { size: 2 }, jobQueue: "smoke-q" });
    expect(String(submit!.jobDefinition)).toMatch(/job-definition\/compas-ensemble-smoke:1$/);
    const children = fake.allJobs().filter((j) => j.index !== undefined);
    expect(children).toHaveLength(2);
    const seconds = children.flatMap((c) => c.attempts).reduce((s, a) => s + (a.stoppedAt! - a.startedAt!) / 1000, 0);
    expect(stdout).toContain(`cost: 2 attempt(s) of 2 task(s), ${seconds.toFixed(0)} container-seconds x 1 vCPU`);

    // Clean-up: no object left under the prefix, the registered revision deregistered.
    const left = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "ensembles/smoke-test/" }));
    expect(left.KeyCount ?? 0).toBe(0);
    const client = new BatchClient({ endpoint: fake.endpoint, region: "us-east-1", credentials: { accessKeyId: "AKIDSMOKE", secretAccessKey: "smoke" } });
    try {
      const active = await client.send(new DescribeJobDefinitionsCommand({ jobDefinitionName: "compas-ensemble-smoke", status: "ACTIVE" }));
      expect(active.jobDefinitions).toEqual([]);
    } finally {
      client.destroy();
    }
  }, 300_000);

  it("refuses to start without a queue, a bucket, or a way to name the job definition", async () => {
    const cases: [string[], RegExp][] = [
      [["--bucket", "b", "--image", "i"], /--queue is required/],
      [["--queue", "q", "--image", "i"], /--bucket is required/],
      [["--queue", "q", "--bucket", "b"], /--job-definition NAME .* or --image URI/],
      [["--queue", "q", "--bucket", "b", "--image", "i", "--job-definition", "d"], /not both/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runScript(args, { ...process.env, ...env });
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
    }
  });
});

function runScript(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn("bash", [join(repo, "scripts", "aws-smoke.sh"), ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
