import type { Dataset, File as H5File, Group } from "h5wasm";
import { CompasEnsembleError } from "../errors.js";
import { type H5Lib, h5Reason, loadH5Lib, openH5Read, withH5Errors } from "./h5wasm.js";

/** A numeric column as read: the typed array matching the dataset's HDF5 type. */
export type NumericArray =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** Constructor of a {@link NumericArray}. */
export type NumericArrayCtor =
  | Float64ArrayConstructor
  | Float32ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** What the reader knows about one 1-D column. */
export interface ColumnInfo {
  group: string;
  name: string;
  rows: number;
  /** Rows per HDF5 chunk (the whole length for contiguous datasets). */
  chunkRows: number;
  /** Typed-array constructor for numeric columns; null for fixed-length strings. */
  ctor: NumericArrayCtor | null;
  /** Bytes per element. */
  size: number;
}

// Filters compiled into every HDF5 build, plus deflate which h5wasm links (zlib). Anything
// else (h5py's lzf, blosc, szip, bitshuffle...) must be refused up front: h5wasm would read
// zeros or stale memory for it.
const SUPPORTED_FILTERS = new Set([1, 2, 3, 5, 6]);

// Bytes of one read buffer. A read of one slice must fit in WebAssembly memory; 8 MiB keeps the
// heap small while each call still moves enough data to amortise HDF5's per-call overhead.
const TARGET_SLICE_BYTES = 8 * 1024 * 1024;

const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;

function numericCtor(type: number, size: number, signed: boolean): NumericArrayCtor | null {
  if (type === H5T_FLOAT) return size === 8 ? Float64Array : size === 4 ? Float32Array : null;
  if (type !== H5T_INTEGER) return null;
  switch (size) {
    case 1:
      return signed ? Int8Array : Uint8Array;
    case 2:
      return signed ? Int16Array : Uint16Array;
    case 4:
      return signed ? Int32Array : Uint32Array;
    case 8:
      return signed ? BigInt64Array : BigUint64Array;
    default:
      return null;
  }
}

/**
 * An open COMPAS HDF5 file with checked, bounded-memory column access. Reads go straight from
 * HDF5 into one reused buffer in the WebAssembly heap, slice by slice (slices aligned to the
 * dataset's chunks so that no chunk is read twice), and only what the caller keeps is copied.
 */
export class ColumnReader {
  readonly path: string;
  private readonly file: H5File;
  private readonly lib: H5Lib;
  private bufPtr = 0;
  private bufBytes = 0;
  private readonly infos = new Map<string, ColumnInfo>();

  private constructor(path: string, file: H5File, lib: H5Lib) {
    this.path = path;
    this.file = file;
    this.lib = lib;
  }

  /**
   * Opens `path` (missing, truncated and corrupt files fail with HDF5_UNREADABLE).
   * @param path - COMPAS_Output.h5 or any HDF5 file with 1-D column datasets
   */
  static async open(path: string): Promise<ColumnReader> {
    const file = await openH5Read(path);
    return new ColumnReader(path, file, await loadH5Lib());
  }

  /** Closes the file and frees the read buffer. */
  close(): void {
    if (this.bufPtr !== 0) this.lib._free(this.bufPtr);
    this.bufPtr = 0;
    this.bufBytes = 0;
    this.file.close();
  }

  /** Names of the root's members (groups and datasets). */
  rootNames(): string[] {
    return this.call("the root group", () => this.file.keys());
  }

  /**
   * True when `group` exists as a group.
   * @param group - name under the root
   */
  hasGroup(group: string): boolean {
    const entity = this.call(group, () => this.file.get(group));
    return entity !== null && (entity as Group).type === "Group";
  }

  /**
   * Dataset names of `group` (empty for a missing group).
   * @param group - name under the root
   */
  columnNames(group: string): string[] {
    return this.hasGroup(group) ? this.call(group, () => (this.file.get(group) as Group).keys()) : [];
  }

  /**
   * Rows of a COMPAS group: the length of its SEED column (of its first column if it has no
   * SEED), 0 for a missing group.
   * @param group - name under the root
   */
  groupRows(group: string): number {
    if (!this.hasGroup(group)) return 0;
    const names = this.columnNames(group);
    const first = names.includes("SEED") ? "SEED" : names[0];
    if (first === undefined) return 0;
    // Only the shape is needed, so a column whose filter cannot be decoded still has a length.
    return this.call(`${group}/${first}`, () => ((this.file.get(group) as Group).get(first) as Dataset).shape?.[0] ?? 0);
  }

  /**
   * True when `group/column` exists.
   * @param group - group name
   * @param column - dataset name
   */
  hasColumn(group: string, column: string): boolean {
    return this.hasGroup(group) && this.columnNames(group).includes(column);
  }

