import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { cachedIdentity, userCacheDir, type IdentityReaders, type ProbeOutput } from "../../src/compas/identity-cache.js";
import { probeCompas } from "../../src/compas/probe.js";
import { cliCommand } from "../support/cli.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { withTmpfs } from "../support/tmpfs.js";

const sha256Of = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");
const PLANTED = "ab".repeat(32);

/** Readers that count their calls and hash for real (the expected hash is computed apart). */
function counting(probe: ProbeOutput = { version: "03.07.00", options: ["--number-of-systems"] }) {
  const calls = { hash: 0, probe: 0 };
  const readers: IdentityReaders = {
    hash: async (path) => {
      calls.hash++;
      return sha256Of(path);
    },
    probe: async () => {
      calls.probe++;
      return probe;
    },
  };
  return { calls, readers };
}

/** A fresh folder with a small "binary" and a cache folder. */
function setup(content = "#!/bin/sh\necho COMPAS\n") {
  const dir = mkdtempSync(join(tmpdir(), "identity-cache-"));
  const binary = join(dir, "COMPAS");
  writeFileSync(binary, content);
  chmodSync(binary, 0o755);
  return { dir, binary, cacheDir: join(dir, "cache") };
}

/** The cache entries written under a cache folder, parsed. */
function entries(cacheDir: string): { binary: string; sha256: string; probe?: ProbeOutput }[] {
  const folder = join(cacheDir, "compas-binaries");
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((n) => n.endsWith(".json"))
    .map((n) => JSON.parse(readFileSync(join(folder, n), "utf8")));
}

function entryFile(cacheDir: string): string {
  const names = readdirSync(join(cacheDir, "compas-binaries")).filter((n) => n.endsWith(".json"));
  expect(names).toHaveLength(1);
  return join(cacheDir, "compas-binaries", names[0]!);
}

