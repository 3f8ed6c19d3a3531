import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import type * as H5 from "h5wasm";
import { loadH5wasm, openH5Read } from "../../../src/hdf5/h5wasm.js";
import { FIXTURE_ROOT } from "../fixtures.js";

/** Root of the read-only COMPAS fixtures. */
export const FIXTURES = FIXTURE_ROOT;

/**
 * Gunzips a fixture's COMPAS_Output.h5 into `destDir` and copies its Run_Details text beside
 * it (the fixtures themselves stay untouched).
 * @param fixtureDir - directory under FIXTURES holding COMPAS_Output/
 * @param destDir - where COMPAS_Output.h5 and Run_Details go
 * @returns path of the gunzipped COMPAS_Output.h5
 */
export function gunzipFixture(fixtureDir: string, destDir: string): string {
  const src = join(FIXTURES, fixtureDir, "COMPAS_Output");
  mkdirSync(destDir, { recursive: true });
  const out = join(destDir, "COMPAS_Output.h5");
  writeFileSync(out, gunzipSync(readFileSync(join(src, "COMPAS_Output.h5.gz"))));
  copyFileSync(join(src, "Run_Details"), join(destDir, "Run_Details"));
  return out;
}

/** One dataset as read back: layout, `units` and raw content. */
export interface ColumnSnapshot {
  dtype: string;
  units: string | null;
  shape: number[];
  chunks: number[] | null;
  /** maxshape is unlimited (H5S_UNLIMITED) in every dimension. */
  unlimited: boolean;
  /** Bytes of a numeric column (so NaN compares equal to the same NaN), strings otherwise. */
  data: Buffer | string[];
}

const UNLIMITED = 2 ** 63;

/**
 * Reads every dataset of every group of an HDF5 file, keyed "group/dataset".
 * @param path - file
 * @param groups - only these groups (default: all)
 */
export async function snapshotH5(path: string, groups?: (g: string) => boolean): Promise<Map<string, ColumnSnapshot>> {
  const h5 = await loadH5wasm();
  const file = await openH5Read(path);
  const out = new Map<string, ColumnSnapshot>();
  try {
    for (const g of file.keys()) {
      if (groups && !groups(g)) continue;
      const group = file.get(g) as H5.Group;
      for (const name of group.keys()) {
        const ds = group.get(name);
        if (!(ds instanceof h5.Dataset)) continue;
        const md = ds.metadata;
        const v = ds.value;
        const data = ArrayBuffer.isView(v)
          ? Buffer.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
          : (v as string[]);
        const unitsAttr = ds.attrs.units;
        out.set(`${g}/${name}`, {
          dtype: String(ds.dtype),
          units: unitsAttr ? String(unitsAttr.value) : null,
          shape: md.shape ?? [],
          chunks: md.chunks ?? null,
          unlimited: (md.maxshape ?? []).every((m) => m !== null && m >= UNLIMITED),
          data,
        });
      }
    }
  } finally {
    file.close();
  }
  return out;
}

/**
 * Reads one column of a file as numbers (bigints become numbers) or strings.
 * @param path - file
 * @param key - "group/dataset"
 */
export async function readColumn(path: string, key: string): Promise<(number | string)[]> {
  const h5 = await loadH5wasm();
  const file = await openH5Read(path);
  try {
    const ds = file.get(key);
    if (!(ds instanceof h5.Dataset)) throw new Error(`${key} is not a dataset in ${path}`);
    const v = ds.value as ArrayLike<number | bigint | string>;
    return Array.from(v, (x) => (typeof x === "bigint" ? Number(x) : x));
  } finally {
    file.close();
  }
}

/** Directory of a file, for the Run_Details text beside a COMPAS_Output.h5. */
export function runDetailsBeside(h5Path: string): string {
  return join(dirname(h5Path), "Run_Details");
}
