import type { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { CompasEnsembleError } from "../errors.js";
import { describeZodError } from "../util/zod-error.js";

/** Attempts per S3 request (first try included) unless `maxAttempts` says otherwise. */
export const DEFAULT_MAX_ATTEMPTS = 5;
/** Multipart part size: S3's minimum is 5 MiB; 8 MiB keeps memory at queueSize x 8 MiB. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** Parts uploaded in parallel for one file. */
export const DEFAULT_QUEUE_SIZE = 4;

/** Explicit static credentials; without them the standard AWS credential chain is used. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Options of an S3 store (all optional: the AWS SDK resolves region and credentials). */
export const S3StoreOptionsSchema = z.object({
  /** S3-compatible endpoint URL (MinIO, Ceph); else S3_ENDPOINT, else the SDK's AWS_ENDPOINT_URL_S3. */
  endpoint: z.url().optional(),
  /** Path-style URLs (`host/bucket/key`); defaults to true whenever a custom endpoint is in use. */
  forcePathStyle: z.boolean().optional(),
  /** AWS region; else the SDK chain (AWS_REGION, ~/.aws/config); us-east-1 for custom endpoints. */
  region: z.string().min(1).optional(),
  /** Attempts per request, with exponential backoff on throttling, 5xx and network errors. Default 5. */
  maxAttempts: z.number().int().min(1).max(20).optional(),
  /** Multipart part size in bytes (>= 5 MiB). Default 8 MiB. */
  partSize: z.number().int().min(5 * 1024 * 1024).optional(),
  /** Parts uploaded concurrently per file. Default 4. */
  queueSize: z.number().int().min(1).max(64).optional(),
});

/** Options of {@link S3Store}: the validated scalars plus optional static credentials. */
export type S3StoreOptions = z.input<typeof S3StoreOptionsSchema> & {
  /** Static credentials; leave unset to use the standard AWS credential chain. */
  credentials?: S3Credentials;
};

/** What the store needs to know about the client it will build. */
export interface ResolvedS3Config {
  /** Builds the client, loading the AWS SDK on first use (opening a store never loads it). */
  client: () => Promise<S3Client>;
  /** Endpoint for describe() with any user:password part removed, or undefined for AWS. */
  endpointForDisplay: string | undefined;
  forcePathStyle: boolean;
  maxAttempts: number;
  partSize: number;
  queueSize: number;
  /** Strings to scrub from any message (credential values we can see). */
  secrets: string[];
}

/**
 * Validates the options of an S3 store and prepares its client: standard retries
 * (exponential backoff with jitter on throttling, 5xx and network errors), region redirects,
 * and path-style addressing for custom endpoints. Credentials come from the SDK's default
 * chain unless given. The client itself is built (and the SDK loaded) on first use.
 * @param raw - store options
 * @param env - environment to read S3_ENDPOINT and friends from
 */
export function createS3Client(raw: S3StoreOptions, env: NodeJS.ProcessEnv = process.env): ResolvedS3Config {
  const parsed = S3StoreOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `Invalid S3 store option ${describeZodError(parsed.error)}.`, { cause: parsed.error });
  }
  const opts = parsed.data;
  // Versions are pinned in package.json, so the SDK's notice about future releases needing
  // Node 22 only adds noise to every CLI run; an explicit setting by the user still wins.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

  const explicitEndpoint = opts.endpoint ?? nonEmpty(env.S3_ENDPOINT);
  // The SDK itself reads these two; we only need to know about them for path-style defaults.
  const sdkEndpoint = nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  const customEndpoint = explicitEndpoint ?? sdkEndpoint;
  const forcePathStyle = opts.forcePathStyle ?? customEndpoint !== undefined;
  const maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const region =
    opts.region ?? (customEndpoint !== undefined && !nonEmpty(env.AWS_REGION) ? "us-east-1" : undefined);

  const settings = {
    ...(explicitEndpoint !== undefined ? { endpoint: explicitEndpoint } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(raw.credentials ? { credentials: raw.credentials } : {}),
    forcePathStyle,
    maxAttempts,
    retryMode: "standard",
    followRegionRedirects: true,
    // S3-compatible servers often reject the newer default trailing checksums; our own
    // sha256 metadata plus size checks cover integrity there.
    ...(customEndpoint !== undefined
      ? { requestChecksumCalculation: "WHEN_REQUIRED" as const, responseChecksumValidation: "WHEN_REQUIRED" as const }
      : {}),
  };
  let built: Promise<S3Client> | undefined;
  const client = (): Promise<S3Client> => {
    built ??= import("@aws-sdk/client-s3").then(({ S3Client }) => new S3Client(settings));
    return built;
  };

  const secrets = [
    raw.credentials?.secretAccessKey,
    raw.credentials?.sessionToken,
    raw.credentials?.accessKeyId,
    env.AWS_SECRET_ACCESS_KEY,
    env.AWS_SESSION_TOKEN,
    env.AWS_ACCESS_KEY_ID,
  ].filter((s): s is string => typeof s === "string" && s.length >= 4);

  return {
    client,
    endpointForDisplay: customEndpoint === undefined ? undefined : displayEndpoint(customEndpoint),
    forcePathStyle,
    maxAttempts,
    partSize: opts.partSize ?? DEFAULT_PART_SIZE,
    queueSize: opts.queueSize ?? DEFAULT_QUEUE_SIZE,
    secrets,
  };
}

/**
 * An endpoint URL without user, password, query or fragment.
 * @param endpoint - URL as configured
 */
export function displayEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return "(unparseable endpoint)";
  }
}

/**
 * Replaces every occurrence of each secret in `text` with `***`.
 * @param text - message to clean
 * @param secrets - values that must never be shown
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("***");
  return out;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== "" ? v.trim() : undefined;
}