  /**
   * Shape, chunking and type of a 1-D column, checked: a missing column is HDF5_COLUMN_MISSING,
   * an unsupported filter, type or byte order is HDF5_UNREADABLE.
   * @param group - group name
   * @param column - dataset name
   */
  info(group: string, column: string): ColumnInfo {
    const key = `${group}/${column}`;
    const cached = this.infos.get(key);
    if (cached) return cached;
    const entity = this.hasGroup(group) ? this.call(key, () => (this.file.get(group) as Group).get(column)) : null;
    if (entity === null || (entity as Dataset).type !== "Dataset") {
      throw new CompasEnsembleError(
        "HDF5_COLUMN_MISSING",
        `Column ${column} is missing from group ${group} of ${this.path}.`,
        {
          hint: "COMPAS writes this column by default in v03.07.00; check the COMPAS version and any --logfile-definitions that drop columns.",
        },
      );
    }
    const ds = entity as Dataset;
    const { meta, filters } = this.call(key, () => ({ meta: ds.metadata, filters: ds.filters }));
    const unsupported = filters.filter((f) => !SUPPORTED_FILTERS.has(f.id));
    if (unsupported.length > 0) {
      const names = unsupported.map((f) => `${f.name || "unnamed"} (id ${f.id})`).join(", ");
      throw new CompasEnsembleError(
        "HDF5_UNREADABLE",
        `Column ${key} of ${this.path} is compressed with ${names}, a filter h5wasm cannot decode.`,
        { hint: "Rewrite the file without that filter (e.g. h5repack -f NONE, or gzip instead of lzf)." },
      );
    }
    const shape = meta.shape ?? [];
    if (shape.length !== 1) {
      throw new CompasEnsembleError(
        "HDF5_UNREADABLE",
        `Column ${key} of ${this.path} has shape [${shape.join(", ")}]; COMPAS columns are 1-D.`,
      );
    }
    if (meta.size > 1 && meta.type !== H5T_STRING && !meta.littleEndian) {
      throw new CompasEnsembleError(
        "HDF5_UNREADABLE",
        `Column ${key} of ${this.path} is big-endian; only little-endian data (what COMPAS writes) is supported.`,
      );
    }
    const ctor = numericCtor(meta.type, meta.size, meta.signed);
    if (ctor === null && !(meta.type === H5T_STRING && !meta.vlen)) {
      throw new CompasEnsembleError(
        "HDF5_UNREADABLE",
        `Column ${key} of ${this.path} has an HDF5 type this reader does not handle (class ${meta.type}, ${meta.size} bytes).`,
      );
    }
    const rows = shape[0] ?? 0;
    const info: ColumnInfo = {
      group,
      name: column,
      rows,
      chunkRows: Math.max(1, meta.chunks?.[0] ?? rows),
      ctor,
      size: meta.size,
    };
    this.infos.set(key, info);
    return info;
  }

  /**
   * Rows per read for a set of columns: a multiple of their chunk length near
   * about 8 MiB for the widest type, so that each chunk is read once.
   * @param infos - the columns that will be read slice by slice together
   */
  sliceRows(infos: readonly ColumnInfo[]): number {
    const chunk = Math.max(1, ...infos.map((i) => i.chunkRows));
    const width = Math.max(1, ...infos.map((i) => i.size));
    const perSlice = Math.floor(TARGET_SLICE_BYTES / width / chunk) * chunk;
    return Math.max(chunk, perSlice);
  }

  /**
   * Reads rows [start, start + count) of a numeric column into `target` at `targetOffset`
   * (a new array when `target` is omitted), in slices through the shared buffer.
   * @param info - from {@link info}
   * @param start - first row
   * @param count - number of rows
   * @param target - array to fill; its type must be the column's or convertible (number <-> bigint is not)
   * @param targetOffset - index in `target` of the first row
   */
  readNumeric(
    info: ColumnInfo,
    start: number,
    count: number,
    target?: NumericArray,
    targetOffset = 0,
  ): NumericArray {
    const ctor = this.requireNumeric(info);
    const out = target ?? new ctor(count);
    const step = this.sliceRows([info]);
    for (let done = 0; done < count; done += step) {
      const n = Math.min(step, count - done);
      const view = this.readIntoBuffer(info, start + done, n);
      if (out.constructor === view.constructor) {
        (out as Float64Array).set(view as Float64Array, targetOffset + done);
      } else {
        copyConverting(view, out, targetOffset + done);
      }
    }
    return out;
  }

