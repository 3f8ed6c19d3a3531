/**
 * A real S3 endpoint for tests: s3rver 3.7.1 in-process on 127.0.0.1 with a temporary
 * directory, plus a small HTTP proxy that injects S3 errors or cuts response bodies short
 * (to exercise retries against the same real server).
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { createCipheriv, randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";

/** s3rver's fixed test account. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverInstance;

/** A running s3rver. */
export interface S3rverHandle {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  /** Directory where s3rver keeps buckets (inspect it to see what was really stored). */
  dir: string;
  /** Raw SDK client (path-style, S3RVER credentials) for planting objects. */
  client: S3Client;
  /** Creates a bucket with a fresh unique name (or the given one) and returns its name. */
  createBucket(name?: string): Promise<string>;
  /**
   * Writes objects straight into s3rver's directory (its on-disk layout in 3.7.1), which is
   * orders of magnitude faster than a PUT each when a test needs thousands of keys.
   */
  plant(bucket: string, keys: string[], body: string): void;
  /** Options for S3Store / openStore pointing at this server. */
  storeOptions(): { endpoint: string; forcePathStyle: true; region: string; credentials: typeof S3RVER_CREDENTIALS };
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts s3rver on 127.0.0.1, port 0, with a fresh temporary directory.
 * @returns endpoint, bucket helper, raw client and stop()
 */
export async function startS3rver(): Promise<S3rverHandle> {
  // The SDK's notice that future releases need Node 22 is noise here (versions are pinned).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const S3rver = createRequire(import.meta.url)("s3rver") as S3rverCtor;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "s3rver-"));
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: dir });
  const addr = await server.run();
  const endpoint = `http://127.0.0.1:${addr.port}`;
  const client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: S3RVER_CREDENTIALS,
    maxAttempts: 1,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  let counter = 0;
  return {
    endpoint,
    dir,
    client,
    async createBucket(name?: string) {
      const bucket = name ?? `bkt-${process.pid}-${++counter}-${randomBytes(3).toString("hex")}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    plant(bucket: string, keys: string[], body: string) {
      for (const key of keys) {
        const file = path.join(dir, bucket, ...key.split("/"));
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(`${file}._S3rver_object`, body);
      }
    },
    storeOptions() {
      return { endpoint, forcePathStyle: true, region: "us-east-1", credentials: S3RVER_CREDENTIALS };
    },
    async stop() {
      client.destroy();
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Fails loudly unless OpenSSL's legacy provider is loaded: s3rver encrypts ListObjectsV2
 * continuation tokens with DES, so listing past 1000 keys answers 500 without it on Node 20.
 */
export function assertLegacyOpenssl(): void {
  try {
    createCipheriv("des", Buffer.alloc(8), Buffer.alloc(8));
  } catch (err) {
    throw new Error(
      "s3rver needs DES (OpenSSL legacy provider) to paginate listings past 1000 keys; " +
        "run the suite as NODE_OPTIONS=--openssl-legacy-provider npx vitest run " +
        `(NODE_OPTIONS is ${JSON.stringify(process.env.NODE_OPTIONS ?? "")}).`,
      { cause: err },
    );
  }
}

/** One fault the proxy injects into the next `times` requests that match. */
export interface FaultRule {
  /** Which requests (method and path with query) this rule applies to. */
  match: (method: string, url: string) => boolean;
  /** How many matching requests to spoil before letting them through. */
  times: number;
  /**
   * Answer with this S3 error instead of forwarding, forward and cut the body in half, or
   * forward and rewrite the (text) body, e.g. to make a listing name keys s3rver cannot hold.
   */
  fault:
    | { status: number; code: string }
    | "truncate-body"
    | { rewrite: (body: string) => string }
    | {
        /**
         * Called when the request arrives, before anything is forwarded (e.g. to kill the
         * uploading process); then half of the body that arrived is forwarded with the full
         * Content-Length and the connection is cut, so the server sees an upload die midway.
         */
        interrupt: (method: string, url: string) => void | Promise<void>;
      };
}

/** A running fault-injecting proxy. */
export interface FaultProxy {
  endpoint: string;
  /** Requests spoiled so far, per rule index. */
  injected: number[];
  /** Every request seen, as "METHOD url", in arrival order. */
  requests: string[];
  stop(): Promise<void>;
}

/**
 * Starts an HTTP proxy on 127.0.0.1 in front of `target` that applies `rules` in order and
 * forwards everything else unchanged (the Host header is kept, so SigV4 signatures verify).
 * @param target - upstream endpoint, e.g. an s3rver endpoint
 * @param rules - faults to inject
 */
export async function startFaultProxy(target: string, rules: FaultRule[]): Promise<FaultProxy> {
  const upstream = new URL(target);
  const injected = rules.map(() => 0);
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    requests.push(`${method} ${url}`);
    const index = rules.findIndex((r, i) => r.match(method, url) && (injected[i] ?? 0) < r.times);
    const rule = index >= 0 ? rules[index] : undefined;
    if (rule) injected[index] = (injected[index] ?? 0) + 1;
    if (rule && typeof rule.fault === "object" && "interrupt" in rule.fault) {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      let cut = false;
      const cutUpload = (): void => {
        if (cut) return;
        cut = true;
        res.destroy();
        const body = Buffer.concat(chunks);
        const up = http.request({ host: upstream.hostname, port: upstream.port, method, path: url, headers: req.headers });
        up.on("error", () => {});
        up.write(body.subarray(0, Math.floor(body.length / 2)), () => up.destroy());
      };
      void Promise.resolve(rule.fault.interrupt(method, url)).finally(() => {
        if (req.complete || req.destroyed) cutUpload();
        else {
          req.once("end", cutUpload);
          req.once("close", cutUpload);
        }
      });
      return;
    }
    if (rule && typeof rule.fault === "object" && "status" in rule.fault) {
      const { status, code } = rule.fault;
      req.resume();
      req.on("end", () => {
        res.writeHead(status, { "content-type": "application/xml" });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected ${code}</Message></Error>`);
      });
      return;
    }
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method, path: url, headers: req.headers },
      (up) => {
        const fault = rule?.fault;
        if (typeof fault === "object" && "rewrite" in fault) {
          const chunks: Buffer[] = [];
          up.on("data", (c: Buffer) => chunks.push(c));
          up.on("end", () => {
            const body = Buffer.from(fault.rewrite(Buffer.concat(chunks).toString("utf8")));
            res.writeHead(up.statusCode ?? 502, { ...up.headers, "content-length": String(body.length) });
            res.end(body);
          });
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (!rule) {
          up.pipe(res);
          return;
        }
        const half = Math.floor(Number(up.headers["content-length"] ?? 0) / 2);
        let sent = 0;
        up.on("data", (chunk: Buffer) => {
          if (sent >= half) return;
          const part = chunk.subarray(0, half - sent);
          sent += part.length;
          res.write(part);
          if (sent >= half) {
            up.destroy();
            res.socket?.destroy();
          }
        });
      },
    );
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    injected,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
