import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runEnsemble } from "../../src/ensemble/run.js";
import { SshExecutor } from "../../src/executors/ssh/index.js";
import { ManifestSchema } from "../../src/manifest/schema.js";
import { readFragments } from "../../src/store/fragments.js";
import { openStore } from "../../src/store/open.js";
import { ENV, expectedRun, points } from "../support/adaptive-rule.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { startSshdCluster, type SshdCluster } from "../support/sshd.js";

// The SSH executor in SFTP mode copies plan.json to each host; for an adaptive plan that copy
// is the plan as it stands (with every wave's chunks), which the worker there must read as is.
describe("an adaptive ensemble on the SSH executor (real sshd hosts, results over SFTP)", () => {
  let cluster: SshdCluster;
  let out: string;
  beforeAll(async () => {
    cluster = await startSshdCluster({ hosts: 2 });
    out = mkdtempSync(join(tmpdir(), "ssh-adaptive-"));
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  it("grows each run wave by wave on the hosts until it holds the target, each chunk run once", async () => {
    const summary = await runEnsemble({
      points,
      nSystems: { chunk: 100, max: 600 },
      target: { dco: "BBH", merging: true, count: 3 },
      compasBinary: fakeCompasPath(),
      output: out,
      executor: new SshExecutor({
        hosts: cluster.hosts.map((h) => ({ name: h.name, host: h.host, port: h.port, user: h.user, slots: 1, remoteDir: h.remoteDir })),
        knownHostsFile: cluster.knownHostsFile,
        identityFile: cluster.identityFile,
        agent: false,
        remoteCommand: cluster.remoteCommand,
        remoteNode: cluster.node,
        compasBinary: cluster.compasBinary,
        remoteEnv: { ...cluster.remoteEnv, ...ENV },
        pollMs: 200,
        retryBackoffMs: 10,
      }),
    });
    expect(summary.runs).toEqual({ total: 3, succeeded: 3, failed: 0, pending: 0 });
    const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(out, "ensemble_metadata.json"), "utf8")));
    for (const [k, p] of points.entries()) {
      const want = expectedRun(k, p.params.metallicity, 100, 600, 3);
      expect((manifest.runs[k] as Record<string, unknown>).adaptive).toMatchObject({ dcos: want.dcos, reached: want.reached, n_chunks: want.chunks, n_systems: want.systems });
    }
    const { fragments } = await readFragments(openStore(out));
    const ids = fragments.map((f) => f.task_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(fragments.every((f) => f.status === "success")).toBe(true);
  }, 400_000);
});