describe("the cache of COMPAS binary identities", () => {
  it("hashes and probes an unchanged binary once: the next read comes from the cache", async () => {
    const { binary, cacheDir } = setup();
    const { calls, readers } = counting();
    const first = await cachedIdentity(binary, readers, { cacheDir });
    expect(first.hit).toBe(false);
    expect(first.entry.sha256).toBe(sha256Of(binary));
    expect(calls).toEqual({ hash: 1, probe: 1 });
    const second = await cachedIdentity(binary, readers, { cacheDir });
    expect(second).toEqual({ hit: true, entry: first.entry });
    expect(calls).toEqual({ hash: 1, probe: 1 });
  });

  it("reads the binary again after any change of its identity, even an edit in place with the modification time restored", async () => {
    const { dir, binary, cacheDir } = setup();
    const { calls, readers } = counting();
    await cachedIdentity(binary, readers, { cacheDir });
    let hashes = 1;
    const expectFreshRead = async (what: string) => {
      const r = await cachedIdentity(binary, readers, { cacheDir });
      expect(r.hit, what).toBe(false);
      expect(calls.hash, what).toBe(++hashes);
      expect(r.entry.sha256, what).toBe(sha256Of(binary));
      // ...and the new identity is cached in turn.
      expect((await cachedIdentity(binary, readers, { cacheDir })).hit, what).toBe(true);
    };

    execFileSync("touch", ["-m", "-d", "2001-02-03 04:05:06.123456789", binary]);
    await expectFreshRead("modification time");
    chmodSync(binary, 0o700);
    await expectFreshRead("mode (status-change time)");
    appendFileSync(binary, "# rebuilt\n");
    await expectFreshRead("size");
    const copy = join(dir, "COMPAS.new");
    copyFileSync(binary, copy);
    execFileSync("touch", ["-r", binary, copy]);
    renameSync(copy, binary);
    await expectFreshRead("inode (replaced by a copy with the same times)");

    // Same size, same inode, modification time put back to the nanosecond: only the
    // status-change time, which no program can set, tells the edit apart.
    const ref = join(dir, "times");
    writeFileSync(ref, "");
    execFileSync("touch", ["-r", binary, ref]);
    const before = statSync(binary, { bigint: true });
    const text = readFileSync(binary, "utf8");
    writeFileSync(binary, text.replace("echo COMPAS", "echo compas"));
    execFileSync("touch", ["-r", ref, binary]);
    const after = statSync(binary, { bigint: true });
    expect([after.size, after.ino, after.mtimeNs]).toEqual([before.size, before.ino, before.mtimeNs]);
    await expectFreshRead("content edited in place, mtime restored");
  });

  it("keys a binary by its real path, so every symbolic link to it shares one entry", async () => {
    const { dir, binary, cacheDir } = setup();
    const link = join(dir, "COMPAS-link");
    symlinkSync(binary, link);
    const { calls, readers } = counting();
    await cachedIdentity(link, readers, { cacheDir });
    expect((await cachedIdentity(binary, readers, { cacheDir })).hit).toBe(true);
    expect(calls.hash).toBe(1);
    expect(entries(cacheDir).map((e) => e.binary)).toEqual([binary]);
  });

  it("lives in $XDG_CACHE_HOME/compas-ensemble, else in ~/.cache/compas-ensemble", async () => {
    expect(userCacheDir({ XDG_CACHE_HOME: "/somewhere/cache" })).toBe("/somewhere/cache/compas-ensemble");
    expect(userCacheDir({})).toBe(join(homedir(), ".cache", "compas-ensemble"));
    expect(userCacheDir({ XDG_CACHE_HOME: "" })).toBe(join(homedir(), ".cache", "compas-ensemble"));

    // probeCompas without a cacheDir follows the variable of the moment.
    const { dir, binary } = setup(`#!/bin/sh\nexec ${fakeCompasPath()} "$@"\n`);
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = join(dir, "xdg");
    try {
      const probe = await probeCompas(binary);
      expect(probe.sha256).toBe(sha256Of(binary));
      expect(entries(join(dir, "xdg", "compas-ensemble"))).toMatchObject([{ binary, sha256: sha256Of(binary), probe: { version: "03.07.00" } }]);
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });

  it("ignores a corrupt entry and rewrites it", async () => {
    const { binary, cacheDir } = setup();
    const { calls, readers } = counting();
    await cachedIdentity(binary, readers, { cacheDir });
    const file = entryFile(cacheDir);
    for (const damage of ['{"schema_version": 1, "binary": ', "[]", JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), sha256: "not a hash" })]) {
      writeFileSync(file, damage);
      const r = await cachedIdentity(binary, readers, { cacheDir });
      expect(r.hit, damage).toBe(false);
      expect(r.entry.sha256).toBe(sha256Of(binary));
      expect(JSON.parse(readFileSync(file, "utf8")).sha256, damage).toBe(sha256Of(binary));
    }
    expect(calls.hash).toBe(4);
  });

  it("ignores an entry that cannot be read and replaces it", async () => {
    const { binary, cacheDir } = setup();
    const { calls, readers } = counting();
    await cachedIdentity(binary, readers, { cacheDir });
    const file = entryFile(cacheDir);
    // A symbolic link to itself: reading fails with ELOOP, for root too (unlike chmod 000).
    unlinkSync(file);
    symlinkSync(file, file);
    expect(() => readFileSync(file)).toThrow(/ELOOP/);
    const r = await cachedIdentity(binary, readers, { cacheDir });
    expect(r).toMatchObject({ hit: false, entry: { sha256: sha256Of(binary) } });
    expect(calls.hash).toBe(2);
    expect(JSON.parse(readFileSync(file, "utf8")).sha256).toBe(sha256Of(binary));
  });

  it("still answers when the cache folder is on a read-only file system, caching nothing", async () => {
    const { binary } = setup();
    await withTmpfs(1024 * 1024, async (mnt) => {
      mkdirSync(join(mnt, "cache"));
      execFileSync("mount", ["-o", "remount,ro", mnt]);
      const { calls, readers } = counting();
      for (let i = 1; i <= 2; i++) {
        const r = await cachedIdentity(binary, readers, { cacheDir: join(mnt, "cache") });
        expect(r).toMatchObject({ hit: false, entry: { sha256: sha256Of(binary) } });
        expect(calls.hash).toBe(i);
      }
      expect(readdirSync(join(mnt, "cache"))).toEqual([]);
    });
  });

  it("with cache: false reads the binary afresh although an entry matches, and stores the fresh result", async () => {
    const { binary, cacheDir } = setup();
    // An entry that says something the binary does not: believed while the identity matches.
    await cachedIdentity(binary, { hash: async () => PLANTED, probe: async () => ({ version: "9.9.9", options: ["--planted"] }) }, { cacheDir });
    const { calls, readers } = counting();
    expect((await cachedIdentity(binary, readers, { cacheDir })).entry.sha256).toBe(PLANTED);
    expect(calls).toEqual({ hash: 0, probe: 0 });
    const fresh = await cachedIdentity(binary, readers, { cacheDir, cache: false });
    expect(fresh).toMatchObject({ hit: false, entry: { sha256: sha256Of(binary), probe: { version: "03.07.00" } } });
    expect(calls).toEqual({ hash: 1, probe: 1 });
    expect(entries(cacheDir)).toMatchObject([{ sha256: sha256Of(binary) }]);
  });

  it("caches the hash alone when no probe is needed, and then probes without hashing again", async () => {
    const { binary, cacheDir } = setup();
    const { calls, readers } = counting();
    const hashOnly = await cachedIdentity(binary, readers, { cacheDir, withProbe: false });
    expect(hashOnly.entry.probe).toBeUndefined();
    expect(calls).toEqual({ hash: 1, probe: 0 });
    expect((await cachedIdentity(binary, readers, { cacheDir, withProbe: false })).hit).toBe(true);
    const probed = await cachedIdentity(binary, readers, { cacheDir });
    expect(probed).toMatchObject({ hit: false, entry: { sha256: sha256Of(binary), probe: { version: "03.07.00" } } });
    expect(calls).toEqual({ hash: 1, probe: 1 });
    expect((await cachedIdentity(binary, readers, { cacheDir })).hit).toBe(true);
  });

  it("does not cache a hash taken while the binary was being replaced", async () => {
    const { binary, cacheDir } = setup();
    const readers: IdentityReaders = {
      hash: async (path) => {
        const sum = sha256Of(path);
        appendFileSync(path, "# the build finished meanwhile\n");
        return sum;
      },
      probe: async () => ({ version: "03.07.00", options: ["--x"] }),
    };
    await cachedIdentity(binary, readers, { cacheDir });
    expect(entries(cacheDir)).toEqual([]);
  });
});

