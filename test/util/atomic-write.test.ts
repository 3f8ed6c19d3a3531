import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { isTempName, prepareAtomicWrite, writeFileAtomic, writeJsonAtomic } from "../../src/util/atomic-write.js";

const root = mkdtempSync(join(tmpdir(), "ce-atomic-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("atomic writes", () => {
  it("writes pretty JSON and leaves no temp file behind", async () => {
    const dir = join(root, "clean");
    const path = join(dir, "a.json");
    for (let i = 0; i < 20; i++) await writeJsonAtomic(path, { i, list: Array.from({ length: 100 }, (_, k) => k * i) });
    expect(JSON.parse(readFileSync(path, "utf8")).i).toBe(19);
    expect(readFileSync(path, "utf8").endsWith("}\n")).toBe(true);
    expect(readdirSync(dir)).toEqual(["a.json"]);
  });

  it("keeps the old file intact when a write stops between temp file and rename", async () => {
    const dir = join(root, "crash");
    const path = join(dir, "ensemble_metadata.json");
    await writeJsonAtomic(path, { version: "old" });
    const big = { version: "new", pad: "x".repeat(1_000_000) };
    const prepared = await prepareAtomicWrite(path, JSON.stringify(big));
    // The "crash": the temp file is complete on disk but never renamed.
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ version: "old" });
    expect(readdirSync(dir).sort()).toEqual([basename(prepared.tempPath), "ensemble_metadata.json"].sort());
    expect(dirname(prepared.tempPath)).toBe(dir);
    expect(isTempName(basename(prepared.tempPath))).toBe(true);
    await prepared.abort();
    expect(readdirSync(dir)).toEqual(["ensemble_metadata.json"]);
    // A later write still succeeds and replaces the file completely.
    await writeJsonAtomic(path, big);
    expect(JSON.parse(readFileSync(path, "utf8")).pad.length).toBe(1_000_000);
  });

  it("never replaces an existing file when overwrite is false, unless the bytes are identical", async () => {
    const path = join(root, "once", "f.json");
    await writeFileAtomic(path, "first\n", { overwrite: false });
    await writeFileAtomic(path, "first\n", { overwrite: false });
    await expect(writeFileAtomic(path, "second\n", { overwrite: false })).rejects.toSatisfy((e) =>
      isCompasEnsembleError(e, "METADATA_CONFLICT"),
    );
    expect(readFileSync(path, "utf8")).toBe("first\n");
    expect(readdirSync(join(root, "once"))).toEqual(["f.json"]);
  });

  it("fails with PATH_UNUSABLE naming the path and the file that stands where a directory must be", async () => {
    const blocker = join(root, "blocker");
    writeFileSync(blocker, "a file, not a directory");
    const path = join(blocker, "x.json");
    await expect(writeJsonAtomic(path, {})).rejects.toSatisfy(
      (e) =>
        isCompasEnsembleError(e, "PATH_UNUSABLE") &&
        (e as Error).message === `Cannot write to ${path}: ${blocker} is a file, not a directory.`,
    );
  });
});
