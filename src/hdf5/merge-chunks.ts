import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { replaceAtomicallySync, tempPathFor } from "../util/atomic-write.js";
import { dirname, join } from "node:path";
import type * as H5 from "h5wasm";
import { CompasEnsembleError } from "../errors.js";
import { loadH5wasm, openH5Read, openH5Write, type H5Module } from "./h5wasm.js";
import { RUN_DETAILS_RULES, combineRunDetail, mergeRunDetailsText } from "./_merge-run-details.js";

export { mergeRunDetailsText } from "./_merge-run-details.js";

/** Options of {@link mergeChunkOutputs}. */
export interface MergeChunkOptions {
  /**
   * COMPAS's --hdf5-chunk-size for the merged file. Default: the first chunk's
   * `hdf5-chunk-size` Run_Details entry, else COMPAS's default 100000. As in COMPAS, runs of
   * fewer than 1000 systems use 1000, and no chunk is shorter than 1000.
   */
  hdf5ChunkSize?: number;
  /** Rows read and written per step; bounds memory to about this many values per column. */
  sliceRows?: number;
}

/** What {@link mergeChunkOutputs} wrote. */
export interface MergeResult {
  /** The merged COMPAS_Output.h5. */
  outPath: string;
  /** Rows per BSE group in the merged file; groups absent from every chunk are absent here. */
  rows: Record<string, number>;
  /** Rows of BSE_System_Parameters: the number of binaries in the merged run. */
  systems: number;
  /** Run_Details Objects-Requested and Objects-Created, summed over the chunks. */
  objectsRequested: number;
  objectsCreated: number;
  /** Chunk length of the merged BSE datasets. */
  chunkSize: number;
  /** Size of the merged file in bytes. */
  bytes: number;
  /** The merged Run_Details text file, or null when not every chunk had one beside it. */
  runDetailsTextPath: string | null;
}

const RUN_DETAILS = "Run_Details";
const DEFAULT_CHUNK = 100_000;
const MIN_CHUNK = 1000;
const DEFAULT_SLICE_ROWS = 1 << 16;

interface ColumnInfo {
  name: string;
  dtype: string;
  rows: number;
}

interface GroupInfo {
  columns: ColumnInfo[];
  rows: number;
}

interface ChunkInfo {
  path: string;
  file: H5.File;
  groups: Map<string, GroupInfo>;
}

/**
 * Merges the COMPAS_Output.h5 files of one run's chunks (chunk outputs of consecutive seed
 * ranges) into one COMPAS_Output.h5 equal to the unchunked run's: every BSE group's rows in
 * seed order with dtypes and `units` kept, chunked and resizable like COMPAS's datasets, and
 * a Run_Details group combining the chunks' (see {@link mergeRunDetailsText} for the rules).
 * A group missing from some chunks (COMPAS creates a group at its first row) is merged from
 * the others. The Run_Details text files beside the chunks, when every chunk has one, are
 * merged into `Run_Details` beside `outPath`.
 * The output is written under a temporary name and renamed into place, so `outPath` is
 * either absent or complete.
 * @param chunkPaths - the chunks' COMPAS_Output.h5 files, in seed order
 * @param outPath - the merged file; its directory is created if needed
 * @param options - chunk size of the merged datasets; slice length
 * @returns row counts, summed Objects-Requested/Created, chunk size and file size
 * @throws CompasEnsembleError HDF5_UNREADABLE for a missing, truncated or corrupt chunk;
 *   PLAN_MISMATCH when the chunks are not in ascending, disjoint seed order or disagree on a
 *   group's columns; OUTPUT_INCOMPLETE when a chunk has no Run_Details group
 */