describe("probeCompas and the identity cache", () => {
  it("believes the cache for an unchanged binary and probes afresh with cache: false", async () => {
    const { binary, cacheDir } = setup(`#!/bin/sh\nexec ${fakeCompasPath()} "$@"\n`);
    await cachedIdentity(binary, { hash: async () => PLANTED, probe: async () => ({ version: "9.9.9", options: ["--planted"] }) }, { cacheDir });
    const cached = await probeCompas(binary, { cacheDir });
    expect([cached.sha256, cached.version, [...cached.options]]).toEqual([PLANTED, "9.9.9", ["--planted"]]);
    const fresh = await probeCompas(binary, { cacheDir, cache: false });
    expect([fresh.sha256, fresh.version, fresh.options.has("--number-of-systems")]).toEqual([sha256Of(binary), "03.07.00", true]);
    // The fresh answer replaced the wrong one, in memory and on disk.
    expect((await probeCompas(binary, { cacheDir })).sha256).toBe(sha256Of(binary));
    expect(entries(cacheDir)).toMatchObject([{ sha256: sha256Of(binary) }]);
  });
});

describe("compas-ensemble --no-cache", () => {
  const exec = promisify(execFile);

  it("run records the cached sha256 of an unchanged binary, and the binary's real one with --no-cache", async () => {
    const [node, ...cli] = cliCommand();
    const { dir, binary } = setup(`#!/bin/sh\nexec ${fakeCompasPath()} "$@"\n`);
    const xdg = join(dir, "xdg");
    const real = await probeCompas(fakeCompasPath(), { cacheDir: join(dir, "other-cache") });
    await cachedIdentity(binary, { hash: async () => PLANTED, probe: async () => ({ version: real.version, options: [...real.options] }) }, { cacheDir: join(xdg, "compas-ensemble") });
    const env = { ...process.env, XDG_CACHE_HOME: xdg };
    const sha = async (out: string, ...flags: string[]) => {
      const args = ["run", "--sparse", "--test-run", "--n-systems", "2", "--compas-binary", binary, "--output-dir", out, ...flags];
      await exec(node!, [...cli, ...args], { env });
      return (JSON.parse(readFileSync(join(out, "plan.json"), "utf8")) as { compas: { sha256: string } }).compas.sha256;
    };
    expect(await sha(join(dir, "cached"))).toBe(PLANTED);
    expect(await sha(join(dir, "fresh"), "--no-cache")).toBe(sha256Of(binary));
    expect(entries(join(xdg, "compas-ensemble"))).toMatchObject([{ binary, sha256: sha256Of(binary) }]);
  });
});
