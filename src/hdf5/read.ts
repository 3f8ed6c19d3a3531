import { ColumnReader, type NumericArray } from "./_columns.js";

export { ColumnReader } from "./_columns.js";
export type { ColumnInfo, NumericArray } from "./_columns.js";

/** The BSE groups COMPAS writes to COMPAS_Output.h5 (each only when it has rows). */
export const BSE_GROUPS = [
  "BSE_System_Parameters",
  "BSE_Double_Compact_Objects",
  "BSE_Supernovae",
  "BSE_Common_Envelopes",
  "BSE_RLOF",
] as const;

/** Name of a BSE group. */
export type BseGroup = (typeof BSE_GROUPS)[number];

/** Element types of COMPAS columns (docs/compas.md, "Output file layout"). */
export type CompasDtype = "float64" | "int32" | "uint32" | "uint8" | "uint64" | "string";

/**
 * Types of the columns the library reads, as COMPAS v03.07.00 writes them. Reading one of
 * these through {@link readColumns} always yields this type (converted if a file stores it
 * differently), so code can rely on it.
 */
export const COMPAS_COLUMNS = {
  BSE_System_Parameters: {
    SEED: "uint64",
    "Mass@ZAMS(1)": "float64",
    "Mass@ZAMS(2)": "float64",
    "SemiMajorAxis@ZAMS": "float64",
    "Eccentricity@ZAMS": "float64",
    "Metallicity@ZAMS(1)": "float64",
    "Stellar_Type(1)": "int32",
    "Stellar_Type(2)": "int32",
    "CH_on_MS(1)": "uint8",
    "CH_on_MS(2)": "uint8",
    Evolution_Status: "int32",
    Error: "int32",
    Unbound: "uint8",
    Merger: "uint8",
  },
  BSE_Double_Compact_Objects: {
    SEED: "uint64",
    "Mass(1)": "float64",
    "Mass(2)": "float64",
    "Stellar_Type(1)": "int32",
    "Stellar_Type(2)": "int32",
    Time: "float64",
    Coalescence_Time: "float64",
    Merges_Hubble_Time: "uint8",
    "SemiMajorAxis@DCO": "float64",
    "Eccentricity@DCO": "float64",
  },
  BSE_Supernovae: {
    SEED: "uint64",
    Time: "float64",
    Supernova_State: "int32",
    "Stellar_Type(SN)": "int32",
    "Stellar_Type_Prev(SN)": "int32",
    "Stellar_Type(CP)": "int32",
    "SemiMajorAxis<SN": "float64",
    SemiMajorAxis: "float64",
    "Mass_Total@CO(SN)": "float64",
    "Mass(SN)": "float64",
    "Mass(CP)": "float64",
    SN_Orbit_Inclination_Angle: "float64",
    Unbound: "uint8",
    "MT_Donor_Hist(SN)": "string",
  },
  BSE_Common_Envelopes: {
    SEED: "uint64",
    Time: "float64",
    CE_Event_Counter: "uint32",
    "Stellar_Type(1)<CE": "int32",
    "Stellar_Type(2)<CE": "int32",
    Double_Core_CE: "uint8",
    Optimistic_CE: "uint8",
    "Immediate_RLOF>CE": "uint8",
    Merger: "uint8",
  },
  BSE_RLOF: {
    SEED: "uint64",
    MT_Event_Counter: "uint32",
    "Time<MT": "float64",
    "Time>MT": "float64",
    "Stellar_Type(1)<MT": "int32",
    "Stellar_Type(2)<MT": "int32",
    "Stellar_Type(1)>MT": "int32",
    "Stellar_Type(2)>MT": "int32",
    "RLOF(1)<MT": "uint8",
    "RLOF(1)>MT": "uint8",
    "RLOF(2)<MT": "uint8",
    "RLOF(2)>MT": "uint8",
    "CEE>MT": "uint8",
    "Mass(1)<MT": "float64",
    "Mass(1)>MT": "float64",
    "Mass(2)<MT": "float64",
    "Mass(2)>MT": "float64",
  },
} as const satisfies Record<BseGroup, Record<string, CompasDtype>>;

/** Known columns of a BSE group. */
export type CompasColumn<G extends BseGroup> = keyof (typeof COMPAS_COLUMNS)[G] & string;

