/**
 * A clean AWS environment for tests of the real-AWS configuration path: every AWS_* variable
 * (and S3_ENDPOINT, HOME) is saved, cleared and restored, a temporary HOME holds the shared
 * config files, and the instance metadata service is switched off, so resolving credentials
 * never leaves the machine. A recording request handler stands in for the network.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";

const OWNED = (name: string): boolean => name.startsWith("AWS_") || name === "S3_ENDPOINT" || name === "HOME";

/** A temporary HOME with optional ~/.aws/config and ~/.aws/credentials. */
export interface AwsHome {
  home: string;
  config: string;
  credentials: string;
}

/**
 * Runs `fn` with only the given AWS variables set (plus AWS_EC2_METADATA_DISABLED=true and a
 * fresh HOME), then restores the environment.
 * @param files - contents of ~/.aws/config and ~/.aws/credentials in the temporary HOME
 * @param vars - variables to set; `{home}` in a value is replaced by the temporary HOME
 */
export async function withAwsEnv<T>(
  files: { config?: string; credentials?: string },
  vars: Record<string, string>,
  fn: (home: AwsHome) => Promise<T>,
): Promise<T> {
  const saved = Object.fromEntries(Object.entries(process.env).filter(([k]) => OWNED(k)));
  for (const k of Object.keys(process.env)) if (OWNED(k)) delete process.env[k];
  const home = mkdtempSync(join(tmpdir(), "aws-home-"));
  const aws = join(home, ".aws");
  mkdirSync(aws);
  const paths = { home, config: join(aws, "config"), credentials: join(aws, "credentials") };
  if (files.config !== undefined) writeFileSync(paths.config, files.config);
  if (files.credentials !== undefined) writeFileSync(paths.credentials, files.credentials);
  Object.assign(process.env, {
    HOME: home,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    ...Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.replaceAll("{home}", home)])),
  });
  try {
    return await fn(paths);
  } finally {
    for (const k of Object.keys(process.env)) if (OWNED(k)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/** One request the SDK tried to send. */
export interface RecordedRequest {
  method: string;
  protocol: string;
  hostname: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

/** What the recording handler answers: a status, headers and a body, or nothing (the request then fails). */
export type Reply = { status: number; headers?: Record<string, string>; body?: string } | undefined;

/**
 * A request handler for an SDK client (`client.config.requestHandler = recorder.handler`)
 * that records each request and answers from `replies` in order; when they run out it throws,
 * so nothing ever reaches the network.
 * @param replies - answers for the first requests
 */
export function recorder(replies: Reply[] = []): { requests: RecordedRequest[]; handler: { handle(req: RecordedRequest): Promise<unknown>; destroy(): void } } {
  const requests: RecordedRequest[] = [];
  return {
    requests,
    handler: {
      async handle(req: RecordedRequest) {
        requests.push({ method: req.method, protocol: req.protocol, hostname: req.hostname, path: req.path, headers: { ...req.headers }, body: req.body });
        const reply = replies[requests.length - 1];
        if (!reply) throw Object.assign(new Error("recorded, not sent"), { name: "NotSent" });
        return { response: { statusCode: reply.status, headers: reply.headers ?? {}, body: Readable.from([Buffer.from(reply.body ?? "")]) } };
      },
      destroy() {},
    },
  };
}