  /**
   * Reads rows [start, start + n) of a numeric column into the shared buffer and returns a
   * view of it, valid only until the next read through this reader.
   * @param info - from {@link info}
   * @param start - first row
   * @param n - rows
   */
  readIntoBuffer(info: ColumnInfo, start: number, n: number): NumericArray {
    const ctor = this.requireNumeric(info);
    if (start < 0 || n < 0 || start + n > info.rows) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `Rows [${start}, ${start + n}) are outside ${info.group}/${info.name} (${info.rows} rows).`);
    }
    if (n === 0) return new ctor(0);
    const bytes = n * info.size;
    this.ensureBuffer(bytes);
    const key = `/${info.group}/${info.name}`;
    const status = this.call(key, () =>
      this.lib.get_dataset_data(this.file.file_id, key, [BigInt(n)], [BigInt(start)], [1n], BigInt(this.bufPtr)),
    );
    if (status < 0) {
      throw new CompasEnsembleError("HDF5_UNREADABLE", `Reading ${key} of ${this.path} failed (HDF5 status ${status}).`);
    }
    // HEAPU8 is replaced when the WebAssembly memory grows, so take the buffer after the call.
    return new ctor(this.lib.HEAPU8.buffer as ArrayBuffer, this.bufPtr, n);
  }

  /**
   * Reads rows [start, start + count) of a fixed-length string column (trailing NULs and
   * spaces removed).
   * @param info - from {@link info}
   * @param start - first row
   * @param count - rows
   */
  readStrings(info: ColumnInfo, start: number, count: number): string[] {
    if (info.ctor !== null) {
      throw new CompasEnsembleError("HDF5_UNREADABLE", `Column ${info.group}/${info.name} of ${this.path} is not a string column.`);
    }
    if (count === 0) return [];
    const ds = this.call(`${info.group}/${info.name}`, () => (this.file.get(info.group) as Group).get(info.name) as Dataset);
    const out: string[] = [];
    const step = Math.max(1, Math.floor(TARGET_SLICE_BYTES / info.size));
    for (let done = 0; done < count; done += step) {
      const n = Math.min(step, count - done);
      const part = this.call(`${info.group}/${info.name}`, () => ds.slice([[start + done, start + done + n]])) as string[];
      for (const s of part) out.push(s.replace(/[\s\0]+$/, ""));
    }
    return out;
  }

  private requireNumeric(info: ColumnInfo): NumericArrayCtor {
    if (info.ctor === null) {
      throw new CompasEnsembleError("HDF5_UNREADABLE", `Column ${info.group}/${info.name} of ${this.path} is not numeric.`);
    }
    return info.ctor;
  }

  private ensureBuffer(bytes: number): void {
    if (bytes <= this.bufBytes) return;
    if (this.bufPtr !== 0) this.lib._free(this.bufPtr);
    const want = Math.max(bytes, TARGET_SLICE_BYTES);
    this.bufPtr = this.lib._malloc(want);
    if (this.bufPtr === 0) {
      this.bufBytes = 0;
      throw new CompasEnsembleError("HDF5_UNREADABLE", `Out of WebAssembly memory reading ${this.path} (${want} bytes).`);
    }
    this.bufBytes = want;
  }

  // Every call into h5wasm goes through here: with HDF5's default handler a damaged file
  // dumps its error stack on stderr and h5wasm answers "no such group" or "no columns",
  // which surfaced as a misleading missing column under pages of HDF5-DIAG output.
  private call<T>(what: string, fn: () => T): T {
    try {
      return withH5Errors(this.lib, fn);
    } catch (cause) {
      const reason = h5Reason(cause);
      if (reason.startsWith("it needs the HDF5 filter")) {
        throw new CompasEnsembleError("HDF5_UNREADABLE", `Reading ${what} of ${this.path} failed: ${reason}.`, {
          cause,
          hint: "Rewrite the file without that filter (e.g. h5repack -f NONE).",
        });
      }
      throw new CompasEnsembleError("HDF5_UNREADABLE", `HDF5 file ${this.path} is corrupt: reading ${what} failed (${reason}).`, {
        cause,
        hint: "Rerun the task that wrote it, or copy the file again if it came from elsewhere.",
      });
    }
  }
}

/**
 * Copies `src` into `dst` at `offset`, converting element types (numbers to numbers, bigints to
 * numbers or bigints).
 * @param src - source values
 * @param dst - destination array
 * @param offset - index in `dst` of the first value
 */
export function copyConverting(src: NumericArray, dst: NumericArray, offset: number): void {
  const srcBig = src instanceof BigInt64Array || src instanceof BigUint64Array;
  const dstBig = dst instanceof BigInt64Array || dst instanceof BigUint64Array;
  const n = src.length;
  if (dstBig) {
    const d = dst as BigUint64Array;
    if (srcBig) {
      for (let i = 0; i < n; i++) d[offset + i] = BigInt.asUintN(64, (src as BigUint64Array)[i] as bigint);
    } else {
      for (let i = 0; i < n; i++) d[offset + i] = BigInt((src as Float64Array)[i] as number);
    }
  } else if (srcBig) {
    const d = dst as Float64Array;
    for (let i = 0; i < n; i++) d[offset + i] = Number((src as BigUint64Array)[i]);
  } else {
    (dst as Float64Array).set(src as Float64Array, offset);
  }
}
