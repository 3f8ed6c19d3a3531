/**
 * The behaviour every Store must show, run against LocalStore and S3Store alike.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError, type ErrorCode } from "../../src/errors.js";
import type { Store } from "../../src/store/types.js";

/** Makes a fresh, empty store for one test. */
export type StoreFactory = () => Promise<Store>;

const sha256 = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");

/**
 * Expects `fn` to reject with a CompasEnsembleError of `code`.
 * @param fn - the call
 * @param code - expected code
 */
export async function expectCode(fn: () => Promise<unknown>, code: ErrorCode): Promise<Error> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(Error);
  expect(isCompasEnsembleError(caught) ? caught.code : String(caught)).toBe(code);
  return caught as Error;
}

/**
 * Registers the shared Store behaviour tests.
 * @param label - suite name
 * @param fresh - returns a new empty store
 */
export function storeBehaviour(label: string, fresh: StoreFactory): void {
  describe(`${label}: Store behaviour`, () => {
    let scratch: string;
    beforeAll(() => {
      scratch = fs.mkdtempSync(path.join(os.tmpdir(), "store-behaviour-"));
    });
    afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

    it("returns exactly the bytes put, for buffers and strings", async () => {
      const store = await fresh();
      const bin = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
      await store.put("a/bin.dat", bin);
      await store.put("a/text.json", '{"x":"é"}');
      expect((await store.get("a/bin.dat")).equals(bin)).toBe(true);
      expect((await store.get("a/text.json")).toString("utf8")).toBe('{"x":"é"}');
    });

    it("overwrites an existing key", async () => {
      const store = await fresh();
      await store.put("k.txt", "first version, longer");
      await store.put("k.txt", "second");
      expect((await store.get("k.txt")).toString()).toBe("second");
      expect((await store.head("k.txt"))?.size).toBe(6);
    });

    it("accepts many parallel writes into one new directory", async () => {
      const store = await fresh();
      await store.put("seed.txt", "the store exists before the parallel writes start");
      const keys = Array.from({ length: 24 }, (_, i) => `new/dir/k${i}`);
      await Promise.all(keys.map((k) => store.put(k, k)));
      expect((await store.list("new/")).map((e) => e.key)).toEqual([...keys].sort());
    });

    it("reports size and existence with head/exists, and null for a missing key", async () => {
      const store = await fresh();
      await store.put("runs/r1/x.bin", Buffer.alloc(1234, 7));
      expect((await store.head("runs/r1/x.bin"))?.size).toBe(1234);
      expect(await store.exists("runs/r1/x.bin")).toBe(true);
      expect(await store.head("runs/r1/missing")).toBeNull();
      expect(await store.exists("runs/r1/missing")).toBe(false);
      // A "directory" is not an object.
      expect(await store.exists("runs/r1")).toBe(false);
    });

    it("reports the SHA-256 of content written by put and putFile", async () => {
      const store = await fresh();
      await store.put("p.txt", "hello checksum");
      const file = path.join(scratch, `pf-${label}.bin`);
      fs.writeFileSync(file, Buffer.alloc(5000, 3));
      const res = await store.putFile("pf.bin", file);
      expect(res.sha256).toBe(sha256(fs.readFileSync(file)));
      expect((await store.head("p.txt", { checksum: true }))?.sha256).toBe(sha256("hello checksum"));
      expect((await store.head("pf.bin", { checksum: true }))?.sha256).toBe(sha256(fs.readFileSync(file)));
    });

    it("lists every key under a prefix, sorted, with sizes", async () => {
      const store = await fresh();
      await store.put("runs/b/out.h5", "bb");
      await store.put("runs/a/out.h5", "a");
      await store.put("runs/a/sub/deep.log", "deep!");
      await store.put("fragments/t1.json", "{}");
      await store.put("plan.json", "{}");
      expect(await store.list()).toEqual([
        { key: "fragments/t1.json", size: 2 },
        { key: "plan.json", size: 2 },
        { key: "runs/a/out.h5", size: 1 },
        { key: "runs/a/sub/deep.log", size: 5 },
        { key: "runs/b/out.h5", size: 2 },
      ]);
      expect((await store.list("runs/a/")).map((e) => e.key)).toEqual(["runs/a/out.h5", "runs/a/sub/deep.log"]);
      expect((await store.list("runs/")).length).toBe(3);
      expect((await store.list("fragments/t")).map((e) => e.key)).toEqual(["fragments/t1.json"]);
      expect(await store.list("nothing/here/")).toEqual([]);
    });

    it("round-trips a file through putFile and getFile into a new nested path", async () => {
      const store = await fresh();
      const src = path.join(scratch, `src-${label}.bin`);
      const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256));
      fs.writeFileSync(src, body);
      await store.putFile("logs/t1.log", src);
      const out = path.join(scratch, `out-${label}`, "t1.log");
      const res = await store.getFile("logs/t1.log", out);
      expect(fs.readFileSync(out).equals(body)).toBe(true);
      expect(res).toMatchObject({ size: body.length, sha256: sha256(body) });
      // No temporary files are left next to the destination.
      expect(fs.readdirSync(path.dirname(out))).toEqual(["t1.log"]);
    });

    it("copies a file of several read chunks byte for byte both ways, with the SHA-256 that sha256sum computes", async () => {
      const store = await fresh();
      const src = path.join(scratch, `chunks-${label}.bin`);
      // 3.5 MiB: many reads of the local copy (256 KiB each) and not a multiple of them.
      fs.writeFileSync(src, randomBytes(3.5 * 2 ** 20));
      const expected = execFileSync("sha256sum", [src], { encoding: "utf8" }).split(" ")[0];
      expect((await store.putFile("runs/r/out.h5", src)).sha256).toBe(expected);
      const out = path.join(scratch, `chunks-out-${label}`, "out.h5");
      const res = await store.getFile("runs/r/out.h5", out);
      expect(res).toMatchObject({ size: 3.5 * 2 ** 20, sha256: expected });
      expect(fs.readFileSync(out).equals(fs.readFileSync(src))).toBe(true);
      expect((await store.head("runs/r/out.h5", { checksum: true }))?.sha256).toBe(expected);
    });

    it("round-trips an empty file", async () => {
      const store = await fresh();
      const src = path.join(scratch, `empty-${label}`);
      fs.writeFileSync(src, "");
      await store.putFile("empty.txt", src);
      expect((await store.head("empty.txt"))?.size).toBe(0);
      expect((await store.get("empty.txt")).length).toBe(0);
      expect((await store.list()).map((e) => e.key)).toEqual(["empty.txt"]);
    });

    it("fails getFile of a missing key with STORE_ACCESS and creates no file", async () => {
      const store = await fresh();
      const out = path.join(scratch, `missing-${label}.bin`);
      const err = await expectCode(() => store.getFile("nope/none.bin", out), "STORE_ACCESS");
      expect(err.message).toContain("nope/none.bin");
      expect(err.message).toContain(store.uri);
      expect(fs.existsSync(out)).toBe(false);
      await expectCode(() => store.get("nope/none.bin"), "STORE_ACCESS");
    });

    it("keeps the previous destination file when getFile is aborted", async () => {
      const store = await fresh();
      await store.put("big.bin", Buffer.alloc(256 * 1024, 1));
      const out = path.join(scratch, `aborted-${label}.bin`);
      fs.writeFileSync(out, "previous");
      const ctl = new AbortController();
      ctl.abort();
      await expectCode(() => store.getFile("big.bin", out, { signal: ctl.signal }), "CANCELLED");
      expect(fs.readFileSync(out, "utf8")).toBe("previous");
      expect(fs.readdirSync(scratch).filter((f) => f.includes("compas-part"))).toEqual([]);
    });

    it("deletes a key, and deleting a missing key is not an error", async () => {
      const store = await fresh();
      await store.put("d/x", "1");
      await store.put("d/y", "2");
      await store.delete("d/x");
      await store.delete("d/never-existed");
      expect(await store.exists("d/x")).toBe(false);
      expect((await store.list()).map((e) => e.key)).toEqual(["d/y"]);
    });

    it("refuses unsafe keys with STORE_KEY_UNSAFE and writes nothing", async () => {
      const store = await fresh();
      const file = path.join(scratch, `unsafe-${label}.txt`);
      fs.writeFileSync(file, "payload");
      for (const key of ["../evil", "/abs", "a/../../b", "a\\b", "nul\0byte", "", "a//b", "./x", "C:/win"]) {
        await expectCode(() => store.put(key, "payload"), "STORE_KEY_UNSAFE");
        await expectCode(() => store.putFile(key, file), "STORE_KEY_UNSAFE");
        await expectCode(() => store.get(key), "STORE_KEY_UNSAFE");
        await expectCode(() => store.getFile(key, path.join(scratch, "never")), "STORE_KEY_UNSAFE");
        await expectCode(() => store.head(key), "STORE_KEY_UNSAFE");
        await expectCode(() => store.delete(key), "STORE_KEY_UNSAFE");
      }
      expect(await store.list()).toEqual([]);
      expect(fs.existsSync(path.join(scratch, "never"))).toBe(false);
    });

    it("describes itself by its location", async () => {
      const store = await fresh();
      expect(store.describe()).toContain(store.uri);
    });
  });
}