/** The array type a COMPAS dtype name is read into. */
export type ArrayOf<D extends CompasDtype> = D extends "float64"
  ? Float64Array
  : D extends "int32"
    ? Int32Array
    : D extends "uint32"
      ? Uint32Array
      : D extends "uint8"
        ? Uint8Array
        : D extends "uint64"
          ? BigUint64Array
          : string[];

/** Columns as read: typed arrays for numbers, string arrays for fixed-length strings. */
export type ColumnValues = NumericArray | string[];

/** Options of {@link readColumns}. */
export interface ReadColumnsOptions {
  /** Rows [start, end) only (clamped to the group's length); whole columns when omitted. */
  slice?: readonly [number, number];
}

const CTORS = {
  float64: Float64Array,
  int32: Int32Array,
  uint32: Uint32Array,
  uint8: Uint8Array,
  uint64: BigUint64Array,
} as const;

/**
 * Reads columns of one group. Known COMPAS columns ({@link COMPAS_COLUMNS}) come back in their
 * documented type; other columns in the file's own type. A missing group is zero rows (empty
 * arrays); a missing column is HDF5_COLUMN_MISSING; a compressed column h5wasm cannot decode
 * is HDF5_UNREADABLE. Whole columns are held in memory: for very large groups pass `slice`,
 * or use {@link ColumnReader} / `extractDcos`, which scan in bounded memory.
 * @param path - COMPAS_Output.h5
 * @param group - BSE group (or any group of 1-D datasets)
 * @param columns - dataset names
 * @param options - `slice`: rows [start, end)
 */
export async function readColumns<G extends BseGroup, C extends CompasColumn<G>>(
  path: string,
  group: G,
  columns: readonly C[],
  options?: ReadColumnsOptions,
): Promise<{ [K in C]: ArrayOf<(typeof COMPAS_COLUMNS)[G][K] & CompasDtype> }>;
export async function readColumns(
  path: string,
  group: string,
  columns: readonly string[],
  options?: ReadColumnsOptions,
): Promise<Record<string, ColumnValues>>;
export async function readColumns(
  path: string,
  group: string,
  columns: readonly string[],
  options: ReadColumnsOptions = {},
): Promise<Record<string, ColumnValues>> {
  const reader = await ColumnReader.open(path);
  try {
    return readColumnsFrom(reader, group, columns, options);
  } finally {
    reader.close();
  }
}

/**
 * {@link readColumns} on an already open file.
 * @param reader - open file
 * @param group - group name
 * @param columns - dataset names
 * @param options - `slice`: rows [start, end)
 */
export function readColumnsFrom(
  reader: ColumnReader,
  group: string,
  columns: readonly string[],
  options: ReadColumnsOptions = {},
): Record<string, ColumnValues> {
  const known = (COMPAS_COLUMNS as Record<string, Record<string, CompasDtype>>)[group] ?? {};
  const out: Record<string, ColumnValues> = {};
  if (!reader.hasGroup(group)) {
    for (const c of columns) {
      const dtype = known[c];
      out[c] = dtype === "string" ? [] : new (dtype === undefined ? Float64Array : CTORS[dtype])(0);
    }
    return out;
  }
  // Check every column before reading any, so that a missing one fails fast.
  const infos = columns.map((c) => reader.info(group, c));
  for (const info of infos) {
    const rows = info.rows;
    const start = Math.min(Math.max(0, options.slice?.[0] ?? 0), rows);
    const end = Math.max(start, Math.min(rows, options.slice?.[1] ?? rows));
    const dtype = known[info.name];
    if (info.ctor === null) {
      out[info.name] = reader.readStrings(info, start, end - start);
      continue;
    }
    const wanted = dtype === undefined || dtype === "string" ? info.ctor : CTORS[dtype];
    out[info.name] = reader.readNumeric(info, start, end - start, new wanted(end - start));
  }
  return out;
}

/**
 * Rows per BSE group of a COMPAS file. Groups COMPAS did not create (no rows) are absent.
 * @param path - COMPAS_Output.h5
 */
export async function groupRowCounts(path: string): Promise<Record<string, number>> {
  const reader = await ColumnReader.open(path);
  try {
    const counts: Record<string, number> = {};
    for (const g of BSE_GROUPS) if (reader.hasGroup(g)) counts[g] = reader.groupRows(g);
    return counts;
  } finally {
    reader.close();
  }
}

/**
 * Opens a COMPAS file for repeated bounded-memory reads; close it when done.
 * @param path - COMPAS_Output.h5
 */
export function openCompasFile(path: string): Promise<ColumnReader> {
  return ColumnReader.open(path);
}
