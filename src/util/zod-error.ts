import type { z } from "zod";

/**
 * The first zod issue as `path: message` (e.g. `runs[3].status: Invalid option ...`), short
 * enough to sit inside a one-sentence error. The one way this package turns a failed zod
 * validation into words.
 * @param error - a failed safeParse's error
 * @param prefix - path of the validated value inside what the user knows (e.g. `data` for a
 *   handle's data), put before the issue's path
 */
export function describeZodError(error: z.ZodError, prefix = ""): string {
  const issue = error.issues[0];
  if (issue === undefined) return "invalid value";
  const path = formatPath(prefix, issue.path);
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem(s))` : "";
  // An unknown key names itself; "(top level): Unrecognized key ..." would only add noise.
  if (path === "" && issue.code === "unrecognized_keys") return `${issue.message}${more}`;
  return `${path === "" ? "(top level)" : path}: ${issue.message}${more}`;
}

function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}
