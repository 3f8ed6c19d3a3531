import { CompasEnsembleError } from "../errors.js";
import type { ColumnReader, NumericArray } from "../hdf5/read.js";

const TWO32 = 4294967296;

/**
 * The DCO SEEDs sorted for joining: `key` is SEED as a double (exact below 2^53; for larger
 * SEEDs it only orders, and `hi`/`lo` settle equality), `dco` the DCO row of each entry.
 */
export interface SeedIndex {
  key: Float64Array;
  hi: Uint32Array;
  lo: Uint32Array;
  dco: Int32Array;
}

/**
 * Builds the join index of the DCO table's SEEDs; a SEED that appears twice is an error
 * (the join would be ambiguous, e.g. after merging chunks with overlapping seed ranges).
 * @param seeds - SEED column of BSE_Double_Compact_Objects
 * @param path - file name for the error message
 */
export function buildSeedIndex(seeds: BigUint64Array, path: string): SeedIndex {
  const n = seeds.length;
  const words = new Uint32Array(seeds.buffer, seeds.byteOffset, n * 2);
  const order = Array.from({ length: n }, (_, i) => i);
  const keyOf = (i: number) => (words[2 * i + 1] as number) * TWO32 + (words[2 * i] as number);
  const hiOf = (i: number) => words[2 * i + 1] as number;
  const loOf = (i: number) => words[2 * i] as number;
  order.sort((a, b) => hiOf(a) - hiOf(b) || loOf(a) - loOf(b));
  const index: SeedIndex = {
    key: new Float64Array(n),
    hi: new Uint32Array(n),
    lo: new Uint32Array(n),
    dco: new Int32Array(n),
  };
  order.forEach((row, j) => {
    index.key[j] = keyOf(row);
    index.hi[j] = hiOf(row);
    index.lo[j] = loOf(row);
    index.dco[j] = row;
    if (j > 0 && index.hi[j] === index.hi[j - 1] && index.lo[j] === index.lo[j - 1]) {
      throw new CompasEnsembleError(
        "HDF5_UNREADABLE",
        `SEED ${seeds[row]} appears twice in BSE_Double_Compact_Objects of ${path}; joining on SEED would be ambiguous.`,
        { hint: "Chunks merged with overlapping seed ranges produce this; rebuild the merged file." },
      );
    }
  });
  return index;
}

/** Rows of one group whose SEED is a DCO's, with the requested columns. */
export interface JoinedRows {
  /** Matched rows, in file order. */
  length: number;
  /** DCO row (index into the DCO table) of each matched row. */
  dco: Int32Array;
  /** `start[d]` to `start[d + 1]` are the positions (into `order`) of DCO d's rows. */
  start: Int32Array;
  /** Positions of matched rows grouped by DCO, file order within a DCO. */
  order: Int32Array;
  /** Requested columns at the matched rows (file order), in the column's own type. */
  columns: Record<string, NumericArray>;
}

class GrowArray {
  data: Float64Array | Int32Array | NumericArray;
  length = 0;
  constructor(private readonly ctor: new (n: number) => NumericArray) {
    this.data = new ctor(64);
  }
  reserve(extra: number): void {
    if (this.length + extra <= this.data.length) return;
    const next = new this.ctor(Math.max(this.data.length * 2, this.length + extra));
    (next as Float64Array).set(this.data as Float64Array);
    this.data = next;
  }
  finish(): NumericArray {
    return this.data.slice(0, this.length);
  }
}

/**
 * Scans `group` slice by slice and keeps only the rows whose SEED is in `index`, with the
 * given columns. Memory is one read buffer plus the matched rows, whatever the group's size.
 * Rows in ascending SEED order (what COMPAS writes) are joined by a linear merge; any row
 * out of order falls back to a binary search, so the result does not depend on order.
 * @param reader - open file
 * @param group - BSE group name (a missing group gives zero rows)
 * @param index - from {@link buildSeedIndex}
 * @param columns - columns to keep (checked before anything is read)
 */
export function joinOnSeed(reader: ColumnReader, group: string, index: SeedIndex, columns: readonly string[]): JoinedRows {
  const nDco = index.key.length;
  if (!reader.hasGroup(group) || nDco === 0) return emptyJoin(nDco, columns);
  const seedInfo = reader.info(group, "SEED");
  const infos = columns.map((c) => reader.info(group, c));
  const rows = seedInfo.rows;
  const step = reader.sliceRows([seedInfo, ...infos]);
  const matchedDco = new GrowArray(Int32Array);
  const out = infos.map((i) => new GrowArray(i.ctor as new (n: number) => NumericArray));
  const local = new Int32Array(Math.min(step, rows));
  const localDco = new Int32Array(Math.min(step, rows));
  for (let offset = 0; offset < rows; offset += step) {
    const n = Math.min(step, rows - offset);
    const seedView = reader.readIntoBuffer(seedInfo, offset, n);
    const words = new Uint32Array(seedView.buffer, seedView.byteOffset, n * 2);
    const found = isAscending(words, n)
      ? matchAscending(words, n, index, local, localDco)
      : matchAnyOrder(words, n, index, local, localDco);
    matchedDco.reserve(found);
    (matchedDco.data as Int32Array).set(localDco.subarray(0, found), matchedDco.length);
    matchedDco.length += found;
    if (found === 0) continue;
    const first = local[0] as number;
    const last = local[found - 1] as number;
    infos.forEach((info, c) => {
      const view = reader.readIntoBuffer(info, offset + first, last - first + 1);
      const sink = out[c] as GrowArray;
      sink.reserve(found);
      const dst = sink.data as Float64Array;
      const src = view as Float64Array;
      for (let k = 0; k < found; k++) dst[sink.length + k] = src[(local[k] as number) - first] as number;
      sink.length += found;
    });
  }
  const dco = matchedDco.finish() as Int32Array;
  const { start, order } = groupByDco(dco, nDco);
  const cols: Record<string, NumericArray> = {};
  columns.forEach((c, k) => {
    cols[c] = (out[k] as GrowArray).finish();
  });
  return { length: dco.length, dco, start, order, columns: cols };
}