export async function mergeChunkOutputs(
  chunkPaths: readonly string[],
  outPath: string,
  options: MergeChunkOptions = {},
): Promise<MergeResult> {
  if (chunkPaths.length === 0) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `mergeChunkOutputs for ${outPath} was given no chunk files; pass at least one COMPAS_Output.h5.`);
  }
  const sliceRows = options.sliceRows ?? DEFAULT_SLICE_ROWS;
  if (!Number.isInteger(sliceRows) || sliceRows < 1) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `sliceRows ${sliceRows} is not a positive integer; pass e.g. 65536.`);
  }
  if (options.hdf5ChunkSize !== undefined && (!Number.isInteger(options.hdf5ChunkSize) || options.hdf5ChunkSize < 1)) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `hdf5ChunkSize ${options.hdf5ChunkSize} is not a positive integer; pass the --hdf5-chunk-size the chunks were run with.`,
    );
  }
  const h5 = await loadH5wasm();
  const chunks: ChunkInfo[] = [];
  const tmpPath = tempPathFor(outPath);
  // Read (and validate) the text files first, so that a bad one fails before anything is written.
  const runDetailsText = mergedRunDetailsText(chunkPaths);
  try {
    for (const path of chunkPaths) {
      // Registered before the survey, so that the finally block closes it if the survey throws.
      const chunk: ChunkInfo = { path, file: await openH5Read(path), groups: new Map() };
      chunks.push(chunk);
      chunk.groups = surveyGroups(h5, chunk.file, path);
    }
    const groupNames = unionGroups(chunks);
    checkSeedOrder(h5, chunks, groupNames, sliceRows);
    const firstRd = requireRunDetails(h5, chunks);
    const systems = chunks.reduce((s, c) => s + (c.groups.get("BSE_System_Parameters")?.rows ?? 0), 0);
    const chunkSize = mergedChunkSize(options.hdf5ChunkSize ?? readChunkOption(h5, firstRd) ?? DEFAULT_CHUNK, systems);

    mkdirSync(dirname(outPath), { recursive: true });
    const out = await openH5Write(tmpPath);
    const rows: Record<string, number> = {};
    let objects: { requested: number; created: number };
    try {
      for (const group of groupNames) {
        const total = chunks.reduce((s, c) => s + (c.groups.get(group)?.rows ?? 0), 0);
        if (total === 0) continue;
        copyGroup(h5, chunks, group, out.create_group(group), chunkSize, sliceRows);
        rows[group] = total;
      }
      objects = writeRunDetails(h5, chunks, out.create_group(RUN_DETAILS));
    } finally {
      out.close();
    }
    renameSync(tmpPath, outPath);
    const runDetailsTextPath = runDetailsText === null ? null : writeRunDetailsText(runDetailsText, outPath);
    return {
      outPath,
      rows,
      systems,
      objectsRequested: objects.requested,
      objectsCreated: objects.created,
      chunkSize,
      bytes: statSync(outPath).size,
      runDetailsTextPath,
    };
  } finally {
    for (const c of chunks) c.file.close();
    rmSync(tmpPath, { force: true });
  }
}

/** COMPAS's rule: chunks of --hdf5-chunk-size, but 1000 for runs under 1000 systems and never less. */
function mergedChunkSize(requested: number, systems: number): number {
  return systems < MIN_CHUNK ? MIN_CHUNK : Math.max(MIN_CHUNK, requested);
}

function isDataset(h5: H5Module, e: unknown): e is H5.Dataset {
  return e instanceof h5.Dataset;
}

function isGroup(h5: H5Module, e: unknown): e is H5.Group {
  return e instanceof h5.Group;
}

/** Lists each row group (every root group but Run_Details) with its columns and row count. */
function surveyGroups(h5: H5Module, file: H5.File, path: string): Map<string, GroupInfo> {
  const groups = new Map<string, GroupInfo>();
  for (const name of file.keys()) {
    if (name === RUN_DETAILS) continue;
    const g = file.get(name);
    if (!isGroup(h5, g)) continue;
    const columns: ColumnInfo[] = [];
    for (const col of g.keys()) {
      const ds = g.get(col);
      if (!isDataset(h5, ds)) continue;
      const shape = ds.shape ?? [];
      if (shape.length !== 1) {
        throw new CompasEnsembleError("HDF5_UNREADABLE", `Dataset ${name}/${col} in ${path} has shape [${shape.join(", ")}], not one column.`, {
          hint: "Only COMPAS_Output.h5 files (1-D columns per group) can be merged.",
        });
      }
      columns.push({ name: col, dtype: String(ds.dtype), rows: Number(shape[0]) });
    }
    const lengths = new Set(columns.map((c) => c.rows));
    if (lengths.size > 1) {
      throw new CompasEnsembleError(
        "HDF5_UNREADABLE",
        `Group ${name} in ${path} has columns of different lengths (${[...lengths].join(", ")}); the file is damaged.`,
        { hint: "Rerun the chunk that wrote it." },
      );
    }
    groups.set(name, { columns, rows: columns[0]?.rows ?? 0 });
  }
  return groups;
}

