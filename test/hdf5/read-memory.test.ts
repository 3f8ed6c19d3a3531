import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadH5Lib } from "../../src/hdf5/h5wasm.js";
import { extractDcos } from "../../src/physics/dco.js";
import { makeTempDir, python } from "../support/compas-fixtures.js";

const ROWS = 10_000_000;
const tmp = makeTempDir("read-memory-");
const path = join(tmp.dir, "ten-million.h5");

beforeAll(() => {
  // A COMPAS-like file with a 10-million-row BSE_Supernovae group (two rows per SEED, COMPAS's
  // default 100000-row chunks) and 1000 DCOs spread over it. Only SEED and Supernova_State are
  // written; the other columns are allocated lazily by HDF5 and read back as fill values (equal
  // Times, so each SEED's two rows keep file order: star 1, then star 2).
  python(
    `import sys, h5py, numpy as np
n = int(sys.argv[2])
with h5py.File(sys.argv[1], "w") as f:
    sn = f.create_group("BSE_Supernovae")
    seeds = np.repeat(np.arange(n // 2, dtype=np.uint64), 2)
    sn.create_dataset("SEED", data=seeds, chunks=(100000,), maxshape=(None,))
    state = np.tile(np.array([1, 2], dtype=np.int32), n // 2)
    sn.create_dataset("Supernova_State", data=state, chunks=(100000,), maxshape=(None,))
    for name, dt in [("Time", np.float64), ("Stellar_Type_Prev(SN)", np.int32), ("SemiMajorAxis<SN", np.float64), ("Mass_Total@CO(SN)", np.float64),
                     ("Mass(CP)", np.float64), ("SN_Orbit_Inclination_Angle", np.float64)]:
        sn.create_dataset(name, shape=(n,), dtype=dt, chunks=(100000,), maxshape=(None,))
    d = f.create_group("BSE_Double_Compact_Objects")
    dseeds = np.arange(0, n // 2, n // 2000, dtype=np.uint64)
    d.create_dataset("SEED", data=dseeds)
    k = len(dseeds)
    for name in ["Mass(1)", "Mass(2)"]:
        d.create_dataset(name, data=np.full(k, 30.0))
    for name in ["Stellar_Type(1)", "Stellar_Type(2)"]:
        d.create_dataset(name, data=np.full(k, 14, dtype=np.int32))
    d.create_dataset("Time", data=np.full(k, 4.0))
    d.create_dataset("Coalescence_Time", data=np.full(k, 100.0))
    d.create_dataset("Merges_Hubble_Time", data=np.ones(k, dtype=np.uint8))
    d.create_dataset("SemiMajorAxis@DCO", data=np.full(k, 0.05))
    d.create_dataset("Eccentricity@DCO", data=np.zeros(k))`,
    [path, String(ROWS)],
  );
});
afterAll(() => tmp.cleanup());

describe("bounded memory", () => {
  it("joins a 10-million-row group without holding it in memory", async () => {
    const lib = await loadH5Lib();
    const heapBefore = lib.HEAPU8.length;
    const r = await extractDcos(path);
    expect(r.table.length).toBe(1000);
    // Every DCO found its two supernova rows among the 10 million.
    expect(r.diagnostics.supernovaProblems).toBe(0);
    // The WebAssembly heap only grows, so its size after the scan is its peak: one read buffer
    // plus HDF5's chunk cache, not the 80 MB SEED column or the 7 x 10^7-value group.
    expect(lib.HEAPU8.length - heapBefore).toBeLessThan(64 * 1024 * 1024);
    // Peak RSS of this test process (a worker of its own), the brief's bound for 10^7 rows.
    expect(process.resourceUsage().maxRSS * 1024).toBeLessThan(500 * 1024 * 1024);
  });
});
