import { CompasEnsembleError } from "../errors.js";
import type { AxisName, GridPoint } from "../grid/schema.js";
import { PROFILES, type ProfileName } from "./profiles.js";

/** How COMPAS is invoked for every task of an ensemble. */
export interface CompasCommandOptions {
  /** Flag profile; default "default". */
  profile?: ProfileName;
  /**
   * --hdf5-chunk-size. Default 1000 (COMPAS's minimum): the default 100000 preallocates
   * ~130 MB per output file whatever the number of binaries.
   */
  hdf5ChunkSize?: number;
  /** Extra COMPAS flags as an argv array (never a shell string), e.g. ["--quiet", "TRUE"]. */
  extraFlags?: readonly string[];
  /** Let extra flags switch off a prescription selector that a grid axis depends on. Default false. */
  allowInertAxes?: boolean;
}

/** The per-task part of a COMPAS command. */
export interface TaskSeeds {
  nSystems: number;
  /** --random-seed; binary i of the task gets SEED = seed + i. */
  seed: number;
}

/** Default --hdf5-chunk-size. */
export const DEFAULT_HDF5_CHUNK_SIZE = 1000;

// COMPAS's short aliases for the options the library sets itself.
const ALIASES: Record<string, string> = {
  "-n": "--number-of-systems",
  "-z": "--metallicity",
  "-o": "--output-path",
  "-c": "--output-container",
};

// Options that the library derives from the grid point or the plan; a user value would
// either be rejected by COMPAS as a duplicate or silently desynchronise the manifest. `use`
// says what to set instead, as the CLI flag and the API option: the message reaches both.
const OWNED: Record<string, { reason: string; use?: string }> = {
  "--number-of-systems": {
    reason: "the plan sets the systems of each task",
    use: "use --n-systems and --systems-per-task (nSystems and systemsPerTask in the API)",
  },
  "--random-seed": {
    reason: "seeds are derived per run and chunk so that ranges never overlap",
    use: "use --seed-base (seedBase in the API) to move the first seed",
  },
  "--output-path": {
    reason: "each task writes into its own scratch folder",
    use: "use --output-dir (output in the API) to choose where the ensemble goes",
  },
  "--output-container": {
    reason: "each task writes into its own scratch folder",
    use: "use --output-dir (output in the API) to choose where the ensemble goes",
  },
  "--logfile-type": { reason: "the library reads HDF5 output" },
  "--hdf5-chunk-size": {
    reason: `the library sets it (${DEFAULT_HDF5_CHUNK_SIZE}, COMPAS's minimum, unless told otherwise)`,
    use: "the CLI keeps the default, and the API's hdf5ChunkSize option changes it",
  },
  "--common-envelope-alpha": axisFlag("alpha_ce"),
  "--common-envelope-lambda": axisFlag("lambda_ce"),
  "--kick-magnitude-sigma-CCSN-NS": axisFlag("kick_sigma"),
  "--kick-magnitude-sigma-CCSN-BH": axisFlag("kick_sigma"),
  "--metallicity": axisFlag("metallicity"),
  "--mass-transfer-fa": axisFlag("mass_transfer_fa"),
  "--grid": {
    reason: "COMPAS grid files run one binary per line and ignore --number-of-systems",
    use: "give the library a grid file with --file (grid in the API) instead",
  },
};

function axisFlag(axis: AxisName): { reason: string; use: string } {
  return { reason: `it is the grid axis ${axis}`, use: `set its values in a grid file (--file, or grid in the API)` };
}

/** The largest --number-of-systems COMPAS accepts: the option is a C++ int (32 bits). */
export const MAX_COMPAS_SYSTEMS = 2_147_483_647;

