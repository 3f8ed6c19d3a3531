import { statSync } from "node:fs";
import type { DcoType } from "../physics/dco-table.js";
import { BSE_GROUPS, ColumnReader, readColumnsFrom } from "./read.js";
import { runDetail, runDetailFlag } from "./run-details.js";

/** One group of the file as {@link inspect} reports it. */
export interface InspectGroup {
  name: string;
  /** Rows (length of SEED); for Run_Details, the number of options recorded. */
  rows: number;
  columns: number;
}

/** DCO counts of one kind (all, or merging). */
export interface DcoCounts {
  total: number;
  BBH: number;
  BHNS: number;
  BNS: number;
  /** Rows whose stellar types are not NS/BH (none in COMPAS output; counted, not hidden). */
  other: number;
}

/** What {@link inspect} returns: a quick, h5view-like look at a COMPAS_Output.h5. */
export interface InspectResult {
  path: string;
  bytes: number;
  compasVersion: string | null;
  /** `--rlof-printing` as recorded in Run_Details (null when not recorded). */
  rlofPrinting: boolean | null;
  /** Rows of Run_Details' `number-of-systems`/`Objects-Requested`, when recorded. */
  systemsRequested: number | null;
  /** Groups at the root: the BSE groups present (COMPAS order), then any others. */
  groups: InspectGroup[];
  dco: DcoCounts;
  /** DCOs with COMPAS's Merges_Hubble_Time = 1. */
  merging: DcoCounts;
}

const zero = (): DcoCounts => ({ total: 0, BBH: 0, BHNS: 0, BNS: 0, other: 0 });

function typeOf(t1: number, t2: number): DcoType | "other" {
  if (t1 === 14 && t2 === 14) return "BBH";
  if (t1 === 13 && t2 === 13) return "BNS";
  if ((t1 === 13 && t2 === 14) || (t1 === 14 && t2 === 13)) return "BHNS";
  return "other";
}

/**
 * Summarises a COMPAS_Output.h5: groups with rows and columns, COMPAS version, DCO counts by
 * type and how many merge within a Hubble time (COMPAS's flag). A missing group is simply
 * absent; missing, truncated and corrupt files fail with HDF5_UNREADABLE.
 * @param path - COMPAS_Output.h5
 */
export async function inspect(path: string): Promise<InspectResult> {
  const reader = await ColumnReader.open(path);
  try {
    const present = new Set(reader.rootNames());
    const ordered = [...BSE_GROUPS.filter((g) => present.has(g)), ...[...present].filter((g) => !(BSE_GROUPS as readonly string[]).includes(g)).sort()];
    const groups: InspectGroup[] = ordered
      .filter((g) => reader.hasGroup(g))
      .map((name) => {
        const columns = reader.columnNames(name);
        const rows = name === "Run_Details" ? columns.filter((c) => !c.endsWith("-Derivation")).length : reader.groupRows(name);
        return { name, rows, columns: columns.length };
      });
    const dco = zero();
    const merging = zero();
    if (reader.hasGroup("BSE_Double_Compact_Objects")) {
      const cols = readColumnsFrom(reader, "BSE_Double_Compact_Objects", ["Stellar_Type(1)", "Stellar_Type(2)", "Merges_Hubble_Time"]);
      const t1 = cols["Stellar_Type(1)"] as Int32Array;
      const t2 = cols["Stellar_Type(2)"] as Int32Array;
      const merges = cols.Merges_Hubble_Time as Uint8Array;
      for (let i = 0; i < t1.length; i++) {
        const type = typeOf(t1[i] as number, t2[i] as number);
        dco.total++;
        dco[type]++;
        if (merges[i] === 1) {
          merging.total++;
          merging[type]++;
        }
      }
    }
    const version = runDetail(reader, "COMPAS-Version");
    const requested = runDetail(reader, "Objects-Requested") ?? runDetail(reader, "number-of-systems");
    return {
      path,
      bytes: statSync(path).size,
      compasVersion: typeof version === "string" ? version : null,
      rlofPrinting: runDetailFlag(reader, "rlof-printing"),
      systemsRequested: typeof requested === "number" ? requested : null,
      groups,
      dco,
      merging,
    };
  } finally {
    reader.close();
  }
}
