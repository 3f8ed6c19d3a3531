import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Store } from "../../src/store/s3.js";
import {
  assertLegacyOpenssl,
  S3RVER_CREDENTIALS,
  startFaultProxy,
  startS3rver,
  type S3rverHandle,
} from "../support/s3rver.js";
import { expectCode, storeBehaviour } from "./store-behaviour.js";

let s3: S3rverHandle;
let bucket: string;
let scratch: string;
let n = 0;

beforeAll(async () => {
  s3 = await startS3rver();
  bucket = await s3.createBucket();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "s3store-"));
});
afterAll(async () => {
  await s3?.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const freshStore = (extra: ConstructorParameters<typeof S3Store>[1] = {}): S3Store =>
  new S3Store(`s3://${bucket}/t${++n}`, { ...s3.storeOptions(), ...extra });

storeBehaviour("S3Store", async () => freshStore());

describe("S3Store specifics", () => {
  it("round-trips a 12 MB file through a multipart upload with equal SHA-256", async () => {
    // Through a pass-through proxy, to see the requests lib-storage really made.
    const proxy = await startFaultProxy(s3.endpoint, []);
    try {
      const store = new S3Store(`s3://${bucket}/t${++n}`, {
        ...s3.storeOptions(),
        endpoint: proxy.endpoint,
        partSize: 5 * 1024 * 1024,
      });
      const file = path.join(scratch, "big.bin");
      const body = randomBytes(12 * 1024 * 1024 + 123);
      fs.writeFileSync(file, body);
      const up = await store.putFile("runs/r0/COMPAS_Output.h5", file);
      const expected = createHash("sha256").update(body).digest("hex");
      expect(up.sha256).toBe(expected);

      const parts = proxy.requests.filter((r) => r.startsWith("PUT") && /partNumber=\d/.test(r));
      expect(parts.length).toBe(3);
      expect(proxy.requests.filter((r) => r.startsWith("POST") && r.includes("uploadId=")).length).toBe(1);
      const head = await s3.client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: `${store.prefix}/runs/r0/COMPAS_Output.h5` }),
      );
      expect(head.Metadata?.sha256).toBe(expected);
      expect(head.ContentLength).toBe(body.length);

      const out = path.join(scratch, "big.out");
      const down = await store.getFile("runs/r0/COMPAS_Output.h5", out);
      expect(down.sha256).toBe(expected);
      expect(createHash("sha256").update(fs.readFileSync(out)).digest("hex")).toBe(expected);
    } finally {
      await proxy.stop();
    }
  });

  it("lists more than 1000 keys across pages", async () => {
    assertLegacyOpenssl();
    const store = freshStore();
    const keys = Array.from({ length: 1005 }, (_, i) => `fragments/t${String(i).padStart(5, "0")}.json`);
    s3.plant(bucket, keys.map((k) => `${store.prefix}/${k}`), "{}");
    const listed = await store.list("fragments/");
    expect(listed.length).toBe(1005);
    expect(listed.map((e) => e.key)).toEqual(keys);
  });

  it("stores only relative keys under its prefix and hides folder markers", async () => {
    const store = freshStore();
    await store.put("a/b.txt", "x");
    await s3.client.send(
      new PutObjectCommand({ Bucket: bucket, Key: `${store.prefix}/a/`, Body: Buffer.alloc(0), ContentLength: 0 }),
    );
    const raw = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: `${store.prefix}/a/b.txt` }));
    expect(await raw.Body?.transformToString()).toBe("x");
    expect(await store.list()).toEqual([{ key: "a/b.txt", size: 1 }]);
  });

  it("reports an object without sha256 metadata with its ETag as MD5", async () => {
    const store = freshStore();
    await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: `${store.prefix}/foreign.txt`, Body: "abc" }));
    const head = await store.head("foreign.txt", { checksum: true });
    expect(head).toEqual({ size: 3, etag: createHash("md5").update("abc").digest("hex"), md5: createHash("md5").update("abc").digest("hex") });
  });

  it("rejects a download whose content does not match its stored SHA-256, keeping no file", async () => {
    const store = freshStore({ maxAttempts: 2 });
    await s3.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${store.prefix}/tampered.bin`,
        Body: "real content",
        Metadata: { sha256: "0".repeat(64) },
      }),
    );
    const out = path.join(scratch, "tampered.out");
    const err = await expectCode(() => store.getFile("tampered.bin", out), "STORE_ACCESS");
    expect(err.message).toMatch(/SHA-256/);
    expect(fs.existsSync(out)).toBe(false);
    await expectCode(() => store.get("tampered.bin"), "STORE_ACCESS");
  });

  it("fails on a missing bucket with STORE_ACCESS naming the URI and a hint", async () => {
    const store = new S3Store("s3://no-such-bucket-here/x", s3.storeOptions());
    const err = await expectCode(() => store.put("k.txt", "x"), "STORE_ACCESS");
    expect(err.message).toContain("s3://no-such-bucket-here/x");
    expect(err.message).toContain("k.txt");
    expect((err as { hint?: string }).hint).toMatch(/bucket name/);
  });
});

describe("S3Store retries", () => {
  it("retries 500 and SlowDown answers with backoff, then succeeds", async () => {
    const proxy = await startFaultProxy(s3.endpoint, [
      { match: (m) => m === "PUT", times: 1, fault: { status: 503, code: "SlowDown" } },
      { match: (m) => m === "PUT", times: 1, fault: { status: 500, code: "InternalError" } },
      { match: (m) => m === "HEAD", times: 2, fault: { status: 503, code: "ServiceUnavailable" } },
    ]);
    try {
      const store = new S3Store(`s3://${bucket}/retry${++n}`, { ...s3.storeOptions(), endpoint: proxy.endpoint });
      await store.put("k.txt", "survives");
      expect((await store.head("k.txt"))?.size).toBe(8);
      expect(proxy.injected).toEqual([1, 1, 2]);
    } finally {
      await proxy.stop();
    }
  });

  it("gives up after maxAttempts with STORE_ACCESS", async () => {
    const proxy = await startFaultProxy(s3.endpoint, [
      { match: (m) => m === "PUT", times: 10, fault: { status: 500, code: "InternalError" } },
    ]);
    try {
      const store = new S3Store(`s3://${bucket}/retry${++n}`, {
        ...s3.storeOptions(),
        endpoint: proxy.endpoint,
        maxAttempts: 2,
      });
      const err = await expectCode(() => store.put("k.txt", "never"), "STORE_ACCESS");
      expect(err.message).toMatch(/InternalError|500/);
      expect(proxy.injected).toEqual([2]);
    } finally {
      await proxy.stop();
    }
  });

  it("retries a multipart part that failed with 503", async () => {
    const proxy = await startFaultProxy(s3.endpoint, [
      { match: (m, url) => m === "PUT" && url.includes("partNumber=2"), times: 1, fault: { status: 503, code: "ServiceUnavailable" } },
    ]);
    try {
      const store = new S3Store(`s3://${bucket}/retry${++n}`, {
        ...s3.storeOptions(),
        endpoint: proxy.endpoint,
        partSize: 5 * 1024 * 1024,
      });
      const file = path.join(scratch, "parts.bin");
      const body = randomBytes(11 * 1024 * 1024);
      fs.writeFileSync(file, body);
      await store.putFile("parts.bin", file);
      expect(proxy.injected).toEqual([1]);
      expect((await store.get("parts.bin")).equals(body)).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  it("re-fetches a download whose body was cut off mid-stream", async () => {
    const direct = freshStore();
    const body = randomBytes(3 * 1024 * 1024);
    await direct.put("cut.bin", body);
    const proxy = await startFaultProxy(s3.endpoint, [
      { match: (m, url) => m === "GET" && url.includes("cut.bin"), times: 1, fault: "truncate-body" },
    ]);
    try {
      const store = new S3Store(direct.uri, { ...s3.storeOptions(), endpoint: proxy.endpoint });
      const out = path.join(scratch, "cut.out");
      const res = await store.getFile("cut.bin", out);
      expect(proxy.injected).toEqual([1]);
      expect(res.size).toBe(body.length);
      expect(fs.readFileSync(out).equals(body)).toBe(true);
    } finally {
      await proxy.stop();
    }
  });
});

describe("S3Store configuration", () => {
  it("uses AWS_ENDPOINT_URL_S3 and S3_ENDPOINT from the environment with path-style addressing", async () => {
    const seeded = freshStore();
    await seeded.put("env.txt", "via env");
    const saved = { a: process.env.AWS_ENDPOINT_URL_S3, b: process.env.S3_ENDPOINT };
    try {
      for (const name of ["AWS_ENDPOINT_URL_S3", "S3_ENDPOINT"] as const) {
        delete process.env.AWS_ENDPOINT_URL_S3;
        delete process.env.S3_ENDPOINT;
        process.env[name] = s3.endpoint;
        const store = new S3Store(seeded.uri, { credentials: S3RVER_CREDENTIALS });
        expect((await store.get("env.txt")).toString()).toBe("via env");
        expect(store.describe()).toContain(s3.endpoint);
        expect(store.describe()).toContain("path-style");
      }
    } finally {
      restoreEnv("AWS_ENDPOINT_URL_S3", saved.a);
      restoreEnv("S3_ENDPOINT", saved.b);
    }
  });

  it("never shows credentials in describe() or error messages", async () => {
    const secret = "FAKEsecretKEYdoNotLeak1234567890abcdEFGH";
    const keyId = "AKIAFAKEKEYIDDONOTLEAK";
    const token = "FAKEsessionTOKENdoNotLeak";
    const saved = {
      s: process.env.AWS_SECRET_ACCESS_KEY,
      k: process.env.AWS_ACCESS_KEY_ID,
      t: process.env.AWS_SESSION_TOKEN,
    };
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    process.env.AWS_ACCESS_KEY_ID = keyId;
    process.env.AWS_SESSION_TOKEN = token;
    const produced: string[] = [];
    const inspected: string[] = [];
    try {
      // The credential chain picks the fake keys from the environment; s3rver rejects them.
      const store = new S3Store(`s3://${bucket}/creds`, {
        endpoint: `http://user:${secret}@127.0.0.1:${new URL(s3.endpoint).port}`,
        maxAttempts: 1,
      });
      produced.push(store.describe(), store.uri);
      const file = path.join(scratch, "creds.txt");
      fs.writeFileSync(file, "x");
      const calls: (() => Promise<unknown>)[] = [
        () => store.put("a.txt", "x"),
        () => store.putFile("a.txt", file),
        () => store.get("a.txt"),
        () => store.getFile("a.txt", path.join(scratch, "creds.out")),
        () => store.list(),
        () => store.delete("a.txt"),
        () => store.head("a.txt"),
      ];
      let failures = 0;
      for (const call of calls) {
        try {
          await call();
        } catch (err) {
          failures += 1;
          const e = err as Error & { hint?: string; cause?: unknown };
          produced.push(e.message, e.hint ?? "", String(e));
          inspected.push(inspect(e, { depth: 6 }));
        }
      }
      expect(failures).toBe(calls.length);
      // The error is about credentials, and says so.
      expect(produced.join("\n")).toMatch(/InvalidAccessKeyId|SignatureDoesNotMatch|credentials/);
    } finally {
      restoreEnv("AWS_SECRET_ACCESS_KEY", saved.s);
      restoreEnv("AWS_ACCESS_KEY_ID", saved.k);
      restoreEnv("AWS_SESSION_TOKEN", saved.t);
    }
    // Everything, including the full inspected error with its SDK cause, is free of secrets.
    const all = [...produced, ...inspected].join("\n");
    expect(all).not.toContain(secret);
    expect(all).not.toContain(token);
    // The key id is not secret, but our own lines (describe, messages, hints) leave it out too.
    expect(produced.join("\n")).not.toContain(keyId);
  });
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
