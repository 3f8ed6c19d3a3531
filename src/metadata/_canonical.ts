import { createHash } from "node:crypto";

/**
 * JSON with object keys sorted at every level, so that equal data gives equal text whatever
 * order its keys were built in. `undefined` members are dropped, as JSON.stringify does.
 * @param value - plain JSON-compatible data
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortKeys(v)));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/**
 * Hex sha256 of a string (UTF-8) or bytes.
 * @param data - what to hash
 */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Total order on strings by UTF-16 code units, independent of the process locale.
 * @param a - left
 * @param b - right
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
