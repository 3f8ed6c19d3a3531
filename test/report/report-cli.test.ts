/**
 * `compas-ensemble report` as a user runs it: the built CLI on local and s3:// ensembles, and
 * the refusals that keep it from destroying anything.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runEnsemble } from "../../src/ensemble/run.js";
import { LocalExecutor } from "../../src/executors/local/executor.js";
import { openStore } from "../../src/store/open.js";
import { cliCommand } from "../support/cli.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { S3RVER_CREDENTIALS, startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { sparsePoints, tempDir } from "./_ensembles.js";

function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const [node, ...rest] = cliCommand();
  return spawnSync(node!, [...rest, ...args], { encoding: "utf8", env });
}

/** The CLI without blocking this process: needed when this process serves the S3 endpoint. */
function cliAsync(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const [node, ...rest] = cliCommand();
  const child = spawn(node!, [...rest, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

describe("compas-ensemble report on a local ensemble", () => {
  const out = tempDir("cli");
  beforeAll(async () => {
    await runEnsemble({ points: sparsePoints(2), nSystems: 20, compasBinary: fakeCompasPath(), output: out, executor: new LocalExecutor({ concurrency: 2 }) });
  }, 300_000);

  it("writes one HTML file and says where, how big and how many plots", () => {
    const html = join(tempDir("cli-out"), "report.html");
    const r = cli(["report", out, "--out", html]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^report of 2 runs -> ${html} \\(\\d+(\\.\\d)? kB, \\d+ plots, [\\d.]+ s\\)\\n$`));
    expect(readFileSync(html, "utf8")).toMatch(/^<!doctype html>/);
  }, 120_000);

  it("refuses to write over a file of the ensemble, with one sentence and exit 2, and leaves it unchanged", () => {
    const before = readFileSync(join(out, "plan.json"), "utf8");
    const r = cli(["report", out, "--out", join(out, "plan.json")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: --out \S+plan\.json is a file of the ensemble in \S+, which the report never overwrites\.\nhint: /);
    expect(readFileSync(join(out, "plan.json"), "utf8")).toBe(before);
    // Also inside the ensemble's folders, even for a name that does not exist yet.
    expect(cli(["report", out, "--out", join(out, "runs", "new.html")]).status).toBe(2);
  });

  it("refuses to replace a file that is not a report unless --force, and replaces an earlier report", () => {
    const dir = tempDir("cli-existing");
    const notes = join(dir, "notes.html");
    writeFileSync(notes, "my notes");
    const r = cli(["report", out, "--out", notes, "--status-only"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: --out \S+ already exists and is not a report made by compas-ensemble\.\nhint: .*--force/);
    expect(readFileSync(notes, "utf8")).toBe("my notes");
    expect(cli(["report", out, "--out", notes, "--status-only", "--force"]).status).toBe(0);
    // Now it is a report: making it again needs no --force.
    expect(cli(["report", out, "--out", notes, "--status-only"]).status).toBe(0);
  }, 120_000);

  it("refuses a source that is not an ensemble with one sentence and exit 2", () => {
    const r = cli(["report", tempDir("cli-empty"), "--out", join(tempDir("cli-x"), "r.html")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: \S+ holds no plan\.json, so it is not an ensemble output\.\nhint: /);
  });
});

describe("compas-ensemble report on an s3:// ensemble", () => {
  let s3: S3rverHandle;
  beforeAll(async () => {
    s3 = await startS3rver();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it("reads the plan, fragments and outputs from S3 and draws the same report", async () => {
    const bucket = await s3.createBucket();
    const uri = `s3://${bucket}/ens`;
    await runEnsemble({
      points: sparsePoints(2),
      nSystems: 20,
      compasBinary: fakeCompasPath(),
      output: openStore(uri, s3.storeOptions()),
      executor: new LocalExecutor({ concurrency: 2 }),
    });
    const html = join(tempDir("cli-s3"), "report.html");
    const r = await cliAsync(["report", uri, "--out", html, "--endpoint", s3.endpoint], {
      ...process.env,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: "us-east-1",
    });
    expect(r.stderr).toContain("read 2/2 run outputs");
    expect(r.status).toBe(0);
    const text = readFileSync(html, "utf8");
    expect(text).toContain("<dt>runs done</dt><dd>2 / 2</dd>");
    expect(text).toContain(`<code>${uri}</code>`);
    // The science section was drawn from the outputs downloaded from S3.
    expect(text).toContain('id="plot-yields"');
    expect(text).not.toContain('class="empty"');
  }, 300_000);
});
