/**
 * What the code can send to AWS, and what an IAM policy allows: a scan of the sources for SDK
 * commands (so a command added later shows up without anyone listing it), their IAM actions,
 * and a small evaluator of Allow/Deny statements by action.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";

/** One SDK command the code constructs, with the client package it comes from. */
export interface SentCommand {
  /** Client package without the scope, e.g. "client-batch". */
  client: string;
  /** Command name without the "Command" suffix, e.g. "SubmitJob". */
  command: string;
  /** Where it is constructed (repository-relative paths). */
  files: string[];
}

const IMPORT = /import\s+(type\s+)?\{([^}]*)\}\s*from\s*["'](@aws-sdk\/[^"']+)["']/g;
// `const { PutObjectCommand } = await import("@aws-sdk/client-s3")`: the SDK loaded on first use.
const DYNAMIC_IMPORT = /()\{([^{}]*)\}\s*=\s*await\s+import\(\s*["'](@aws-sdk\/[^"']+)["']\s*\)/g;
const NEW_COMMAND = /new\s+([A-Z][A-Za-z0-9]*)Command\s*\(/g;
// The SDK's paginators (paginateListJobs) send the command they are named after, page by page.
const PAGINATE = /\bpaginate([A-Z][A-Za-z0-9]*)\s*\(/g;

/**
 * The SDK commands constructed in the given sources: `new XCommand(` where XCommand is imported
 * (as a value, statically or with `await import()`) from an @aws-sdk client, and `paginateX(`
 * calls of a client's paginators; plus, for a file that imports @aws-sdk/lib-storage,
 * the S3 commands lib-storage itself constructs (multipart uploads).
 * @param files - sources as path and text
 * @param libStorageSource - text of @aws-sdk/lib-storage's bundle (default: the installed one)
 */
export function commandsInSource(files: { path: string; text: string }[], libStorageSource: string = installedLibStorage()): SentCommand[] {
  const found = new Map<string, SentCommand>();
  const add = (client: string, command: string, file: string): void => {
    const key = `${client}:${command}`;
    const entry = found.get(key) ?? { client, command, files: [] };
    if (!entry.files.includes(file)) entry.files.push(file);
    found.set(key, entry);
  };
  for (const { path, text } of files) {
    const from = new Map<string, string>();
    for (const m of [...text.matchAll(IMPORT), ...text.matchAll(DYNAMIC_IMPORT)]) {
      if (m[1]) continue; // `import type` brings no value to construct
      for (const raw of m[2]!.split(",")) {
        const name = raw.trim().replace(/^type\s+/, "").split(/\s+as\s+/)[0]!.trim();
        if (name && !raw.trim().startsWith("type ")) from.set(name, m[3]!);
      }
    }
    for (const m of text.matchAll(NEW_COMMAND)) {
      const pkg = from.get(`${m[1]}Command`);
      if (pkg?.startsWith("@aws-sdk/client-")) add(pkg.slice("@aws-sdk/".length), m[1]!, path);
    }
    for (const m of text.matchAll(PAGINATE)) {
      const pkg = from.get(`paginate${m[1]}`);
      if (pkg?.startsWith("@aws-sdk/client-")) add(pkg.slice("@aws-sdk/".length), m[1]!, path);
    }
    if ([...text.matchAll(IMPORT), ...text.matchAll(DYNAMIC_IMPORT)].some((m) => !m[1] && m[3] === "@aws-sdk/lib-storage")) {
      for (const m of libStorageSource.matchAll(NEW_COMMAND)) add("client-s3", m[1]!, `${path} (via @aws-sdk/lib-storage)`);
    }
  }
  return [...found.values()].sort((a, b) => `${a.client}:${a.command}`.localeCompare(`${b.client}:${b.command}`));
}

function installedLibStorage(): string {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve("@aws-sdk/lib-storage"), "utf8");
}

/**
 * TypeScript and JavaScript sources under the given folders of `root`.
 * @param root - repository root
 * @param dirs - folders to scan
 */
export function sourceFiles(root: string, dirs: string[]): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push({ path: relative(root, path), text: readFileSync(path, "utf8") });
    }
  };
  for (const d of dirs) walk(join(root, d));
  return out;
}

