import { randomBytes } from "node:crypto";
import { closeSync, copyFileSync, mkdirSync, openSync, readSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CompasEnsembleError, type ErrorCode, isCompasEnsembleError } from "../../src/errors.js";
import { extractDcos } from "../../src/physics/dco.js";
import { inspect } from "../../src/hdf5/inspect.js";
import { groupRowCounts, readColumns } from "../../src/hdf5/read.js";
import { FIXTURES, gunzipFixture, makeTempDir, python } from "../support/compas-fixtures.js";

const tmp = makeTempDir("read-errors-");
let detailed = "";

function headBytes(src: string, dst: string, n: number): void {
  const buf = Buffer.alloc(n);
  const fd = openSync(src, "r");
  readSync(fd, buf, 0, n, 0);
  closeSync(fd);
  writeFileSync(dst, buf);
}

/** Every public entry point that opens a file, so that each bad file is checked through all of them. */
const entryPoints: [string, (p: string) => Promise<unknown>][] = [
  ["extractDcos", (p) => extractDcos(p)],
  ["inspect", (p) => inspect(p)],
  ["groupRowCounts", (p) => groupRowCounts(p)],
  ["readColumns", (p) => readColumns(p, "BSE_Double_Compact_Objects", ["SEED", "Mass(1)"])],
];

async function expectError(fn: () => Promise<unknown>, code: ErrorCode, ...mentions: (string | RegExp)[]): Promise<void> {
  const err = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCompasEnsembleError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  for (const m of mentions) expect((err as Error).message).toMatch(m);
}

/** Variants of the detailed fixture, made with h5py in one Python run. */
const variant = (name: string) => join(tmp.dir, `${name}.h5`);

beforeAll(async () => {
  detailed = await gunzipFixture(FIXTURES.detailed, tmp.dir);
  python(
    `import shutil, sys, os, h5py
src, out = sys.argv[1], sys.argv[2]
def copy(name):
    p = os.path.join(out, name + ".h5"); shutil.copy(src, p); return h5py.File(p, "r+")
def recompress(name, **kw):
    with copy(name) as f:
        g = f["BSE_Double_Compact_Objects"]; data = g["Mass(1)"][()]; del g["Mass(1)"]
        g.create_dataset("Mass(1)", data=data, **kw)
recompress("lzf", compression="lzf")
recompress("gzip", compression="gzip", shuffle=True)
# The same content after a 512-byte user block: the HDF5 signature then sits at offset 512.
with h5py.File(src, "r") as f, h5py.File(os.path.join(out, "userblock.h5"), "w", userblock_size=512) as g:
    for name in f:
        f.copy(f[name], g, name=name)
# The root group's local heap loses its signature: every lookup in the root fails.
data = bytearray(open(src, "rb").read())
at = data.find(b"HEAP")
data[at:at + 4] = b"XXXX"
open(os.path.join(out, "bad-heap.h5"), "wb").write(data)
for name, victim in [("no-inclination", "BSE_Supernovae/SN_Orbit_Inclination_Angle"),
                     ("no-coalescence", "BSE_Double_Compact_Objects/Coalescence_Time"),
                     ("no-dco", "BSE_Double_Compact_Objects"), ("no-rlof-rows", "BSE_RLOF")]:
    with copy(name) as f:
        del f[victim]`,
    [detailed, tmp.dir],
  );
});
afterAll(() => tmp.cleanup());

