import type { ColumnReader } from "./_columns.js";

/**
 * One value of COMPAS's Run_Details group (datasets of shape (1,) named like the option, e.g.
 * `rlof-printing`, `COMPAS-Version`): a number, a string with COMPAS's quotes and padding
 * removed, or null when the group or dataset is absent or empty.
 * @param reader - open file
 * @param name - dataset name in Run_Details
 */
export function runDetail(reader: ColumnReader, name: string): number | string | null {
  if (!reader.hasColumn("Run_Details", name)) return null;
  const info = reader.info("Run_Details", name);
  if (info.rows < 1) return null;
  if (info.ctor === null) {
    const s = reader.readStrings(info, 0, 1)[0] ?? "";
    return s.trim().replace(/^'(.*)'$/, "$1");
  }
  const v = reader.readNumeric(info, 0, 1)[0];
  return typeof v === "bigint" ? Number(v) : (v ?? null);
}

/**
 * Whether COMPAS was run with a boolean option on, from Run_Details (null when not recorded).
 * @param reader - open file
 * @param name - option name without dashes, e.g. `rlof-printing`
 */
export function runDetailFlag(reader: ColumnReader, name: string): boolean | null {
  const v = runDetail(reader, name);
  if (v === null) return null;
  if (typeof v === "number") return v !== 0;
  return /^(true|1|yes|on)$/i.test(v);
}
