/** Names of the built-in COMPAS flag profiles. */
export const PROFILE_NAMES = ["default", "predecessor"] as const;
/** A built-in COMPAS flag profile. */
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** What a profile adds to every COMPAS command, and what it costs. */
export interface Profile {
  name: ProfileName;
  /** Flags as [name, value] pairs, so user flags can replace them by name. */
  flags: ReadonlyArray<readonly [string, string]>;
  /** Shown before a run with this profile; undefined when there is nothing to warn about. */
  warning?: string;
}

// The predecessor's astrophysical choices, kept in both profiles so results stay comparable.
const COMMON: ReadonlyArray<readonly [string, string]> = [
  ["--initial-mass-function", "KROUPA"],
  ["--semi-major-axis-distribution", "FLATINLOG"],
  ["--common-envelope-allow-main-sequence-survive", "TRUE"],
  ["--evolve-unbound-systems", "FALSE"],
  // Formation channels are derived from BSE_RLOF, which only this flag makes COMPAS write.
  ["--rlof-printing", "TRUE"],
];

/**
 * The built-in profiles. `default`: no detailed output. `predecessor`: the old script's flags,
 * detailed output included, which measured ~38x slower and ~5 MB per binary (docs/compas.md).
 */
export const PROFILES: Record<ProfileName, Profile> = {
  default: { name: "default", flags: [...COMMON, ["--detailed-output", "FALSE"]] },
  predecessor: {
    name: "predecessor",
    flags: [...COMMON, ["--detailed-output", "TRUE"]],
    warning:
      "profile 'predecessor' turns on --detailed-output: measured about 38x slower (0.227 s instead of " +
      "0.006 s per binary) and about 5 MB of output per binary, without changing any BSE table; use the " +
      "default profile unless you need per-timestep histories for a handful of seeds.",
  },
};

/** Seconds of one core per binary, measured with COMPAS v03.07.00 (docs/compas.md), for rough plans. */
export const MEASURED_SECONDS_PER_BINARY: Record<ProfileName, number> = {
  default: 0.0063,
  predecessor: 0.227,
};

/** Bytes of output per binary with --hdf5-chunk-size 1000 (8.8 MB per 1000 binaries). */
export const MEASURED_BYTES_PER_BINARY: Record<ProfileName, number> = {
  default: 8_800,
  predecessor: 5_000_000,
};
