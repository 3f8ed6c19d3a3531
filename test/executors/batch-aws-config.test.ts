// The Batch client as a user on real AWS gets it: no endpoint, region and credentials from
// the standard places. Nothing is sent: a recording request handler stands in for the network.
import type { BatchClient } from "@aws-sdk/client-batch";
import { describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { BatchApi } from "../../src/executors/batch/_api.js";
import { reattachBatchExecutor } from "../../src/executors/batch/index.js";
import type { ExecutorHandle } from "../../src/executors/types.js";
import { recorder, withAwsEnv, type Reply } from "../support/aws-env.js";

const ENV_KEYS = { AWS_ACCESS_KEY_ID: "AKIAENVEXAMPLE000002", AWS_SECRET_ACCESS_KEY: "env-secret-example" };
const THROTTLED: Reply = { status: 429, headers: { "x-amzn-errortype": "ThrottlingException", "content-type": "application/json" }, body: '{"message":"Rate exceeded"}' };
const NO_JOBS: Reply = { status: 200, headers: { "content-type": "application/json" }, body: '{"jobs":[]}' };

function intercept(client: BatchClient, replies: Reply[] = []): ReturnType<typeof recorder>["requests"] {
  const rec = recorder(replies);
  (client.config as { requestHandler: unknown }).requestHandler = rec.handler;
  return rec.requests;
}

describe("the Batch client without an endpoint (real AWS)", () => {
  it("sends to batch.<region>.amazonaws.com over HTTPS with the region from AWS_REGION, signed for batch with the environment's keys", async () => {
    await withAwsEnv({}, { AWS_REGION: "eu-west-2", ...ENV_KEYS }, async () => {
      const api = new BatchApi({});
      try {
        expect(await api.client.config.region()).toBe("eu-west-2");
        const requests = intercept(api.client);
        const err = await api.describeJobs(["job-1"]).catch((e: unknown) => e);
        expect(isCompasEnsembleError(err, "BATCH_API")).toBe(true);
        expect(requests).toHaveLength(1);
        expect(requests[0]).toMatchObject({ method: "POST", protocol: "https:", hostname: "batch.eu-west-2.amazonaws.com", path: "/v1/describejobs" });
        expect(requests[0]!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAENVEXAMPLE000002\/\d{8}\/eu-west-2\/batch\/aws4_request/);
      } finally {
        api.destroy();
      }
    });
  });

  it("takes region and keys from the AWS_PROFILE profile of the shared files when the environment has none", async () => {
    const config = "[profile research]\nregion = eu-north-1\n";
    const credentials = "[research]\naws_access_key_id = AKIAPROFILEEXAMPLE02\naws_secret_access_key = profile-secret\n";
    await withAwsEnv({ config, credentials }, { AWS_PROFILE: "research" }, async () => {
      const api = new BatchApi({});
      try {
        const requests = intercept(api.client);
        await api.describeJobs(["job-1"]).catch(() => undefined);
        expect(requests[0]!.hostname).toBe("batch.eu-north-1.amazonaws.com");
        expect(requests[0]!.headers.authorization).toMatch(/Credential=AKIAPROFILEEXAMPLE02\/\d{8}\/eu-north-1\/batch\//);
      } finally {
        api.destroy();
      }
    });
  });

  it("uses AWS_ENDPOINT_URL_BATCH when it is set and no endpoint option is given (VPC endpoints)", async () => {
    await withAwsEnv({}, { AWS_REGION: "eu-west-2", AWS_ENDPOINT_URL_BATCH: "https://vpce-0example.batch.eu-west-2.vpce.amazonaws.com", ...ENV_KEYS }, async () => {
      const api = new BatchApi({});
      try {
        const requests = intercept(api.client);
        await api.describeJobs(["job-1"]).catch(() => undefined);
        expect(requests[0]).toMatchObject({ hostname: "vpce-0example.batch.eu-west-2.vpce.amazonaws.com", path: "/v1/describejobs" });
      } finally {
        api.destroy();
      }
    });
  });

  it("has one layer of retries: the SDK makes one attempt per call, and the executor's backoff retries throttling", async () => {
    await withAwsEnv({}, { AWS_REGION: "eu-west-2", ...ENV_KEYS }, async () => {
      const api = new BatchApi({ apiRetry: { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 5 } });
      try {
        expect(await api.client.config.maxAttempts()).toBe(1);
        const requests = intercept(api.client, [THROTTLED, THROTTLED, NO_JOBS]);
        expect(await api.describeJobs(["job-1"])).toEqual([]);
        expect(requests).toHaveLength(3);
        // Each request is the SDK's first and only attempt of its call.
        expect(requests.map((r) => r.headers["amz-sdk-request"])).toEqual(["attempt=1; max=1", "attempt=1; max=1", "attempt=1; max=1"]);
      } finally {
        api.destroy();
      }
    });
  });

  it("re-attaches from a saved handle to AWS's endpoint in the handle's region, whatever AWS_REGION says", async () => {
    await withAwsEnv({}, { AWS_REGION: "us-east-1", ...ENV_KEYS }, async () => {
      const handle: ExecutorHandle = {
        kind: "batch",
        ensemble_id: "e".repeat(64),
        task_ids: ["t0", "t1"],
        submitted_at: "2026-01-01T00:00:00.000Z",
        data: {
          job_queue: "compas-spot",
          job_definition: "compas-ensemble:1",
          plan_uri: "s3://my-bucket/ensembles/a",
          region: "ap-northeast-1",
          submission: "s1",
          attempts: 3,
          jobs: [{ job_id: "parent-1", job_name: "n", index_list: "s1", offset: 0, size: 2 }],
          first_attempts: [1, 1],
        },
      };
      const ex = reattachBatchExecutor(handle);
      try {
        // The executor builds its client on first use; reach it the way summary() does.
        const api = (ex as unknown as { api(): BatchApi }).api();
        const requests = intercept(api.client, [NO_JOBS]);
        expect(await ex.summary(handle)).toEqual([{ jobId: "parent-1", jobName: "n", status: undefined, size: 2, counts: {} }]);
        expect(requests[0]!.hostname).toBe("batch.ap-northeast-1.amazonaws.com");
      } finally {
        ex.close();
      }
    });
  });
});
