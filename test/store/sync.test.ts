import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { LocalStore } from "../../src/store/local.js";
import { S3Store } from "../../src/store/s3.js";
import { formatSyncSummary, syncCommand } from "../../src/cli/sync-command.js";
import { sync, type SyncProgress } from "../../src/store/sync.js";
import { startFaultProxy, startS3rver, type S3rverHandle } from "../support/s3rver.js";
import { expectCode } from "./store-behaviour.js";

let s3: S3rverHandle;
let bucket: string;
let base: string;
let n = 0;

beforeAll(async () => {
  s3 = await startS3rver();
  bucket = await s3.createBucket();
  base = fs.mkdtempSync(path.join(os.tmpdir(), "sync-"));
});
afterAll(async () => {
  await s3?.stop();
  fs.rmSync(base, { recursive: true, force: true });
});

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

function fresh(): { remote: S3Store; dir: string; uri: string } {
  n += 1;
  const uri = `s3://${bucket}/ens${n}`;
  return { remote: new S3Store(uri, s3.storeOptions()), dir: path.join(base, `d${n}`, "dest"), uri };
}

/** Every regular file under `dir`, relative, '/'-separated, sorted. */
function tree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, "");
  return out.sort();
}

async function seed(remote: S3Store, files: Record<string, Buffer | string>): Promise<void> {
  for (const [key, body] of Object.entries(files)) await remote.put(key, body);
}

const layout = (): Record<string, Buffer> => ({
  "plan.json": Buffer.from('{"plan":1}'),
  "runs/r0/COMPAS_Output/COMPAS_Output.h5": randomBytes(40_000),
  "runs/r1/COMPAS_Output/COMPAS_Output.h5": randomBytes(40_000),
  "fragments/t0.json": Buffer.from('{"status":"succeeded"}'),
  "logs/t0.log": Buffer.from("line 1\nline 2\n"),
});

describe("sync down", () => {
  it("downloads everything, then a second sync transfers nothing", async () => {
    const { remote, dir } = fresh();
    const files = layout();
    await seed(remote, files);
    const first = await sync(remote, dir);
    const total = Object.values(files).reduce((s, b) => s + b.length, 0);
    expect(first).toEqual({ transferred: 5, skipped: 0, refused: [], bytes: total, dryRun: false });
    for (const [key, body] of Object.entries(files)) {
      expect(fs.readFileSync(path.join(dir, ...key.split("/"))).equals(body)).toBe(true);
    }
    expect(tree(dir)).toEqual([".compas-sync-state.json", ...Object.keys(files)].sort());

    const second = await sync(remote, dir);
    expect(second).toEqual({ transferred: 0, skipped: 5, refused: [], bytes: 0, dryRun: false });
  });

  it("transfers just the one file that changed, remotely or locally, even at equal size", async () => {
    const { remote, dir } = fresh();
    const files = layout();
    await seed(remote, files);
    await sync(remote, dir);

    const changed = randomBytes(40_000);
    await remote.put("runs/r1/COMPAS_Output/COMPAS_Output.h5", changed);
    const events: SyncProgress[] = [];
    const res = await sync(remote, dir, { onProgress: (e) => events.push(e) });
    expect(res.transferred).toBe(1);
    expect(res.skipped).toBe(4);
    expect(events.filter((e) => e.kind === "transferred").map((e) => e.key)).toEqual([
      "runs/r1/COMPAS_Output/COMPAS_Output.h5",
    ]);
    expect(fs.readFileSync(path.join(dir, "runs/r1/COMPAS_Output/COMPAS_Output.h5")).equals(changed)).toBe(true);

    // A local edit of the same size (new mtime) is noticed through the checksum and undone.
    const local = path.join(dir, "logs", "t0.log");
    fs.writeFileSync(local, "LINE 1\nLINE 2\n");
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(local, later, later);
    const again = await sync(remote, dir);
    expect(again.transferred).toBe(1);
    expect(fs.readFileSync(local, "utf8")).toBe("line 1\nline 2\n");
  });

  it("keeps local checksums in .compas-sync-state.json and trusts them while size and mtime hold", async () => {
    const { remote, dir } = fresh();
    const files = layout();
    await seed(remote, files);
    await sync(remote, dir);
    const stateFile = path.join(dir, ".compas-sync-state.json");
    const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as { files: Record<string, { sha256: string }> };
    expect(Object.keys(state.files).sort()).toEqual(Object.keys(files).sort());
    for (const [key, body] of Object.entries(files)) expect(state.files[key]?.sha256).toBe(sha(body));

    // Proof that the cache is read instead of re-hashing: a wrong cached hash causes a copy.
    (state.files["plan.json"] as { sha256: string }).sha256 = "f".repeat(64);
    fs.writeFileSync(stateFile, JSON.stringify(state));
    const res = await sync(remote, dir);
    expect(res.transferred).toBe(1);
    expect((await sync(remote, dir)).transferred).toBe(0);
    // A corrupt cache is just ignored.
    fs.writeFileSync(stateFile, "{not json");
    expect((await sync(remote, dir)).transferred).toBe(0);
  });

  it("skips unchanged objects uploaded by other tools by their MD5 ETag", async () => {
    const { remote, dir } = fresh();
    await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: `${remote.prefix}/foreign.txt`, Body: "no sha here" }));
    expect((await sync(remote, dir)).transferred).toBe(1);
    expect((await sync(remote, dir)).skipped).toBe(1);
  });

  it("writes nothing in a dry run but reports what would move", async () => {
    const { remote, dir } = fresh();
    await seed(remote, { "a.txt": "aaa", "b/c.txt": "cc" });
    const res = await sync(remote, dir, { dryRun: true });
    expect(res).toEqual({ transferred: 2, skipped: 0, refused: [], bytes: 5, dryRun: true });
    expect(tree(dir)).toEqual([]);
    expect(formatSyncSummary(res)).toBe("would transfer 2 files (5 B), 0 up to date");
  });

  it("only syncs keys under the given prefix", async () => {
    const { remote, dir } = fresh();
    await seed(remote, { "runs/r0/x": "0", "runs/r1/x": "1", "logs/t0.log": "log" });
    const res = await sync(remote, dir, { prefix: "runs/r1/" });
    expect(res.transferred).toBe(1);
    expect(tree(dir).filter((f) => !f.startsWith("."))).toEqual(["runs/r1/x"]);
  });
});

