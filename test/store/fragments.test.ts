import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { prepareAtomicWrite } from "../../src/util/atomic-write.js";
import { readManifest, readPlan, writeManifest, writePlan } from "../../src/store/ensemble-files.js";
import { readFragments, writeFragment } from "../../src/store/fragments.js";
import { fragmentKey } from "../../src/store/keys.js";
import { mergeMetadata } from "../../src/manifest/merge.js";
import { nextAttempt } from "../../src/manifest/resume.js";
import { makeFragment, makePlan } from "../manifest/_fixtures.js";

const root = mkdtempSync(join(tmpdir(), "ce-fragments-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const plan = makePlan({ runs: 2 });
const id = plan.runs[0]?.run_id as string;

describe("fragment files", () => {
  it("writes each attempt to its own fragments/<task_id>.a<attempt>.json and reads them back", async () => {
    const dir = join(root, "roundtrip");
    const a1 = makeFragment(plan, id, { attempt: 1, status: "failed" });
    const a2 = makeFragment(plan, id, { attempt: 2 });
    expect(await writeFragment(dir, a1)).toBe(join(dir, "fragments", `${id}.a1.json`));
    await writeFragment(dir, a2);
    expect(readdirSync(join(dir, "fragments")).sort()).toEqual([`${id}.a1.json`, `${id}.a2.json`]);
    const { fragments, invalid } = await readFragments(dir);
    expect(invalid).toEqual([]);
    expect(fragments).toEqual([a1, a2]);
    expect(nextAttempt(id, fragments)).toBe(3);
    expect(nextAttempt(plan.runs[1]?.run_id as string, fragments)).toBe(1);
  });

  it("refuses to replace an attempt's fragment with different content", async () => {
    const dir = join(root, "no-overwrite");
    const first = makeFragment(plan, id, { attempt: 1, status: "failed" });
    await writeFragment(dir, first);
    await writeFragment(dir, first);
    await expect(writeFragment(dir, makeFragment(plan, id, { attempt: 1 }))).rejects.toSatisfy((e) =>
      isCompasEnsembleError(e, "METADATA_CONFLICT"),
    );
    const { fragments } = await readFragments(dir);
    expect(fragments).toEqual([first]);
  });

  it("reports hand-edited, misnamed and invalid files instead of failing, and skips temp files", async () => {
    const dir = join(root, "invalid");
    const good = makeFragment(plan, id);
    await writeFragment(dir, good);
    const folder = join(dir, "fragments");
    writeFileSync(join(folder, "broken.a1.json"), '{"schema_version": 1, "task_id": ');
    writeFileSync(join(folder, "wrong.a1.json"), JSON.stringify({ ...good, status: "done" }));
    writeFileSync(join(folder, "renamed.a7.json"), JSON.stringify(good));
    writeFileSync(join(folder, "notes.json"), "{}");
    writeFileSync(join(folder, "README.txt"), "not a fragment");
    await prepareAtomicWrite(join(folder, `${id}.a2.json`), "{ partial");
    const { fragments, invalid } = await readFragments(dir);
    expect(fragments).toEqual([good]);
    const reasons = Object.fromEntries(invalid.map((i) => [i.file, i.reason]));
    expect(Object.keys(reasons).sort()).toEqual([
      "fragments/broken.a1.json",
      "fragments/notes.json",
      "fragments/renamed.a7.json",
      "fragments/wrong.a1.json",
    ]);
    expect(reasons["fragments/broken.a1.json"]).toMatch(/not valid JSON/);
    expect(reasons["fragments/wrong.a1.json"]).toMatch(/^not a valid fragment: status/);
    expect(reasons["fragments/renamed.a7.json"]).toMatch(/does not match the file name/);
  });

  it("finds no fragments in a directory that has none yet", async () => {
    expect(await readFragments(join(root, "nothing-here"))).toEqual({ fragments: [], invalid: [] });
  });

  it("rejects task ids that would escape the fragments folder with STORE_KEY_UNSAFE", () => {
    for (const bad of ["../x", "a/b", ".hidden", ""]) {
      expect(() => fragmentKey(bad, 1)).toThrow(expect.objectContaining({ code: "STORE_KEY_UNSAFE" }));
    }
  });
});

describe("plan and manifest files", () => {
  it("round-trips the plan and says null when there is none", async () => {
    const dir = join(root, "plan");
    expect(await readPlan(dir)).toBeNull();
    await writePlan(dir, plan);
    expect(await readPlan(dir)).toEqual(plan);
  });

  it("names the file and field of an invalid plan", async () => {
    const dir = join(root, "bad-plan");
    await writePlan(dir, plan);
    const text = JSON.parse(readFileSync(join(dir, "plan.json"), "utf8"));
    text.tasks[1].seed = -4;
    writeFileSync(join(dir, "plan.json"), JSON.stringify(text));
    await expect(readPlan(dir)).rejects.toSatisfy(
      (e) =>
        isCompasEnsembleError(e, "METADATA_INVALID") &&
        (e as Error).message.includes(join(dir, "plan.json")) &&
        (e as Error).message.includes("tasks[1].seed"),
    );
  });

  it("writes the merged manifest as ensemble_metadata.json and reads it back", async () => {
    const dir = join(root, "manifest");
    const manifest = mergeMetadata([makeFragment(plan, id)], plan);
    await writeManifest(dir, manifest);
    expect(readdirSync(dir)).toEqual(["ensemble_metadata.json"]);
    expect(await readManifest(dir)).toEqual(manifest);
  });
});
