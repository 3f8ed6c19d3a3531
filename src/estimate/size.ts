import type { ProfileName } from "../compas/profiles.js";

// From the real COMPAS v03.07.00 fixtures (test/fixtures/compas, --hdf5-chunk-size 1000):
// 5 binaries gave 8,506,176 bytes (5.5 MB of it Run_Details, the rest one preallocated
// 1000-row chunk per dataset), 10,000 binaries without BSE_RLOF gave 13,144,904 bytes, i.e.
// ~515 bytes per binary beyond the first chunk. BSE_RLOF adds ~1.5 rows per binary (fixture 1),
// hence ~1,100 bytes per binary with the default profile. An estimate, not a measurement.

/** Bytes of a COMPAS_Output.h5 with at most 1000 binaries (the file never gets smaller). */
export const OUTPUT_FLOOR_BYTES = 8_506_176;
/** Estimated growth of COMPAS_Output.h5 per binary beyond the first 1000. */
export const OUTPUT_BYTES_PER_BINARY = 1_100;
/** Detailed output per binary (docs/compas.md: 1000 binaries wrote 5.0 GB, 131 MB of it the h5). */
export const DETAILED_BYTES_PER_BINARY = 4_870_000;

/** How one run's output size is estimated. */
export interface SizeModel {
  /** Bytes of an output file of up to 1000 binaries. */
  floorBytes: number;
  /** Growth per binary beyond the first 1000. */
  bytesPerBinary: number;
  /** Detailed_Output bytes per binary (predecessor profile). */
  detailedBytesPerBinary: number;
}

/** The size model from the fixtures and docs/compas.md, for a profile. */
export function measuredSizeModel(profile: ProfileName): SizeModel {
  return {
    floorBytes: OUTPUT_FLOOR_BYTES,
    bytesPerBinary: OUTPUT_BYTES_PER_BINARY,
    detailedBytesPerBinary: profile === "predecessor" ? DETAILED_BYTES_PER_BINARY : 0,
  };
}

/** Bytes one run of `n` binaries leaves in the store (merged COMPAS_Output.h5 and detailed files). */
export function runBytes(model: SizeModel, n: number): number {
  return model.floorBytes + Math.max(0, n - 1000) * model.bytesPerBinary + n * model.detailedBytesPerBinary;
}