describe("interrupted sync", () => {
  it("stops on abort with CANCELLED, leaves only complete files, and a rerun completes", async () => {
    const { remote, dir } = fresh();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 8; i++) files[`runs/r${i}/out.bin`] = randomBytes(300_000);
    await seed(remote, files);

    const ctl = new AbortController();
    const err = await expectCode(
      () =>
        sync(remote, dir, {
          concurrency: 2,
          signal: ctl.signal,
          onProgress: (e) => {
            if (e.kind === "transferred") ctl.abort(new Error("user pressed Ctrl-C"));
          },
        }),
      "CANCELLED",
    );
    expect(err.message).toContain("run it again");
    const partial = tree(dir).filter((f) => f.startsWith("runs/"));
    expect(partial.length).toBeGreaterThanOrEqual(1);
    expect(partial.length).toBeLessThan(8);
    // Every file present is complete; no temporary file was left behind.
    for (const f of partial) expect(sha(fs.readFileSync(path.join(dir, f)))).toBe(sha(files[f] as Buffer));
    expect(tree(dir).filter((f) => f.includes("compas-part"))).toEqual([]);

    // A process killed mid-download leaves a temporary file; it must not confuse the rerun.
    fs.mkdirSync(path.join(dir, "runs", "r7"), { recursive: true });
    fs.writeFileSync(path.join(dir, "runs", "r7", ".out.bin.deadbeef0000.compas-part"), "half a fil");

    const rerun = await sync(remote, dir);
    expect(rerun.transferred).toBe(8 - partial.length);
    expect(rerun.skipped).toBe(partial.length);
    for (const [key, body] of Object.entries(files)) {
      expect(fs.readFileSync(path.join(dir, ...key.split("/"))).equals(body)).toBe(true);
    }
    expect((await sync(remote, dir)).transferred).toBe(0);
  });
});

