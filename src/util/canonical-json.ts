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
 * Hex sha256 of {@link canonicalJson}(value), without ever holding the whole text: it is fed
 * to the hash in pieces. A plan of 10^6 tasks has over a gigabyte of canonical JSON, more
 * than a JavaScript string may hold (~512 MiB), and its copy with sorted keys would double
 * the memory; this needs neither. The bytes hashed are exactly canonicalJson's.
 * @param value - plain JSON-compatible data
 */
export function canonicalJsonSha256(value: unknown): string {
  const hash = createHash("sha256");
  let pending = "";
  const write = (text: string): void => {
    pending += text;
    if (pending.length >= 1 << 16) {
      hash.update(pending);
      pending = "";
    }
  };
  writeCanonical(value, write);
  hash.update(pending);
  return hash.digest("hex");
}

// The top-level object and its arrays are written piece by piece; anything deeper (a task,
// a run) is small and goes through canonicalJson, whose native JSON.stringify is fastest.
function writeCanonical(value: unknown, write: (text: string) => void, depth = 0): void {
  if (depth >= 2) {
    write(canonicalJson(value));
    return;
  }
  if (Array.isArray(value)) {
    write("[");
    value.forEach((v, i) => {
      if (i > 0) write(",");
      if (isOmitted(v)) write("null");
      else writeCanonical(v, write, depth + 1);
    });
    write("]");
    return;
  }
  if (value !== null && typeof value === "object") {
    // The order JSON.stringify gives the object sortKeys builds: integer-like keys first in
    // numeric order (JavaScript enumerates them so), then the others sorted.
    const sorted: Record<string, true> = {};
    for (const key of Object.keys(value).sort()) if (!isOmitted((value as Record<string, unknown>)[key])) sorted[key] = true;
    write("{");
    let first = true;
    for (const key of Object.keys(sorted)) {
      write(first ? `${JSON.stringify(key)}:` : `,${JSON.stringify(key)}:`);
      first = false;
      writeCanonical((value as Record<string, unknown>)[key], write, depth + 1);
    }
    write("}");
    return;
  }
  write(JSON.stringify(value));
}

// What JSON.stringify leaves out of objects (and writes as null in arrays).
function isOmitted(v: unknown): boolean {
  return v === undefined || typeof v === "function" || typeof v === "symbol";
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