/** Every row group of any chunk, sorted, after checking that chunks agree on its columns. */
function unionGroups(chunks: ChunkInfo[]): string[] {
  const names = new Set<string>();
  for (const c of chunks) for (const g of c.groups.keys()) names.add(g);
  for (const group of names) {
    let ref: { path: string; sig: string } | undefined;
    for (const c of chunks) {
      const info = c.groups.get(group);
      if (!info) continue;
      const sig = info.columns.map((col) => `${col.name}:${col.dtype}`).sort().join(",");
      if (ref && ref.sig !== sig) {
        throw new CompasEnsembleError(
          "PLAN_MISMATCH",
          `Group ${group} has different columns or dtypes in ${ref.path} and ${c.path}; chunks of one run must come from the same COMPAS binary and options.`,
          { hint: "Rerun the odd chunk with the run's binary and flags." },
        );
      }
      ref ??= { path: c.path, sig };
    }
  }
  return [...names].sort();
}

/**
 * Checks that SEED ascends through the concatenated chunks in every group (strictly in
 * BSE_System_Parameters, one row per binary), reading the SEED columns in slices.
 */
function checkSeedOrder(h5: H5Module, chunks: ChunkInfo[], groups: string[], sliceRows: number): void {
  for (const group of groups) {
    const strict = group === "BSE_System_Parameters";
    let last: { seed: bigint; path: string } | undefined;
    for (const c of chunks) {
      const info = c.groups.get(group);
      if (!info || info.rows === 0 || !info.columns.some((col) => col.name === "SEED")) continue;
      const ds = c.file.get(`${group}/SEED`);
      if (!isDataset(h5, ds)) continue;
      for (let start = 0; start < info.rows; start += sliceRows) {
        const end = Math.min(info.rows, start + sliceRows);
        const seeds = ds.slice([[start, end]]) as ArrayLike<bigint | number>;
        for (let i = 0; i < seeds.length; i++) {
          const seed = BigInt(seeds[i] as bigint | number);
          if (last && (seed < last.seed || (strict && seed === last.seed))) {
            const where = last.path === c.path ? `within ${c.path}` : `${c.path} comes after ${last.path}`;
            throw new CompasEnsembleError(
              "PLAN_MISMATCH",
              `Chunk outputs are not in seed order: in ${group}, SEED ${seed} follows SEED ${last.seed} (${where}); pass each chunk once, in seed order.`,
              { hint: "Order the chunk files by their first seed (the plan's chunk order)." },
            );
          }
          last = { seed, path: c.path };
        }
      }
    }
  }
}

function requireRunDetails(h5: H5Module, chunks: ChunkInfo[]): H5.Group {
  let first: H5.Group | undefined;
  for (const c of chunks) {
    const rd = c.file.get(RUN_DETAILS);
    if (!isGroup(h5, rd)) {
      throw new CompasEnsembleError("OUTPUT_INCOMPLETE", `Chunk ${c.path} has no Run_Details group, so COMPAS did not finish it.`, {
        hint: "Rerun that chunk.",
      });
    }
    first ??= rd;
  }
  return first as H5.Group;
}

function readChunkOption(h5: H5Module, rd: H5.Group): number | undefined {
  const ds = rd.get("hdf5-chunk-size");
  if (!isDataset(h5, ds)) return undefined;
  const v = (ds.value as ArrayLike<number | bigint> | null)?.[0];
  return v === undefined ? undefined : Number(v);
}

/** Copies every attribute (COMPAS writes only `units`) with its dtype and shape. */
function copyAttributes(src: H5.Dataset, dst: H5.Dataset): void {
  for (const [name, attr] of Object.entries(src.attrs)) {
    const value = attr.value;
    if (value === null) continue;
    dst.create_attribute(name, value as H5.GuessableDataTypes, attr.shape ?? [], attr.dtype);
  }
}

