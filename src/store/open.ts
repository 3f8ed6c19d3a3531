import path from "node:path";
import { fileURLToPath } from "node:url";
import { CompasEnsembleError } from "../errors.js";
import type { S3StoreOptions } from "./s3-client.js";
import { LocalStore } from "./local.js";
import { S3Store } from "./s3.js";
import type { Store } from "./types.js";

/**
 * Opens the store a URI or path names: `s3://bucket/prefix` gives an {@link S3Store},
 * `file://...` or a plain path gives a {@link LocalStore}; any other scheme is refused.
 * @param uriOrPath - `s3://bucket[/prefix]`, `file:///dir`, or a local directory path
 * @param options - S3 options (endpoint, forcePathStyle, region, maxAttempts, ...); ignored for local paths
 */
export function openStore(uriOrPath: string, options: S3StoreOptions = {}): Store {
  const s = uriOrPath.trim();
  if (s === "") {
    throw new CompasEnsembleError("OPTIONS_INVALID", "The store location is empty; give a directory or s3://bucket/prefix.");
  }
  if (/^s3:\/\//i.test(s)) return new S3Store(s.replace(/^s3:/i, "s3:"), options);
  if (/^file:\/\//i.test(s)) return new LocalStore(fileURLToPath(s));
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s);
  if (scheme) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `Unsupported store URI ${JSON.stringify(s)}: only s3:// URIs and local directories are supported.`,
    );
  }
  return new LocalStore(path.resolve(s));
}