// S3's API operations and the IAM actions that allow them (AWS's table of actions for S3).
const S3_ACTIONS: Record<string, string[]> = {
  PutObject: ["s3:PutObject"],
  GetObject: ["s3:GetObject"],
  HeadObject: ["s3:GetObject"],
  DeleteObject: ["s3:DeleteObject"],
  ListObjectsV2: ["s3:ListBucket"],
  CreateMultipartUpload: ["s3:PutObject"],
  UploadPart: ["s3:PutObject"],
  CompleteMultipartUpload: ["s3:PutObject"],
  AbortMultipartUpload: ["s3:AbortMultipartUpload"],
  PutObjectTagging: ["s3:PutObjectTagging"],
};

/**
 * IAM actions a command needs. S3 operations map through a table (an unknown one throws, so a
 * new S3 operation must be mapped by hand); other services use `<service>:<Operation>`.
 * Batch jobs and definitions are tagged at creation, which needs batch:TagResource too, and a
 * definition with a job role needs iam:PassRole.
 * @param c - a scanned command
 */
export function iamActionsFor(c: Pick<SentCommand, "client" | "command">): string[] {
  if (c.client === "client-s3") {
    const actions = S3_ACTIONS[c.command];
    if (!actions) throw new Error(`No IAM action is known for S3 ${c.command}: add it to S3_ACTIONS in test/support/iam.ts and to the policies.`);
    return actions;
  }
  const service = c.client.slice("client-".length);
  const base = [`${service}:${c.command}`];
  if (service === "batch" && c.command === "SubmitJob") return [...base, "batch:TagResource"];
  if (service === "batch" && c.command === "RegisterJobDefinition") return [...base, "batch:TagResource", "iam:PassRole"];
  return base;
}

/** An IAM policy document (the parts evaluated here). */
export interface Policy {
  Statement: { Sid?: string; Effect: "Allow" | "Deny"; Action?: string | string[]; NotAction?: unknown; Resource?: string | string[] }[];
}

/** Reads and parses a policy file. */
export function loadPolicy(path: string): Policy {
  return JSON.parse(readFileSync(path, "utf8")) as Policy;
}

// IAM action names are case-insensitive; `*` and `?` are wildcards.
function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return re.test(action);
}

/**
 * The statements that allow `action` (none if a Deny names it). Resources and conditions are
 * not evaluated: the example policies name example resources.
 * @param policy - the document
 * @param action - e.g. "batch:SubmitJob"
 */
export function allowingStatements(policy: Policy, action: string): Policy["Statement"] {
  const names = (a: string | string[] | undefined): string[] => (a === undefined ? [] : Array.isArray(a) ? a : [a]);
  for (const s of policy.Statement) if (s.NotAction !== undefined) throw new Error(`Statement ${s.Sid ?? "?"} uses NotAction, which this check does not evaluate.`);
  if (policy.Statement.some((s) => s.Effect === "Deny" && names(s.Action).some((p) => actionMatches(p, action)))) return [];
  return policy.Statement.filter((s) => s.Effect === "Allow" && names(s.Action).some((p) => actionMatches(p, action)));
}

/**
 * The IAM action an S3 REST request (path-style: /bucket/key?query) needs.
 * @param method - HTTP method
 * @param url - path and query as the server saw them
 */
export function s3ActionOfRequest(method: string, url: string): { action: string; object: boolean } {
  const u = new URL(url, "http://s3.local");
  const key = u.pathname.split("/").slice(2).join("/");
  const q = u.searchParams;
  if (key === "") {
    if ((method === "GET" && q.get("list-type") === "2") || method === "HEAD") return { action: "s3:ListBucket", object: false };
    throw new Error(`No IAM action is known for the bucket request ${method} ${url}.`);
  }
  if (method === "GET" || method === "HEAD") return { action: "s3:GetObject", object: true };
  if (method === "PUT" || method === "POST") return { action: q.has("tagging") ? "s3:PutObjectTagging" : "s3:PutObject", object: true };
  if (method === "DELETE") return { action: q.has("uploadId") ? "s3:AbortMultipartUpload" : "s3:DeleteObject", object: true };
  throw new Error(`No IAM action is known for the object request ${method} ${url}.`);
}
