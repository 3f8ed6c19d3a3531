import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalStore } from "../../src/store/local.js";
import { openStore } from "../../src/store/open.js";
import { S3Store } from "../../src/store/s3.js";
import { expectCode, storeBehaviour } from "./store-behaviour.js";

let base: string;
beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), "localstore-"));
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

let n = 0;
storeBehaviour("LocalStore", async () => new LocalStore(path.join(base, `s${++n}`)));

describe("LocalStore specifics", () => {
  const fresh = (): { root: string; outside: string; store: LocalStore } => {
    const dir = path.join(base, `x${++n}`);
    const root = path.join(dir, "root");
    const outside = path.join(dir, "outside");
    fs.mkdirSync(root, { recursive: true });
    fs.mkdirSync(outside, { recursive: true });
    return { root, outside, store: new LocalStore(root) };
  };

  it("refuses to write through a symlinked directory that leads outside the root", async () => {
    const { root, outside, store } = fresh();
    fs.symlinkSync(outside, path.join(root, "link"));
    await expectCode(() => store.put("link/evil.txt", "x"), "STORE_KEY_UNSAFE");
    await expectCode(() => store.put("link/new/evil.txt", "x"), "STORE_KEY_UNSAFE");
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it("refuses to read or list a symlinked file that points outside the root", async () => {
    const { root, outside, store } = fresh();
    fs.writeFileSync(path.join(outside, "secret"), "top secret");
    fs.symlinkSync(path.join(outside, "secret"), path.join(root, "innocent.txt"));
    await expectCode(() => store.get("innocent.txt"), "STORE_KEY_UNSAFE");
    await expectCode(() => store.head("innocent.txt"), "STORE_KEY_UNSAFE");
    expect(await store.list()).toEqual([]);
  });

  it("follows symlinks that stay inside the root", async () => {
    const { root, store } = fresh();
    await store.put("real/data.txt", "inside");
    fs.symlinkSync(path.join(root, "real"), path.join(root, "alias"));
    fs.symlinkSync(path.join(root, "real", "data.txt"), path.join(root, "data-link.txt"));
    expect((await store.get("alias/data.txt")).toString()).toBe("inside");
    await store.put("alias/more.txt", "via alias");
    expect(fs.readFileSync(path.join(root, "real", "more.txt"), "utf8")).toBe("via alias");
    // Linked files are listed; linked directories are not walked twice.
    expect((await store.list()).map((e) => e.key)).toEqual(["data-link.txt", "real/data.txt", "real/more.txt"]);
  });

  it("writes nothing outside the root for hostile keys", async () => {
    const { root, outside, store } = fresh();
    const parent = path.dirname(root);
    const before = fs.readdirSync(parent).sort();
    for (const key of ["../outside/evil", "../evil", "/tmp/evil-abs", "a/../../evil", "..", "a\\..\\..\\evil"]) {
      await expectCode(() => store.put(key, "x"), "STORE_KEY_UNSAFE");
    }
    expect(fs.readdirSync(parent).sort()).toEqual(before);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it("writes atomically: a reader never sees a partial file and no temp file stays", async () => {
    const { root, store } = fresh();
    const big = Buffer.alloc(4 * 1024 * 1024, 9);
    await store.put("f.bin", "old");
    let done = false;
    const writing = (async () => {
      for (let i = 0; i < 3; i++) await store.put("f.bin", i % 2 === 0 ? big : "old");
      await store.put("f.bin", big);
      done = true;
    })();
    // Whatever a reader catches mid-write is either the whole old or the whole new file.
    const seen = new Set<number>();
    while (!done) seen.add((await store.get("f.bin")).length);
    await writing;
    expect([...seen].every((len) => len === 3 || len === big.length)).toBe(true);
    expect((await store.get("f.bin")).equals(big)).toBe(true);
    expect(fs.readdirSync(root)).toEqual(["f.bin"]);
  });

  it("does not list temporary files or the sync state file", async () => {
    const { root, store } = fresh();
    await store.put("a.txt", "a");
    fs.writeFileSync(path.join(root, ".a.txt.123abc.compas-part"), "partial");
    fs.writeFileSync(path.join(root, ".compas-sync-state.json"), "{}");
    expect((await store.list()).map((e) => e.key)).toEqual(["a.txt"]);
    await expectCode(() => store.put(".compas-sync-state.json", "x"), "STORE_KEY_UNSAFE");
  });

  it("lists an empty result for a root that does not exist yet, and creates it on write", async () => {
    const root = path.join(base, `later${++n}`, "deep");
    const store = new LocalStore(root);
    expect(await store.list()).toEqual([]);
    expect(await store.head("x")).toBeNull();
    await store.put("x", "1");
    expect(fs.readFileSync(path.join(root, "x"), "utf8")).toBe("1");
  });

  it("trusts a cached checksum while size, mtime and inode are unchanged, and hashes again when asked for a fresh one", async () => {
    const { root, store } = fresh();
    await store.put("out.h5", Buffer.from("0123456789"));
    const file = path.join(root, "out.h5");
    // A whole-second mtime, so that restoring it below is exact.
    const stamp = new Date("2026-01-02T03:04:05Z");
    fs.utimesSync(file, stamp, stamp);
    const original = (await store.head("out.h5", { checksum: true }))!.sha256;
    // A change in place that keeps size and modification time, as bit rot or `touch -r` would.
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.from("X"), 0, 1, 3);
    fs.closeSync(fd);
    fs.utimesSync(file, stamp, stamp);
    const changed = crypto.createHash("sha256").update("012X456789").digest("hex");
    expect((await store.head("out.h5", { checksum: true }))!.sha256).toBe(original);
    expect((await store.head("out.h5", { checksum: true, fresh: true }))!.sha256).toBe(changed);
  });

  it("reports a write into a path blocked by a file as STORE_ACCESS naming the key", async () => {
    const { store } = fresh();
    await store.put("blocker", "i am a file");
    const err = await expectCode(() => store.put("blocker/child.txt", "x"), "STORE_ACCESS");
    expect(err.message).toContain("blocker/child.txt");
  });

  it.each([["is", ""], ["lies beneath", "sub"]])("reports a root that %s a file as PATH_UNUSABLE naming the file", async (_, below) => {
    const file = path.join(base, `file-root${++n}`);
    fs.writeFileSync(file, "not a directory");
    const root = path.join(file, below);
    const err = await expectCode(() => new LocalStore(root).put("plan.json", "{}"), "PATH_UNUSABLE");
    expect(err.message).toBe(`Cannot write to ${root} (key plan.json): ${file} is a file, not a directory.`);
    expect(fs.readFileSync(file, "utf8")).toBe("not a directory");
  });
});

describe("openStore", () => {
  it("opens a LocalStore for paths and file:// URIs, and an S3Store for s3:// URIs", () => {
    expect(openStore(base)).toBeInstanceOf(LocalStore);
    expect((openStore(`file://${base}`) as LocalStore).root).toBe(base);
    expect(openStore("relative/dir").uri).toBe(path.resolve("relative/dir"));
    const s3 = openStore("s3://my-bucket/some/prefix/", { region: "eu-west-1" });
    expect(s3).toBeInstanceOf(S3Store);
    expect(s3.uri).toBe("s3://my-bucket/some/prefix");
  });

  it("refuses other schemes and malformed S3 URIs with OPTIONS_INVALID", async () => {
    await expectCode(async () => openStore("gs://bucket/x"), "OPTIONS_INVALID");
    await expectCode(async () => openStore("s3://"), "OPTIONS_INVALID");
    await expectCode(async () => openStore("s3://Bad_Bucket/x"), "OPTIONS_INVALID");
    await expectCode(async () => openStore("  "), "OPTIONS_INVALID");
  });
});