// SEED words: little-endian uint64, so word 2i is the low half and 2i + 1 the high half.
function isAscending(words: Uint32Array, n: number): boolean {
  for (let i = 1; i < n; i++) {
    const h = words[2 * i + 1] as number;
    const ph = words[2 * i - 1] as number;
    if (h < ph || (h === ph && (words[2 * i] as number) < (words[2 * i - 2] as number))) return false;
  }
  return true;
}

const keyAt = (words: Uint32Array, i: number) => (words[2 * i + 1] as number) * TWO32 + (words[2 * i] as number);

/**
 * Matches a slice whose SEEDs ascend (what COMPAS writes): one binary search per DCO SEED in
 * the slice's range, so the cost is O(DCOs log rows) rather than a pass over every row.
 * Positions come out ascending; returns how many rows matched.
 */
function matchAscending(words: Uint32Array, n: number, index: SeedIndex, local: Int32Array, localDco: Int32Array): number {
  if (n === 0) return 0;
  const keys = index.key;
  let found = 0;
  let from = 0;
  for (let p = lowerBound(keys, keyAt(words, 0)); p < keys.length && (keys[p] as number) <= keyAt(words, n - 1); p++) {
    const key = keys[p] as number;
    const hi = index.hi[p] as number;
    const lo = index.lo[p] as number;
    // Lower bound of key in the slice, starting where the previous SEED's rows ended.
    let a = from;
    let b = n;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (keyAt(words, mid) < key) a = mid + 1;
      else b = mid;
    }
    let i = a;
    for (; i < n && keyAt(words, i) === key; i++) {
      if (words[2 * i + 1] === hi && words[2 * i] === lo) {
        local[found] = i;
        localDco[found] = index.dco[p] as number;
        found++;
      }
    }
    // Distinct SEEDs above 2^53 can share a key, which would interleave positions: let the
    // row-by-row matcher handle such a slice.
    if (p + 1 < keys.length && keys[p + 1] === key) return matchAnyOrder(words, n, index, local, localDco);
    from = i;
  }
  return found;
}

/** Matches a slice in any order: a merge that re-seeks by binary search when SEED goes down. */
function matchAnyOrder(words: Uint32Array, n: number, index: SeedIndex, local: Int32Array, localDco: Int32Array): number {
  const keys = index.key;
  const nDco = keys.length;
  let found = 0;
  let pointer = 0;
  let prevKey = -Infinity;
  for (let i = 0; i < n; i++) {
    const hi = words[2 * i + 1] as number;
    const lo = words[2 * i] as number;
    const key = hi * TWO32 + lo;
    if (key < prevKey) pointer = lowerBound(keys, key);
    prevKey = key;
    while (pointer < nDco && (keys[pointer] as number) < key) pointer++;
    for (let p = pointer; p < nDco && keys[p] === key; p++) {
      if (index.hi[p] === hi && index.lo[p] === lo) {
        local[found] = i;
        localDco[found] = index.dco[p] as number;
        found++;
        break;
      }
    }
  }
  return found;
}

function emptyJoin(nDco: number, columns: readonly string[]): JoinedRows {
  const cols: Record<string, NumericArray> = {};
  for (const c of columns) cols[c] = new Float64Array(0);
  return { length: 0, dco: new Int32Array(0), start: new Int32Array(nDco + 1), order: new Int32Array(0), columns: cols };
}

function lowerBound(keys: Float64Array, key: number): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as number) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Counting sort by DCO keeps file order within each DCO (the tie-break the physics needs).
function groupByDco(dco: Int32Array, nDco: number): { start: Int32Array; order: Int32Array } {
  const start = new Int32Array(nDco + 1);
  for (let i = 0; i < dco.length; i++) {
    const d = dco[i] as number;
    start[d + 1] = (start[d + 1] as number) + 1;
  }
  for (let d = 0; d < nDco; d++) start[d + 1] = (start[d + 1] as number) + (start[d] as number);
  const fill = start.slice(0, nDco);
  const order = new Int32Array(dco.length);
  for (let i = 0; i < dco.length; i++) {
    const d = dco[i] as number;
    order[(fill[d] as number)++] = i;
  }
  return { start, order };
}
