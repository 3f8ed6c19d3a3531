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

/**
 * Plain-text rendering of {@link inspect}'s result for the CLI (`compas-ensemble inspect`).
 * @param result - from {@link inspect}
 */
export function formatInspect(result: InspectResult): string {
  const lines: string[] = [];
  lines.push(`${result.path} (${result.bytes.toLocaleString("en-US")} bytes)`);
  const meta = [
    `COMPAS ${result.compasVersion ?? "version unknown"}`,
    result.systemsRequested === null ? null : `${result.systemsRequested} systems requested`,
    result.rlofPrinting === null ? null : `--rlof-printing ${result.rlofPrinting ? "TRUE" : "FALSE"}`,
  ].filter((x) => x !== null);
  lines.push(meta.join(", "));
  lines.push("");
  const width = Math.max(5, ...result.groups.map((g) => g.name.length));
  lines.push(`${"group".padEnd(width)}  ${"rows".padStart(10)}  ${"columns".padStart(7)}`);
  for (const g of result.groups) {
    const rows = g.name === "Run_Details" ? `${g.rows} opts` : String(g.rows);
    lines.push(`${g.name.padEnd(width)}  ${rows.padStart(10)}  ${String(g.columns).padStart(7)}`);
  }
  if (!result.groups.some((g) => g.name === "BSE_RLOF")) {
    lines.push("(no BSE_RLOF: formation channels need COMPAS's --rlof-printing TRUE)");
  }
  lines.push("");
  const row = (label: string, c: DcoCounts) =>
    `${label.padEnd(8)} ${String(c.total).padStart(6)} ${String(c.BBH).padStart(6)} ${String(c.BHNS).padStart(6)} ${String(c.BNS).padStart(6)}${c.other > 0 ? `  (+${c.other} other)` : ""}`;
  lines.push(`${"DCOs".padEnd(8)} ${"total".padStart(6)} ${"BBH".padStart(6)} ${"BHNS".padStart(6)} ${"BNS".padStart(6)}`);
  lines.push(row("all", result.dco));
  lines.push(row("merging", result.merging));
  lines.push("(merging = COMPAS's Merges_Hubble_Time: coalescence time below 14021.28 Myr)");
  return lines.join("\n");
}
