import path from "node:path";
import { describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { assertSafeKey, isInside, isSafeKey, keyToLocalPath, unsafeKeyReason } from "../../src/store/safe-keys.js";

const root = path.resolve("/data/dest");

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isCompasEnsembleError(err) ? err.code : String(err);
  }
  return undefined;
}

describe("store keys", () => {
  it.each([
    ["../evil", /'\.\.'/],
    ["/abs", /absolute/],
    ["a/../../b", /'\.\.'/],
    ["..", /'\.\.'/],
    ["a/..", /'\.\.'/],
    ["a\\b", /backslash/],
    ["..\\evil", /backslash/],
    ["x\0y", /NUL/],
    ["", /empty/],
    ["a//b", /empty segment/],
    ["a/", /empty segment/],
    ["./a", /'\.'/],
    ["C:/Windows/x", /drive letter/],
  ])("refuses %j with STORE_KEY_UNSAFE (%s)", (key, reason) => {
    expect(unsafeKeyReason(key)).toMatch(reason);
    expect(isSafeKey(key)).toBe(false);
    expect(codeOf(() => assertSafeKey(key, "s3://b/p"))).toBe("STORE_KEY_UNSAFE");
    expect(codeOf(() => keyToLocalPath(root, key))).toBe("STORE_KEY_UNSAFE");
  });

  it.each(["plan.json", "runs/r1/COMPAS_Output/COMPAS_Output.h5", "a/..b/c..", "...", "with space/é.txt", ".hidden"])(
    "maps the safe key %j strictly inside the root",
    (key) => {
      expect(isSafeKey(key)).toBe(true);
      const p = keyToLocalPath(root, key);
      expect(isInside(root, p)).toBe(true);
      expect(p).toBe(path.join(root, ...key.split("/")));
    },
  );

  it("names the key and the location in the refusal", () => {
    try {
      assertSafeKey("../evil", "s3://bucket/prefix");
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toContain('"../evil"');
      expect((err as Error).message).toContain("s3://bucket/prefix");
    }
  });

  it("treats a sibling with a '..'-prefixed name as inside, and the root itself as not inside", () => {
    expect(isInside(root, path.join(root, "..x"))).toBe(true);
    expect(isInside(root, root)).toBe(false);
    expect(isInside(root, path.dirname(root))).toBe(false);
    expect(isInside(root, `${root}-sibling/x`)).toBe(false);
  });
});