describe("hostile keys", () => {
  it("refuses keys that would escape the destination, writes nothing outside, and syncs the rest", async () => {
    const { remote, dir } = fresh();
    const parent = path.dirname(dir);
    fs.mkdirSync(dir, { recursive: true });
    await remote.put("good/data.txt", "good");
    for (const key of ["..", "a/..", "a\\..\\..\\evil", "../evil", "/abs", "a/../../b"]) {
      // s3rver answers garbage for '//' in a path and resolves '..' segments when it stores
      // objects, so only the first three survive as hostile keys in its listing; the others
      // are covered by keys.test.ts and the LocalStore tests.
      await s3.client
        .send(new PutObjectCommand({ Bucket: bucket, Key: `${remote.prefix}/${key}`, Body: `payload of ${key}` }))
        .catch(() => undefined);
    }
    const listed = (await remote.list()).map((e) => e.key);
    expect(listed).toEqual(expect.arrayContaining(["..", "a/..", "a\\..\\..\\evil"]));

    const events: SyncProgress[] = [];
    const res = await sync(remote, dir, { onProgress: (e) => events.push(e) });
    expect(res.refused).toEqual(listed.filter((k) => k !== "good/data.txt").sort());
    expect(res.refused.length).toBeGreaterThanOrEqual(3);
    expect(res.transferred).toBe(1);
    expect(events.filter((e) => e.kind === "refused").every((e) => (e.reason ?? "").length > 0)).toBe(true);
    expect(fs.readdirSync(parent)).toEqual(["dest"]);
    expect(tree(dir)).toEqual([".compas-sync-state.json", "good/data.txt"]);
    expect(formatSyncSummary(res)).toContain("refused as unsafe");
  });

  it("refuses '../evil', '/abs' and 'a/../../b' named by a hostile listing, though fetching them would work", async () => {
    const { remote, dir } = fresh();
    const parent = path.dirname(dir);
    const hostile: Record<string, string> = { p1: "../evil", p2: "/abs", p3: "a/../../b" };
    await seed(remote, { "good.txt": "good", p1: "1", p2: "2", p3: "3" });
    // What a naive client would fetch for '../evil' and 'a/../../b': s3rver resolves the
    // dots, so these objects really come back for the hostile names.
    for (const k of ["evil", "b"]) {
      await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: `escaped as ${k}` }));
    }
    const proxy = await startFaultProxy(s3.endpoint, [
      {
        match: (m, url) => m === "GET" && url.includes("list-type=2"),
        times: Number.POSITIVE_INFINITY,
        fault: {
          rewrite: (xml) =>
            xml.replace(/<Key>([^<]*)\/(p[123])<\/Key>/g, (_all, pre: string, p: string) => `<Key>${pre}/${hostile[p]}</Key>`),
        },
      },
    ]);
    try {
      const viaProxy = new S3Store(remote.uri, { ...s3.storeOptions(), endpoint: proxy.endpoint });
      const listed = (await viaProxy.list()).map((e) => e.key);
      expect(listed).toEqual(["../evil", "/abs", "a/../../b", "good.txt"].sort());
      // The test can fail: a client that skipped the guard would get content for '../evil'.
      const naive = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: `${remote.prefix}/../evil` }));
      expect(await naive.Body?.transformToString()).toBe("escaped as evil");

      const res = await sync(viaProxy, dir);
      expect(res.refused).toEqual(["../evil", "/abs", "a/../../b"]);
      expect(res.transferred).toBe(1);
      expect(fs.readdirSync(parent)).toEqual(["dest"]);
      expect(tree(dir)).toEqual([".compas-sync-state.json", "good.txt"]);
      expect(fs.existsSync("/abs")).toBe(false);
    } finally {
      await proxy.stop();
    }
  });

  it("refuses a key whose destination path runs through a symlink that leaves the directory", async () => {
    const { remote, dir } = fresh();
    const outside = path.join(path.dirname(dir), "outside");
    fs.mkdirSync(outside, { recursive: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(outside, path.join(dir, "runs"));
    await seed(remote, { "runs/r0/out.h5": "would land outside", "plan.json": "{}" });
    const res = await sync(remote, dir);
    expect(res.refused).toEqual(["runs/r0/out.h5"]);
    expect(res.transferred).toBe(1);
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it("does not upload a local symlink that points outside the directory", async () => {
    const { remote, dir, uri } = fresh();
    const outside = path.join(path.dirname(dir), "secret.txt");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(outside, "private");
    fs.writeFileSync(path.join(dir, "ok.txt"), "ok");
    fs.symlinkSync(outside, path.join(dir, "leak.txt"));
    const res = await syncCommand({ s3Uri: uri, dir, up: true, ...s3.storeOptions() });
    expect(res.transferred).toBe(1);
    expect((await remote.list()).map((e) => e.key)).toEqual(["ok.txt"]);
  });
});

describe("sync between two stores of the same kind", () => {
  it("copies S3 to S3 and directory to directory, keeping the SHA-256 metadata", async () => {
    const a = fresh();
    const b = fresh();
    await seed(a.remote, { "x/1.bin": randomBytes(2000), "y.txt": "y" });
    expect((await sync(a.remote, b.remote)).transferred).toBe(2);
    expect((await b.remote.head("x/1.bin"))?.sha256).toBe((await a.remote.head("x/1.bin"))?.sha256);
    expect((await sync(a.remote, b.remote)).skipped).toBe(2);

    await sync(b.remote, a.dir);
    const res = await sync(new LocalStore(a.dir), b.dir);
    expect(res.transferred).toBe(2);
    expect(fs.readFileSync(path.join(b.dir, "y.txt"), "utf8")).toBe("y");
    expect((await sync(new LocalStore(a.dir), b.dir)).skipped).toBe(2);
  });
});

describe("syncCommand", () => {
  it("uploads with up, then again transfers nothing, and a local change uploads just that file", async () => {
    const { remote, dir, uri } = fresh();
    fs.mkdirSync(path.join(dir, "runs", "r0"), { recursive: true });
    fs.writeFileSync(path.join(dir, "plan.json"), "{}");
    fs.writeFileSync(path.join(dir, "runs", "r0", "out.h5"), randomBytes(10_000));
    const opts = { s3Uri: uri, dir, up: true, ...s3.storeOptions() };
    expect((await syncCommand(opts)).transferred).toBe(2);
    expect((await remote.head("runs/r0/out.h5", { checksum: true }))?.sha256).toBe(
      sha(fs.readFileSync(path.join(dir, "runs", "r0", "out.h5"))),
    );
    expect(await syncCommand(opts)).toMatchObject({ transferred: 0, skipped: 2 });
    fs.writeFileSync(path.join(dir, "plan.json"), "[]");
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(dir, "plan.json"), later, later);
    expect(await syncCommand(opts)).toMatchObject({ transferred: 1, skipped: 1 });
    expect((await remote.get("plan.json")).toString()).toBe("[]");

    // And back down into a new directory.
    const down = path.join(base, `down${++n}`);
    expect(await syncCommand({ s3Uri: uri, dir: down, ...s3.storeOptions() })).toMatchObject({ transferred: 2 });
    expect(fs.readFileSync(path.join(down, "plan.json"), "utf8")).toBe("[]");
  });

  it("refuses a non-S3 URI and a missing upload directory with OPTIONS_INVALID", async () => {
    await expectCode(() => syncCommand({ s3Uri: "/not/s3", dir: base }), "OPTIONS_INVALID");
    await expectCode(
      () => syncCommand({ s3Uri: `s3://${bucket}/x`, dir: path.join(base, "absent"), up: true }),
      "OPTIONS_INVALID",
    );
  });

  it("reports keys that failed with STORE_ACCESS after syncing the others", async () => {
    const { remote, dir } = fresh();
    await seed(remote, { "a.txt": "a", "b/c.txt": "c" });
    fs.mkdirSync(dir, { recursive: true });
    // A file where a directory must go blocks "b/c.txt" only.
    fs.writeFileSync(path.join(dir, "b"), "in the way");
    let caught: unknown;
    try {
      await sync(remote, dir);
    } catch (err) {
      caught = err;
    }
    expect(isCompasEnsembleError(caught, "STORE_ACCESS")).toBe(true);
    expect((caught as Error).message).toContain("1 of 2 keys failed");
    expect(fs.readFileSync(path.join(dir, "a.txt"), "utf8")).toBe("a");
  });
});