function copyGroup(
  h5: H5Module,
  chunks: ChunkInfo[],
  group: string,
  outGroup: H5.Group,
  chunkSize: number,
  sliceRows: number,
): void {
  const sources = chunks.filter((c) => (c.groups.get(group)?.rows ?? 0) > 0);
  const template = (sources[0] as ChunkInfo).groups.get(group) as GroupInfo;
  const total = sources.reduce((s, c) => s + (c.groups.get(group) as GroupInfo).rows, 0);
  for (const col of template.columns) {
    const first = (sources[0] as ChunkInfo).file.get(`${group}/${col.name}`) as H5.Dataset;
    const dst = outGroup.create_dataset({
      name: col.name,
      data: [],
      shape: [0],
      dtype: col.dtype,
      maxshape: [null],
      chunks: [chunkSize],
    });
    dst.resize([total]);
    let offset = 0;
    for (const c of sources) {
      const src = c.file.get(`${group}/${col.name}`);
      if (!isDataset(h5, src)) {
        throw new CompasEnsembleError("HDF5_COLUMN_MISSING", `Column ${group}/${col.name} is missing from ${c.path}.`);
      }
      const n = (c.groups.get(group) as GroupInfo).rows;
      for (let start = 0; start < n; start += sliceRows) {
        const end = Math.min(n, start + sliceRows);
        dst.write_slice([[offset + start, offset + end]], src.slice([[start, end]]));
      }
      offset += n;
    }
    copyAttributes(first, dst);
  }
}

/** Reads one Run_Details value (shape (1,)) as a number, bigint or string. */
function readScalar(ds: H5.Dataset): number | bigint | string {
  const v = ds.value;
  const x = Array.isArray(v) || ArrayBuffer.isView(v) ? (v as ArrayLike<unknown>)[0] : v;
  if (typeof x === "number" || typeof x === "bigint" || typeof x === "string") return x;
  return String(x);
}

/**
 * Writes the merged Run_Details group: the first chunk's entries, with those in
 * RUN_DETAILS_RULES combined over all chunks.
 */
function writeRunDetails(
  h5: H5Module,
  chunks: ChunkInfo[],
  out: H5.Group,
): { requested: number; created: number } {
  const groups = chunks.map((c) => c.file.get(RUN_DETAILS) as H5.Group);
  const first = groups[0] as H5.Group;
  const result = { requested: 0, created: 0 };
  for (const name of first.keys()) {
    const src = first.get(name);
    if (!isDataset(h5, src)) continue;
    let value: number | bigint | string | H5.OutputData | null = src.value;
    let dtype = String(src.dtype);
    const rule = RUN_DETAILS_RULES[name];
    if (rule) {
      const values = groups.map((g, i) => {
        const ds = g.get(name);
        if (!isDataset(h5, ds)) {
          throw new CompasEnsembleError("OUTPUT_INCOMPLETE", `Run_Details/${name} is missing from ${chunks[i]?.path}; COMPAS did not finish that chunk.`, {
            hint: "Rerun that chunk.",
          });
        }
        return readScalar(ds);
      });
      const combined = combineRunDetail(rule, values);
      if (name === "Objects-Requested") result.requested = Number(combined);
      if (name === "Objects-Created") result.created = Number(combined);
      value = typeof combined === "string" ? [combined] : [combined as number];
      // A longer string (e.g. a wall time past 9999 h) needs a wider fixed-length type.
      const width = /^[AS](\d+)$/.exec(dtype);
      if (typeof combined === "string" && width && combined.length > Number(width[1])) dtype = `${dtype[0]}${combined.length + 1}`;
      if (typeof combined === "bigint") value = BigUint64Array.of(combined);
    }
    if (value === null) continue;
    const shape = src.shape ?? [1];
    const chunksDims = src.metadata.chunks;
    const dst = out.create_dataset({
      name,
      data: value as H5.GuessableDataTypes,
      shape,
      dtype,
      maxshape: chunksDims ? shape.map(() => null) : shape,
      chunks: chunksDims ?? null,
    });
    copyAttributes(src, dst);
  }
  return result;
}

/** The merged Run_Details text of the files beside the chunks, or null unless every chunk has one. */
function mergedRunDetailsText(chunkPaths: readonly string[]): string | null {
  const files = chunkPaths.map((p) => join(dirname(p), "Run_Details"));
  if (!files.every((f) => existsSync(f) && statSync(f).size > 0)) return null;
  return mergeRunDetailsText(files.map((f) => readFileSync(f, "utf8")));
}

function writeRunDetailsText(text: string, outPath: string): string {
  const target = join(dirname(outPath), "Run_Details");
  replaceAtomicallySync(target, (tmp) => writeFileSync(tmp, text, { flag: "wx" }));
  return target;
}
