// The S3 client as a user on real AWS gets it: no endpoint, region and credentials from the
// standard places. Every other S3 test sets an endpoint (s3rver), which switches on path-style
// addressing and relaxed checksums; here nothing is sent: a recording request handler stands
// in for the network and shows what would have gone out.
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { createS3Client } from "../../src/store/s3-client.js";
import { S3Store } from "../../src/store/s3.js";
import { recorder, withAwsEnv, type Reply } from "../support/aws-env.js";

const ENV_KEYS = { AWS_ACCESS_KEY_ID: "AKIAENVEXAMPLE000001", AWS_SECRET_ACCESS_KEY: "env-secret-example" };
const LIST_OK: Reply = {
  status: 200,
  headers: { "content-type": "application/xml" },
  body: '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>my-bucket</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>',
};

function intercept(client: S3Client, replies: Reply[] = []): ReturnType<typeof recorder>["requests"] {
  const rec = recorder(replies);
  (client.config as { requestHandler: unknown }).requestHandler = rec.handler;
  return rec.requests;
}
// The recording handler refuses to send; the error it causes is expected.
const attempt = (sending: Promise<unknown>): Promise<unknown> => sending.catch((e: unknown) => e);
const credentialOf = (authorization: string | undefined): string | undefined => /Credential=([^/]+)\//.exec(authorization ?? "")?.[1];

