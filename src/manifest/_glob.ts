import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

/**
 * Files under `root` matching a relative pattern whose segments may contain `*` (any run of
 * characters within one path segment). `*` does not match a leading dot, as in shells and
 * Python's glob. Results are absolute-or-root-relative joined paths in natural order
 * (slice_2 before slice_10).
 * @param root - directory the pattern is relative to
 * @param pattern - e.g. `slice_*\/ensemble_metadata.json`
 */
export async function globFiles(root: string, pattern: string): Promise<string[]> {
  const segments = pattern.split("/").filter((s) => s !== "" && s !== ".");
  let current: string[] = [root];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    const last = i === segments.length - 1;
    const next: string[] = [];
    for (const dir of current) {
      if (!segment.includes("*")) {
        // A literal segment (also "..", which readdir never lists) needs no listing.
        const path = join(dir, segment);
        const st = await stat(path).catch(() => null);
        if (st !== null && (last ? st.isFile() : st.isDirectory())) next.push(path);
        continue;
      }
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      const re = segmentRegExp(segment);
      for (const e of entries) {
        if (!re.test(e.name)) continue;
        const path = join(dir, e.name);
        // Follow symlinks: synced slice folders are often links.
        const st = e.isSymbolicLink() ? await stat(path).catch(() => null) : e;
        if (st !== null && (last ? st.isFile() : st.isDirectory())) next.push(path);
      }
    }
    current = next.sort(naturalCompare);
  }
  return segments.length === 0 ? [] : current;
}

function segmentRegExp(segment: string): RegExp {
  const body = segment
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^/]*");
  const hidden = segment.startsWith("*") ? "(?!\\.)" : "";
  return new RegExp(`^${hidden}${body}$`);
}

/**
 * Compares strings with digit runs taken as numbers, locale-independently.
 * @param a - left
 * @param b - right
 */
export function naturalCompare(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const diff = Number(x) - Number(y);
      if (diff !== 0) return diff;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}
