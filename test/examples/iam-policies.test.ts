// The example IAM policies (examples/batch/iam) against what the code really sends: every AWS
// SDK command constructed in src/ and scripts/ (and by @aws-sdk/lib-storage for uploads) is
// found by scanning the sources, so a command added later must be allowed here too.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { retryStrategy } from "../../src/executors/batch/_submission.js";
import { allowingStatements, commandsInSource, iamActionsFor, loadPolicy, s3ActionOfRequest, sourceFiles } from "../support/iam.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const iam = (name: string): string => join(repo, "examples", "batch", "iam", name);
const submitter = loadPolicy(iam("submitter-policy.json"));
const jobRole = loadPolicy(iam("job-role-policy.json"));
const sent = commandsInSource(sourceFiles(repo, ["src", "scripts"]));

describe("the example IAM policies and the commands the code sends", () => {
  it("finds the commands of the Batch executor, the S3 store and lib-storage's multipart uploads in the sources", () => {
    const names = sent.map((c) => `${c.client}:${c.command}`);
    for (const expected of [
      "client-batch:SubmitJob",
      "client-batch:DescribeJobs",
      "client-batch:ListJobs",
      "client-batch:TerminateJob",
      "client-batch:RegisterJobDefinition",
      "client-batch:DescribeJobDefinitions",
      "client-s3:PutObject",
      "client-s3:GetObject",
      "client-s3:HeadObject",
      "client-s3:ListObjectsV2",
      "client-s3:DeleteObject",
      "client-s3:CreateMultipartUpload",
      "client-s3:UploadPart",
      "client-s3:CompleteMultipartUpload",
      "client-s3:AbortMultipartUpload",
    ]) {
      expect(names).toContain(expected);
    }
  });

  it("allows every command the code can send in the submitter policy", () => {
    const missing: string[] = [];
    for (const c of sent) {
      // lib-storage tags an upload only when given `tags`, which the S3 store never passes.
      if (c.command === "PutObjectTagging") continue;
      for (const action of iamActionsFor(c)) {
        if (allowingStatements(submitter, action).length === 0) missing.push(`${action} (for ${c.command}, sent from ${c.files.join(", ")})`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("would catch a command added later that the policy does not allow", () => {
    const later = commandsInSource(
      [{ path: "src/executors/batch/new.ts", text: 'import { CancelJobCommand } from "@aws-sdk/client-batch";\nclient.send(new CancelJobCommand({ jobId, reason }));' }],
      "",
    );
    expect(later).toEqual([{ client: "client-batch", command: "CancelJob", files: ["src/executors/batch/new.ts"] }]);
    expect(allowingStatements(submitter, iamActionsFor(later[0]!)[0]!)).toEqual([]);
    // A type-only import constructs nothing.
    expect(commandsInSource([{ path: "x.ts", text: 'import type { CancelJobCommand } from "@aws-sdk/client-batch";\nnew CancelJobCommand(x);' }], "")).toEqual([]);
    expect(() => iamActionsFor({ client: "client-s3", command: "RestoreObject" })).toThrow(/No IAM action is known for S3 RestoreObject/);
  });

  it("never passes tags to lib-storage's Upload, so s3:PutObjectTagging is not needed", () => {
    const store = readFileSync(join(repo, "src", "store", "s3.ts"), "utf8");
    const upload = store.slice(store.indexOf("new Upload("));
    expect(upload.slice(0, upload.indexOf("});"))).not.toMatch(/\btags\s*:/);
  });

  it("gives the job role S3 object access and listing only: nothing from Batch, no deletes", () => {
    const actions = jobRole.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action ?? ""]));
    expect(actions.sort()).toEqual(["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]);
    const trust = JSON.parse(readFileSync(iam("job-role-trust-policy.json"), "utf8")) as { Statement: { Principal: { Service: string } }[] };
    expect(trust.Statement[0]!.Principal.Service).toBe("ecs-tasks.amazonaws.com");
  });

  it("maps S3 requests to IAM actions the way AWS documents them", () => {
    expect(s3ActionOfRequest("GET", "/bkt?list-type=2&prefix=ensembles%2Fa%2Ffragments%2F")).toEqual({ action: "s3:ListBucket", object: false });
    expect(s3ActionOfRequest("HEAD", "/bkt/ensembles/a/plan.json")).toEqual({ action: "s3:GetObject", object: true });
    expect(s3ActionOfRequest("PUT", "/bkt/ensembles/a/runs/x/COMPAS_Output.h5?x-id=PutObject")).toEqual({ action: "s3:PutObject", object: true });
    expect(s3ActionOfRequest("POST", "/bkt/k?uploads")).toEqual({ action: "s3:PutObject", object: true });
    expect(s3ActionOfRequest("DELETE", "/bkt/k?uploadId=u1")).toEqual({ action: "s3:AbortMultipartUpload", object: true });
    expect(s3ActionOfRequest("DELETE", "/bkt/k")).toEqual({ action: "s3:DeleteObject", object: true });
  });

  it("documents the policies as files only, and the example job definition retries as the executor does", () => {
    const readme = readFileSync(join(repo, "examples", "batch", "README.md"), "utf8");
    for (const f of ["iam/submitter-policy.json", "iam/job-role-policy.json", "iam/job-role-trust-policy.json"]) expect(readme).toContain(f);
    // No inline copy that could drift from the files the test checks.
    expect(readme).not.toContain('"Statement"');
    const definition = JSON.parse(readFileSync(join(repo, "examples", "batch", "job-definition.json"), "utf8")) as { retryStrategy: unknown };
    expect(definition.retryStrategy).toEqual(retryStrategy(3));
  });
});