describe("unreadable files fail with HDF5_UNREADABLE naming the file and the reason", () => {
  it("rejects a missing file", async () => {
    const p = join(tmp.dir, "nope", "COMPAS_Output.h5");
    for (const [, fn] of entryPoints) await expectError(() => fn(p), "HDF5_UNREADABLE", p, /does not exist/);
  });

  it("rejects a truncated file (the first 64 KiB of a real COMPAS output)", async () => {
    const p = join(tmp.dir, "truncated.h5");
    headBytes(detailed, p, 64 * 1024);
    for (const [, fn] of entryPoints) await expectError(() => fn(p), "HDF5_UNREADABLE", p, /truncated|corrupt/);
  });

  it("rejects the 96-byte file a killed COMPAS run leaves", async () => {
    const p = join(tmp.dir, "killed.h5");
    headBytes(detailed, p, 96);
    for (const [, fn] of entryPoints) await expectError(() => fn(p), "HDF5_UNREADABLE", p, /truncated/);
  });

  it("rejects a file of random bytes as not HDF5", async () => {
    const p = join(tmp.dir, "random.h5");
    // Random bytes could start with the signature only with probability 2^-64 per place.
    writeFileSync(p, randomBytes(200 * 1024));
    for (const [, fn] of entryPoints) await expectError(() => fn(p), "HDF5_UNREADABLE", p, /is not an HDF5 file: it has no HDF5 signature/);
  });

  it("rejects a column compressed with h5py's lzf filter instead of reading zeros", async () => {
    const p = variant("lzf");
    await expectError(() => extractDcos(p), "HDF5_UNREADABLE", p, /lzf/, /Mass\(1\)/);
    await expectError(() => readColumns(p, "BSE_Double_Compact_Objects", ["Mass(1)"]), "HDF5_UNREADABLE", /lzf/);
    // Counting rows needs only the shape, which an undecodable filter does not hide.
    expect((await groupRowCounts(p)).BSE_Double_Compact_Objects).toBe(1);
    // A gzip-compressed column is decoded fine.
    const gz = variant("gzip");
    const cols = await readColumns(gz, "BSE_Double_Compact_Objects", ["Mass(1)"]);
    const plain = await readColumns(detailed, "BSE_Double_Compact_Objects", ["Mass(1)"]);
    expect([...cols["Mass(1)"]]).toEqual([...plain["Mass(1)"]]);
  });
});

describe("files that are not HDF5 are named as such before h5wasm reads them", () => {
  it.each([
    ["notes.h5", "hello, this is text\n", "it holds plain text"],
    ["plan.json", '{\n  "schema_version": 1\n}\n', "it holds JSON text"],
    ["empty.h5", "", "it is empty (0 bytes)"],
  ])("rejects %s, saying what it holds", async (name, content, what) => {
    const p = join(tmp.dir, name);
    writeFileSync(p, content);
    for (const [, fn] of entryPoints) await expectError(() => fn(p), "HDF5_UNREADABLE", `${p} is not an HDF5 file: ${what}.`);
  });

  it("rejects a directory, pointing at a COMPAS_Output.h5 inside it", async () => {
    const ensemble = join(tmp.dir, "ensemble");
    const output = join(ensemble, "runs", "r0", "COMPAS_Output", "COMPAS_Output.h5");
    mkdirSync(dirname(output), { recursive: true });
    copyFileSync(detailed, output);
    const err = await inspect(ensemble).catch((e: unknown) => e);
    expect(isCompasEnsembleError(err, "HDF5_UNREADABLE")).toBe(true);
    expect((err as Error).message).toBe(`${ensemble} is a directory, not an HDF5 file.`);
    expect((err as CompasEnsembleError).hint).toContain(output);
  });

  it("reads a file whose HDF5 signature follows a 512-byte user block", async () => {
    const [withBlock, plain] = await Promise.all([inspect(variant("userblock")), inspect(detailed)]);
    expect(withBlock.groups).toEqual(plain.groups);
    expect(withBlock.dco).toEqual(plain.dco);
  });
});

describe("a damaged file is reported as corrupt, not as a missing column", () => {
  it("names the file and what could not be read, through every entry point", async () => {
    const p = variant("bad-heap");
    for (const [, fn] of entryPoints) {
      await expectError(() => fn(p), "HDF5_UNREADABLE", `HDF5 file ${p} is corrupt: reading`, /bad local heap signature/);
    }
  });
});

describe("missing columns and groups", () => {
  it("names a missing supernova column with HDF5_COLUMN_MISSING", async () => {
    const p = variant("no-inclination");
    await expectError(() => extractDcos(p), "HDF5_COLUMN_MISSING", /SN_Orbit_Inclination_Angle/, /BSE_Supernovae/, p);
  });

  it("names a missing DCO column with HDF5_COLUMN_MISSING", async () => {
    const p = variant("no-coalescence");
    await expectError(() => extractDcos(p), "HDF5_COLUMN_MISSING", /Coalescence_Time/);
  });

  it("treats a run without BSE_Double_Compact_Objects as zero DCOs", async () => {
    const p = variant("no-dco");
    const r = await extractDcos(p);
    expect(r.table.length).toBe(0);
    expect(r.mergesLibraryCut.length).toBe(0);
    expect((await inspect(p)).dco.total).toBe(0);
  });

  it("computes channels from zero RLOF rows when Run_Details says --rlof-printing was on", async () => {
    const p = variant("no-rlof-rows");
    const r = await extractDcos(p);
    expect(r.channelsKnown).toBe(true);
    expect(r.table.channel).toEqual(["V"]);
    expect(r.diagnostics.warnings).toEqual([]);
  });
});
