import { spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";

import { FIXTURE_ROOT } from "./fixtures.js";

export { FIXTURE_ROOT };

/** Fixture directories by short name. */
export const FIXTURES = {
  z1e4: "alpha0.1_lambda0.1_Z0.0001_fa0.5_kick217_N5000_seed100000",
  z0142: "alpha5.0_lambda0.5_Z0.0142_fa0.5_kick217_N10000_seed200000",
  detailed: "detailed_alpha0.1_lambda0.1_Z0.0001_fa0.5_kick217_N5_seed100315",
  chunksFull: "chunks_alpha1.0_lambda0.1_Z0.0001_fa0.5_kick217/full_N2000_seed700000",
  chunksPart1: "chunks_alpha1.0_lambda0.1_Z0.0001_fa0.5_kick217/part1_N1200_seed700000",
  chunksPart2: "chunks_alpha1.0_lambda0.1_Z0.0001_fa0.5_kick217/part2_N800_seed701200",
  channels: "alpha3.0_lambda0.1_Z0.002_fa0.5_kick265_N20000_seed1000000",
  massBounds: "massbounds_alpha1.0_lambda0.1_Z0.0005_fa0.5_kick217_N5000_seed1100000",
} as const;

/** A temp directory removed by the returned function. */
export function makeTempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Gunzips one fixture's COMPAS_Output.h5 into `dir` and returns its path.
 * @param rel - fixture directory relative to FIXTURE_ROOT
 * @param dir - destination directory
 */
export async function gunzipFixture(rel: string, dir: string): Promise<string> {
  const out = join(dir, rel.replaceAll("/", "__"), "COMPAS_Output.h5");
  mkdirSync(dirname(out), { recursive: true });
  await pipeline(createReadStream(join(FIXTURE_ROOT, rel, "COMPAS_Output", "COMPAS_Output.h5.gz")), createGunzip(), createWriteStream(out));
  return out;
}

/**
 * Runs a Python snippet with Debian's /usr/bin/python3 (which has h5py and numpy) and returns
 * its stdout; fails loudly when Python or h5py is missing.
 * @param code - Python source
 * @param args - sys.argv[1:]
 */
export function python(code: string, args: string[] = []): string {
  const r = spawnSync("/usr/bin/python3", ["-c", code, ...args], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Error(`/usr/bin/python3 failed (status ${r.status}): ${r.error?.message ?? r.stderr}`);
  }
  return r.stdout;
}

const FLIP_MASS_BIT = `
import json, sys, h5py
path, row = sys.argv[1], int(sys.argv[2])
with h5py.File(path, "r") as f:
    g = f["BSE_Double_Compact_Objects"]
    d = g["Mass(1)"]
    assert d.compression is None and d.dtype.str == "<f8", "Mass(1) must be uncompressed float64"
    assert d.chunks is None or row < d.chunks[0], "the row must lie in the first chunk"
    start = d.id.get_chunk_info(0).byte_offset if d.chunks else d.id.get_offset()
    seed, before, mass2 = int(g["SEED"][row]), float(d[row]), float(g["Mass(2)"][row])
with open(path, "r+b") as fh:
    fh.seek(start + 8 * row + 6)
    byte = fh.read(1)[0]
    fh.seek(start + 8 * row + 6)
    fh.write(bytes([byte ^ 1]))
with h5py.File(path, "r") as f:
    after = float(f["BSE_Double_Compact_Objects"]["Mass(1)"][row])
print(json.dumps({"seed": str(seed), "before": before, "after": after, "mass2": mass2}))
`;

/**
 * Flips one bit (in the mantissa) of `Mass(1)` of DCO row `row` of a COMPAS_Output.h5, in the
 * file's bytes, as silent corruption would; flipping again restores it. Located and read back
 * with h5py, independently of the library.
 * @param path - an uncompressed COMPAS_Output.h5 with a BSE_Double_Compact_Objects group
 * @param row - DCO row, within the first HDF5 chunk
 * @returns the row's SEED, its Mass(1) before and after, and its Mass(2)
 */
export function flipDcoMassBit(path: string, row = 0): { seed: string; before: number; after: number; mass2: number } {
  return JSON.parse(python(FLIP_MASS_BIT, [path, String(row)])) as { seed: string; before: number; after: number; mass2: number };
}