describe("the S3 client without an endpoint (real AWS)", () => {
  it("takes the region from AWS_REGION and addresses the bucket virtual-hosted over HTTPS, signed for that region", async () => {
    await withAwsEnv({}, { AWS_REGION: "eu-west-2", ...ENV_KEYS }, async () => {
      const cfg = createS3Client({});
      expect(cfg.forcePathStyle).toBe(false);
      expect(cfg.endpointForDisplay).toBeUndefined();
      expect(await (await cfg.client()).config.region()).toBe("eu-west-2");
      const requests = intercept(await cfg.client());
      await attempt((await cfg.client()).send(new PutObjectCommand({ Bucket: "my-bucket", Key: "ensembles/a/plan.json", Body: "{}" })));
      expect(requests).toHaveLength(1);
      expect(requests[0]).toMatchObject({ method: "PUT", protocol: "https:", hostname: "my-bucket.s3.eu-west-2.amazonaws.com", path: "/ensembles/a/plan.json" });
      expect(requests[0]!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAENVEXAMPLE000001\/\d{8}\/eu-west-2\/s3\/aws4_request/);
      expect(new S3Store("s3://my-bucket/ensembles/a").describe()).toBe("S3 s3://my-bucket/ensembles/a via AWS (virtual-hosted-style, up to 5 attempts per request)");
    });
  });

  it("takes the region from the profile in the shared config file when AWS_REGION is unset (AWS_PROFILE, and the default profile in ~/.aws/config)", async () => {
    const config = "[default]\nregion = ap-southeast-2\n\n[profile research]\nregion = eu-central-1\n";
    const credentials = "[research]\naws_access_key_id = AKIAPROFILEEXAMPLE01\naws_secret_access_key = profile-secret\n";
    await withAwsEnv({ config, credentials }, { AWS_PROFILE: "research" }, async () => {
      const client = await createS3Client({}).client();
      expect(await client.config.region()).toBe("eu-central-1");
      const requests = intercept(client);
      await attempt(client.send(new GetObjectCommand({ Bucket: "my-bucket", Key: "k" })));
      expect(requests[0]!.hostname).toBe("my-bucket.s3.eu-central-1.amazonaws.com");
    });
    await withAwsEnv({ config }, { ...ENV_KEYS }, async () => {
      expect(await (await createS3Client({}).client()).config.region()).toBe("ap-southeast-2");
    });
    // AWS_CONFIG_FILE points elsewhere than ~/.aws/config; AWS_REGION beats any profile.
    await withAwsEnv({ config }, { AWS_CONFIG_FILE: "{home}/other-config", ...ENV_KEYS }, async (home) => {
      writeFileSync(`${home.home}/other-config`, "[default]\nregion = sa-east-1\n");
      expect(await (await createS3Client({}).client()).config.region()).toBe("sa-east-1");
    });
    await withAwsEnv({ config }, { AWS_REGION: "us-west-2", AWS_PROFILE: "research", ...ENV_KEYS }, async () => {
      expect(await (await createS3Client({}).client()).config.region()).toBe("us-west-2");
    });
  });

  it("fails with one clear error naming AWS_REGION, before sending anything, when no region is set anywhere", async () => {
    await withAwsEnv({}, { ...ENV_KEYS }, async () => {
      const store = new S3Store("s3://my-bucket/ensembles/a");
      const requests = intercept(await (store as unknown as { client: () => Promise<S3Client> }).client());
      const err = await store.list("fragments/").catch((e: unknown) => e);
      expect(isCompasEnsembleError(err, "STORE_ACCESS")).toBe(true);
      expect((err as { hint?: string }).hint).toBe("Set AWS_REGION (or a region option) for this bucket.");
      expect(requests).toEqual([]);
    });
  });

  it("resolves credentials through the default chain: environment keys before ~/.aws/credentials, a named AWS_PROFILE before both, then the container endpoint a Batch job gets", async () => {
    const credentials =
      "[default]\naws_access_key_id = AKIADEFAULTEXAMPLE01\naws_secret_access_key = default-secret\n\n" +
      "[research]\naws_access_key_id = AKIAPROFILEEXAMPLE01\naws_secret_access_key = profile-secret\n";
    const keyOf = async (): Promise<string> => (await (await createS3Client({}).client()).config.credentials()).accessKeyId;
    await withAwsEnv({ credentials }, { AWS_REGION: "eu-west-2", ...ENV_KEYS }, async () => {
      expect(await keyOf()).toBe("AKIAENVEXAMPLE000001");
    });
    await withAwsEnv({ credentials }, { AWS_REGION: "eu-west-2" }, async () => {
      expect(await keyOf()).toBe("AKIADEFAULTEXAMPLE01");
    });
    // With AWS_PROFILE set, the SDK uses that profile even when keys are in the environment.
    await withAwsEnv({ credentials }, { AWS_REGION: "eu-west-2", AWS_PROFILE: "research", ...ENV_KEYS }, async () => {
      expect(await keyOf()).toBe("AKIAPROFILEEXAMPLE01");
    });
    await withAwsEnv({ credentials }, { AWS_REGION: "eu-west-2", AWS_PROFILE: "research" }, async () => {
      const client = await createS3Client({}).client();
      expect((await client.config.credentials()).accessKeyId).toBe("AKIAPROFILEEXAMPLE01");
      const requests = intercept(client);
      await attempt(client.send(new GetObjectCommand({ Bucket: "my-bucket", Key: "k" })));
      expect(credentialOf(requests[0]!.headers.authorization)).toBe("AKIAPROFILEEXAMPLE01");
    });
    // In a Batch container, ECS serves the job role's temporary keys over HTTP; a loopback
    // server plays that endpoint.
    const served: string[] = [];
    const server = http.createServer((req, res) => {
      served.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ AccessKeyId: "ASIAJOBROLEEXAMPLE01", SecretAccessKey: "role-secret", Token: "role-session-token", Expiration: new Date(Date.now() + 3_600_000).toISOString() }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/credentials/example`;
      await withAwsEnv({}, { AWS_REGION: "eu-west-2", AWS_CONTAINER_CREDENTIALS_FULL_URI: uri }, async () => {
        const client = await createS3Client({}).client();
        const requests = intercept(client);
        await attempt(client.send(new GetObjectCommand({ Bucket: "my-bucket", Key: "k" })));
        expect(served).toEqual(["GET /v2/credentials/example "]);
        expect(credentialOf(requests[0]!.headers.authorization)).toBe("ASIAJOBROLEEXAMPLE01");
        expect(requests[0]!.headers["x-amz-security-token"]).toBe("role-session-token");
      });
    } finally {
      server.close();
    }
    // Explicit credentials win over the chain.
    await withAwsEnv({}, { AWS_REGION: "eu-west-2", ...ENV_KEYS }, async () => {
      const client = await createS3Client({ credentials: { accessKeyId: "AKIAEXPLICIT00000001", secretAccessKey: "x" } }).client();
      expect((await client.config.credentials()).accessKeyId).toBe("AKIAEXPLICIT00000001");
    });
  });

  it("retries in standard mode (5 attempts): a throttled request is sent again, and a bucket in another region is followed there", async () => {
    await withAwsEnv({}, { AWS_REGION: "eu-west-2", ...ENV_KEYS }, async () => {
      const { client: built, maxAttempts } = createS3Client({});
      const client = await built();
      expect(maxAttempts).toBe(5);
      expect(await client.config.maxAttempts()).toBe(5);
      expect(((await client.config.retryStrategy()) as { mode?: string }).mode).toBe("standard");
      const slowDown: Reply = { status: 503, body: "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>" };
      const moved: Reply = { status: 301, headers: { "x-amz-bucket-region": "us-west-2" }, body: "<Error><Code>PermanentRedirect</Code><Message>moved</Message></Error>" };
      const requests = intercept(client, [moved, slowDown, LIST_OK]);
      const out = await client.send(new ListObjectsV2Command({ Bucket: "my-bucket", Prefix: "fragments/" }));
      expect(out.KeyCount).toBe(0);
      expect(requests.map((r) => r.hostname)).toEqual(["my-bucket.s3.eu-west-2.amazonaws.com", "my-bucket.s3.us-west-2.amazonaws.com", "my-bucket.s3.us-west-2.amazonaws.com"]);
      expect(requests[2]!.headers["amz-sdk-request"]).toBe("attempt=2; max=5");
    });
  });

  it("sends AWS's default CRC32 checksum with uploads, and only required checksums to a custom endpoint", async () => {
    const body = "fragment body\n";
    const expected = Buffer.alloc(4);
    expected.writeUInt32BE(crc32(body));
    await withAwsEnv({}, { AWS_REGION: "eu-west-2", ...ENV_KEYS }, async () => {
      const client = await createS3Client({}).client();
      expect(await client.config.requestChecksumCalculation()).toBe("WHEN_SUPPORTED");
      expect(await client.config.responseChecksumValidation()).toBe("WHEN_SUPPORTED");
      const requests = intercept(client);
      await attempt(client.send(new PutObjectCommand({ Bucket: "my-bucket", Key: "k", Body: body })));
      expect(requests[0]!.headers["x-amz-checksum-crc32"]).toBe(expected.toString("base64"));
    });
    await withAwsEnv({}, { AWS_REGION: "eu-west-2", ...ENV_KEYS }, async () => {
      const { client: built, forcePathStyle } = createS3Client({ endpoint: "http://minio.example:9000" });
      const client = await built();
      expect(forcePathStyle).toBe(true);
      expect(await client.config.requestChecksumCalculation()).toBe("WHEN_REQUIRED");
      const requests = intercept(client);
      await attempt(client.send(new PutObjectCommand({ Bucket: "my-bucket", Key: "k", Body: body })));
      expect(requests[0]).toMatchObject({ hostname: "minio.example", path: "/my-bucket/k" });
      expect(requests[0]!.headers["x-amz-checksum-crc32"]).toBeUndefined();
    });
  });

  it("addresses a bucket whose name holds dots path-style, since its virtual host would not match AWS's certificate", async () => {
    await withAwsEnv({}, { AWS_REGION: "eu-west-2", ...ENV_KEYS }, async () => {
      const client = await createS3Client({}).client();
      const requests = intercept(client);
      await attempt(client.send(new PutObjectCommand({ Bucket: "my.dotted.bucket", Key: "k", Body: "x" })));
      expect(requests[0]).toMatchObject({ protocol: "https:", hostname: "s3.eu-west-2.amazonaws.com", path: "/my.dotted.bucket/k" });
    });
  });
});
