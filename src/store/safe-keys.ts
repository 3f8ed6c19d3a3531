import path from "node:path";
import { z } from "zod";
import { CompasEnsembleError } from "../errors.js";

/**
 * Why a key is unsafe, or null when it is a plain relative '/'-separated path.
 *
 * Refused: empty keys, absolute keys ('/x', 'C:x'), backslashes (a path separator on
 * Windows), NUL, '..' segments, and empty or '.' segments (they alias other keys once
 * mapped to a file system, so two remote objects could fight over one local file).
 * @param key - the store key to check
 */
export function unsafeKeyReason(key: string): string | null {
  if (typeof key !== "string" || key.length === 0) return "it is empty";
  if (key.includes("\0")) return "it contains a NUL character";
  if (key.includes("\\")) return "it contains a backslash";
  if (key.startsWith("/")) return "it is an absolute path";
  if (/^[A-Za-z]:/.test(key)) return "it starts with a drive letter";
  for (const segment of key.split("/")) {
    if (segment === "..") return "it contains a '..' segment";
    if (segment === ".") return "it contains a '.' segment";
    if (segment === "") return "it contains an empty segment";
  }
  return null;
}

/**
 * Why a name is unsafe as one segment of a key (a task or run id that names a file or a
 * folder), or null: the rules of {@link unsafeKeyReason}, and no '/'.
 * @param name - the id to check
 */
export function unsafeNameReason(name: string): string | null {
  if (typeof name === "string" && name.includes("/")) return "it contains a '/'";
  return unsafeKeyReason(name);
}

/** A store key as {@link unsafeKeyReason} accepts it, for files (plan, fragments) that name keys. */
export const StoreKeySchema = z.string().superRefine((key, ctx) => {
  const reason = unsafeKeyReason(key);
  if (reason !== null) ctx.addIssue({ code: "custom", message: `${JSON.stringify(key)} is not a safe store key because ${reason}` });
});

/** An id that becomes one segment of keys and folder names, as {@link unsafeNameReason} accepts it. */
export const KeyNameSchema = z.string().superRefine((name, ctx) => {
  const reason = unsafeNameReason(name);
  if (reason !== null) ctx.addIssue({ code: "custom", message: `${JSON.stringify(name)} is not a safe name for files because ${reason}` });
});

/**
 * True when {@link unsafeKeyReason} finds nothing wrong with the key.
 * @param key - the store key to check
 */
export function isSafeKey(key: string): boolean {
  return unsafeKeyReason(key) === null;
}

/**
 * Throws STORE_KEY_UNSAFE unless the key is a plain relative '/'-separated path.
 * @param key - the store key to check
 * @param where - the store URI, named in the message
 */
export function assertSafeKey(key: string, where: string): void {
  const reason = unsafeKeyReason(key);
  if (reason !== null) {
    throw new CompasEnsembleError(
      "STORE_KEY_UNSAFE",
      `Refused key ${JSON.stringify(key)} in ${where} because ${reason}; keys must be relative '/'-separated paths.`,
      { hint: "Remove or rename the object; it is never written outside the destination." },
    );
  }
}

/**
 * Maps a key to a path under `root`, refusing unsafe keys and any result that would not
 * be strictly inside `root` (a purely lexical check; symlinks are checked by LocalStore).
 * @param root - absolute directory the key is relative to
 * @param key - the store key
 */
export function keyToLocalPath(root: string, key: string): string {
  assertSafeKey(key, root);
  const resolvedRoot = path.resolve(root);
  const target = path.resolve(resolvedRoot, ...key.split("/"));
  if (!isInside(resolvedRoot, target)) {
    throw new CompasEnsembleError(
      "STORE_KEY_UNSAFE",
      `Refused key ${JSON.stringify(key)} because it resolves outside ${resolvedRoot}.`,
    );
  }
  return target;
}

/**
 * True when `child` is strictly below `parent` (both absolute and normalised).
 * @param parent - directory
 * @param child - candidate path
 */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/**
 * Joins a store prefix and a key with exactly one '/', for S3 object names.
 * @param prefix - '' or a prefix without leading slash
 * @param key - relative key
 */
export function joinKey(prefix: string, key: string): string {
  if (prefix === "") return key;
  return prefix.endsWith("/") ? prefix + key : `${prefix}/${key}`;
}