/** The prescription selector each axis needs, from docs/compas.md: without it the axis is inert. */
export const AXIS_SELECTORS: ReadonlyArray<{ axis: AxisName; flag: string; value: string; defaultValue: string }> = [
  { axis: "lambda_ce", flag: "--common-envelope-lambda-prescription", value: "LAMBDA_FIXED", defaultValue: "LAMBDA_NANJING" },
  { axis: "kick_sigma", flag: "--kick-magnitude-distribution", value: "MAXWELLIAN", defaultValue: "MULLERMANDEL" },
  {
    axis: "mass_transfer_fa",
    flag: "--mass-transfer-accretion-efficiency-prescription",
    value: "FIXED",
    defaultValue: "THERMAL",
  },
];

/**
 * Splits an argv array of flags into [name, value] pairs. Accepts `--flag value`,
 * `--flag=value` and a flag followed by another flag (a bare boolean switch).
 * @param flags - extra flags as given by the user
 */
export function parseFlags(flags: readonly string[]): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  for (let i = 0; i < flags.length; i++) {
    const token = flags[i]!;
    if (!token.startsWith("-")) {
      throw new CompasEnsembleError(
        "OPTIONS_INVALID",
        `Extra COMPAS argument '${token}' is not a flag; pass flags as '--name value' pairs.`,
      );
    }
    const eq = token.indexOf("=");
    if (token.startsWith("--") && eq > 0) {
      out.push([canonical(token.slice(0, eq)), token.slice(eq + 1)]);
      continue;
    }
    const next = flags[i + 1];
    if (next !== undefined && !(next.startsWith("-") && Number.isNaN(Number(next)))) {
      out.push([canonical(token), next]);
      i++;
    } else {
      out.push([canonical(token), undefined]);
    }
  }
  return out;
}

function canonical(name: string): string {
  return ALIASES[name] ?? name;
}

// A flag as the user wrote it, for messages: "-o (--output-path)" when given by its alias.
function asGiven(name: string, raw: readonly string[]): string {
  const alias = Object.keys(ALIASES).find((a) => ALIASES[a] === name && raw.includes(a));
  return alias === undefined ? name : `${alias} (${name})`;
}

// COMPAS exits 3 when an option is given twice (its option parser matches names without
// regard to case), so a repeat is refused before any task runs rather than failing them all.
function assertNoRepeats(flags: ReadonlyArray<[string, string | undefined]>): void {
  const seen = new Map<string, Array<string | undefined>>();
  for (const [name, value] of flags) {
    const key = name.toLowerCase();
    seen.set(key, [...(seen.get(key) ?? []), value]);
  }
  for (const [name, values] of seen) {
    if (values.length < 2) continue;
    const shown = values.map((v) => (v === undefined ? "(no value)" : v)).join(", ");
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `Extra COMPAS flag ${flags.find(([n]) => n.toLowerCase() === name)![0]} is given ${values.length === 2 ? "twice" : `${values.length} times`} ` +
        `(values ${shown}), and COMPAS refuses a repeated option.`,
      { hint: "Keep only one of them in the extra COMPAS flags (those after --)." },
    );
  }
}

/**
 * Builds COMPAS's arguments (without the binary, --output-path and --output-container) for
 * one task of one grid point. Every axis takes effect: the three prescription selectors are
 * always added, and extra flags that would switch one off are refused with AXIS_INERT unless
 * `allowInertAxes` is set.
 * @param point - the grid point
 * @param seeds - number of systems and --random-seed of the task
 * @param options - profile, chunk size and extra flags
 */
