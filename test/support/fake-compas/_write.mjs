// Writes the stand-in's output in COMPAS's layout: COMPAS_Output.h5 (BSE groups + Run_Details
// group) and the Run_Details text file.
import { GROUPS } from "./_schema.mjs";

/** @typedef {import("./_evolve.mjs").Row} Row */

/** @param {string} dtype @param {number} n */
function emptyColumn(dtype, n) {
  switch (dtype) {
    case "<d":
      return new Float64Array(n);
    case "<B":
      return new Uint8Array(n);
    case "<i":
      return new Int32Array(n);
    case "<I":
      return new Uint32Array(n);
    case "<Q":
      return new BigUint64Array(n);
    default:
      return /** @type {string[]} */ (new Array(n).fill(""));
  }
}

/**
 * @param {any} file   h5wasm File or Group
 * @param {string} name
 * @param {any} data
 * @param {string} dtype
 * @param {number} chunk
 * @param {string} units
 */
function writeColumn(file, name, data, dtype, chunk, units) {
  const ds = file.create_dataset({ name, data, shape: [data.length], dtype, maxshape: [null], chunks: [chunk] });
  ds.create_attribute("units", units, [], `A${units.length + 1}`);
}

/**
 * @typedef {object} RunDetailsEntry
 * @property {string} name
 * @property {string} dtype
 * @property {number | bigint | string} value
 * @property {"USER_SUPPLIED" | "DEFAULT_USED" | "CALCULATED"} derivation
 */

/**
 * Writes COMPAS_Output.h5. A group with no rows is not created, as in COMPAS.
 * @param {string} path
 * @param {Record<string, Row[]>} rowsByGroup
 * @param {number} chunk  chunk length of every BSE dataset
 * @param {RunDetailsEntry[]} runDetails
 */
export async function writeOutputH5(path, rowsByGroup, chunk, runDetails) {
  const h5wasm = (await import("h5wasm/node")).default;
  await h5wasm.ready;
  const file = new h5wasm.File(path, "w");
  try {
    for (const [group, rows] of Object.entries(rowsByGroup)) {
      if (rows.length === 0) continue;
      const g = file.create_group(group);
      for (const [name, dtype, units] of /** @type {import("./_schema.mjs").Column[]} */ (GROUPS[group])) {
        const col = emptyColumn(dtype, rows.length);
        for (let i = 0; i < rows.length; i++) {
          const v = /** @type {Row} */ (rows[i])[name];
          if (v === undefined) continue;
          if (col instanceof BigUint64Array) col[i] = BigInt(v);
          else /** @type {any} */ (col)[i] = v;
        }
        writeColumn(g, name, col, dtype, chunk, units);
      }
    }
    // Run_Details datasets always use chunks of 1000, whatever --hdf5-chunk-size says.
    const rd = file.create_group("Run_Details");
    for (const e of runDetails) {
      const data =
        e.dtype === "<Q" ? BigUint64Array.of(BigInt(e.value)) : e.dtype.startsWith("A") ? [String(e.value)] : [e.value];
      const typed =
        e.dtype === "<d" ? Float64Array.from(/** @type {number[]} */ (data)) :
        e.dtype === "<i" ? Int32Array.from(/** @type {number[]} */ (data)) :
        e.dtype === "<B" ? Uint8Array.from(/** @type {number[]} */ (data)) : data;
      writeColumn(rd, e.name, typed, e.dtype, 1000, "-");
      writeColumn(rd, `${e.name}-Derivation`, [e.derivation.padEnd(13)], "A14", 1000, "-");
    }
  } finally {
    file.close();
  }
}

/**
 * Writes a tiny per-binary detailed output file (datasets at the root, like COMPAS's).
 * @param {string} path
 * @param {Row} system
 * @param {number[]} times
 */
export async function writeDetailedH5(path, system, times) {
  const h5wasm = (await import("h5wasm/node")).default;
  await h5wasm.ready;
  const file = new h5wasm.File(path, "w");
  try {
    const n = times.length;
    writeColumn(file, "SEED", new BigUint64Array(n).fill(BigInt(system.SEED)), "<Q", 1000, "-");
    writeColumn(file, "Time", Float64Array.from(times), "<d", 1000, "Myr");
    writeColumn(file, "Mass(1)", new Float64Array(n).fill(Number(system["Mass@ZAMS(1)"])), "<d", 1000, "Msol");
    writeColumn(file, "Mass(2)", new Float64Array(n).fill(Number(system["Mass@ZAMS(2)"])), "<d", 1000, "Msol");
    const st1 = Int32Array.from(times, (_, i) => (i === n - 1 ? Number(system["Stellar_Type(1)"]) : Number(system["Stellar_Type@ZAMS(1)"])));
    const st2 = Int32Array.from(times, (_, i) => (i === n - 1 ? Number(system["Stellar_Type(2)"]) : Number(system["Stellar_Type@ZAMS(2)"])));
    writeColumn(file, "Stellar_Type(1)", st1, "<i", 1000, "-");
    writeColumn(file, "Stellar_Type(2)", st2, "<i", 1000, "-");
  } finally {
    file.close();
  }
}
