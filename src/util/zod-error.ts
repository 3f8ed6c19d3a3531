import type { z } from "zod";

/**
 * The first zod issue as `path: message` (e.g. `runs[3].status: Invalid option ...`), short
 * enough to sit inside a one-sentence error.
 * @param error - a failed safeParse's error
 */
export function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return "invalid value";
  const path = formatPath(issue.path);
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem(s))` : "";
  return `${path === "" ? "(top level)" : path}: ${issue.message}${more}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}