export function buildCompasArgs(point: GridPoint, seeds: TaskSeeds, options: CompasCommandOptions = {}): string[] {
  const profile = PROFILES[options.profile ?? "default"];
  if (!profile) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `Unknown profile '${String(options.profile)}'; use one of ${Object.keys(PROFILES).join(", ")}.`,
    );
  }
  const chunk = options.hdf5ChunkSize ?? DEFAULT_HDF5_CHUNK_SIZE;
  if (!Number.isInteger(chunk) || chunk < 1000) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `hdf5ChunkSize ${chunk} is below COMPAS's minimum; use a whole number >= 1000.`,
    );
  }
  if (seeds.nSystems > MAX_COMPAS_SYSTEMS) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `A task of ${seeds.nSystems} systems is more than COMPAS's --number-of-systems holds (at most ${MAX_COMPAS_SYSTEMS}, a 32-bit int).`,
      { hint: `Split each run into tasks of at most ${MAX_COMPAS_SYSTEMS} systems with --systems-per-task (systemsPerTask in the API).` },
    );
  }
  // Seeds are plain numbers in the plan and the manifest: past 2^53 they stop being exact.
  // (Compared by subtraction: seed + nSystems itself may already be rounded.)
  if (!Number.isSafeInteger(seeds.seed) || seeds.seed > Number.MAX_SAFE_INTEGER - (seeds.nSystems - 1)) {
    throw new CompasEnsembleError(
      "OPTIONS_INVALID",
      `The seeds of a task starting at --random-seed ${seeds.seed} would pass ${Number.MAX_SAFE_INTEGER} (2^53 - 1), the largest seed this library handles exactly.`,
      { hint: "Lower --seed-base (seedBase in the API) or the number of systems per run." },
    );
  }
  const extra = parseFlags(options.extraFlags ?? []);
  const extraNames = new Set(extra.map(([name]) => name));
  for (const [name] of extra) {
    const owned = OWNED[name];
    if (owned) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `Extra COMPAS flag ${asGiven(name, options.extraFlags ?? [])} cannot be given because ${owned.reason}.`, {
        hint: `Remove it from the extra COMPAS flags (those after --)${owned.use ? `; ${owned.use}` : ""}.`,
      });
    }
  }
  assertNoRepeats(extra);
  for (const sel of AXIS_SELECTORS) {
    const given = extra.find(([name]) => name === sel.flag);
    if (given && (given[1] ?? "").toUpperCase() !== sel.value && !options.allowInertAxes) {
      throw new CompasEnsembleError(
        "AXIS_INERT",
        `Grid axis ${sel.axis} would have no effect: extra flag ${sel.flag} ${given[1] ?? ""} replaces ${sel.value}, ` +
          `and COMPAS then ignores the ${sel.axis} values.`,
        { hint: `Drop the flag, or pass --allow-inert-axes (allowInertAxes in the API) if that is what you want.` },
      );
    }
  }

  const p = point.params;
  const args: string[] = [
    "--number-of-systems", String(seeds.nSystems),
    "--random-seed", String(seeds.seed),
    "--common-envelope-alpha", String(p.alpha_ce),
    "--common-envelope-lambda", String(p.lambda_ce),
    "--kick-magnitude-sigma-CCSN-NS", String(p.kick_sigma),
    "--kick-magnitude-sigma-CCSN-BH", String(p.kick_sigma),
    "--metallicity", String(p.metallicity),
    "--mass-transfer-fa", String(p.mass_transfer_fa),
  ];
  for (const sel of AXIS_SELECTORS) {
    if (!extraNames.has(sel.flag)) args.push(sel.flag, sel.value);
  }
  for (const [name, value] of profile.flags) {
    if (!extraNames.has(name)) args.push(name, value);
  }
  args.push("--logfile-type", "HDF5", "--hdf5-chunk-size", String(chunk));
  for (const [name, value] of extra) {
    args.push(name);
    if (value !== undefined) args.push(value);
  }
  return args;
}

/**
 * Appends where COMPAS writes: `<outputPath>/<container>/COMPAS_Output.h5`.
 * @param args - arguments from {@link buildCompasArgs}
 * @param outputPath - folder that will hold the container
 * @param container - container folder name, default "COMPAS_Output"
 */
export function withOutput(args: readonly string[], outputPath: string, container = "COMPAS_Output"): string[] {
  return [...args, "--output-path", outputPath, "--output-container", container];
}

/**
 * Renders an argv array for display only (never for execution): each argument that needs it
 * is single-quoted the POSIX way.
 * @param argv - binary followed by its arguments
 */
export function displayCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}
