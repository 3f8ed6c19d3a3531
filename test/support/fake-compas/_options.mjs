// Command-line handling of the COMPAS stand-in: the subset of COMPAS v03.07.00 options the
// library passes, parsed with COMPAS's rules (exit 3 on unknown flag, bad value, repeated option).

/**
 * @typedef {"int" | "uint64" | "double" | "bool" | "enum" | "string"} OptionKind
 * @typedef {object} OptionSpec
 * @property {string} name        long name without the leading dashes
 * @property {string} [short]     one-letter alias
 * @property {OptionKind} kind
 * @property {string | number | bigint | boolean} def  default value
 * @property {string[]} [values]  accepted values of an enum option (upper case)
 * @property {string} help
 * @property {(v: any) => string | undefined} [check]  range check; returns an error message
 */

/** @type {OptionSpec[]} */
export const OPTIONS = [
  { name: "help", short: "h", kind: "bool", def: false, help: "Print this help message" },
  { name: "version", short: "v", kind: "bool", def: false, help: "Print COMPAS version string" },
  { name: "quiet", kind: "bool", def: false, help: "Suppress printing" },
  {
    name: "number-of-systems",
    short: "n",
    kind: "int",
    def: 10,
    help: "Specify the number of systems to simulate",
    check: (v) => (v < 1 ? "Number of systems requested must be > 0" : undefined),
  },
  { name: "random-seed", kind: "uint64", def: 0n, help: "Value to use as the seed for the random number generator" },
  {
    name: "common-envelope-alpha",
    kind: "double",
    def: 1.0,
    help: "Common Envelope efficiency alpha",
    check: (v) => (v < 0 ? "CE alpha (--common-envelope-alpha) must be >= 0" : undefined),
  },
  {
    name: "common-envelope-lambda",
    kind: "double",
    def: 0.1,
    help: "Common Envelope lambda (only used when --common-envelope-lambda-prescription = LAMBDA_FIXED)",
    check: (v) => (v < 0 ? "CE lambda (--common-envelope-lambda) must be >= 0" : undefined),
  },
  {
    name: "common-envelope-lambda-prescription",
    kind: "enum",
    def: "LAMBDA_NANJING",
    values: ["LAMBDA_FIXED", "LAMBDA_LOVERIDGE", "LAMBDA_NANJING", "LAMBDA_KRUCKOW", "LAMBDA_DEWI"],
    help: "CE lambda prescription",
  },
  {
    name: "common-envelope-allow-main-sequence-survive",
    kind: "bool",
    def: true,
    help: "Allow main sequence donors to survive common envelope evolution",
  },
  {
    name: "kick-magnitude-distribution",
    kind: "enum",
    def: "MULLERMANDEL",
    values: ["ZERO", "FIXED", "FLAT", "MAXWELLIAN", "BRAYELDRIDGE", "MULLER2016", "MULLER2016MAXWELLIAN", "MULLERMANDEL"],
    help: "Natal kick magnitude distribution",
  },
  {
    name: "kick-magnitude-sigma-CCSN-NS",
    kind: "double",
    def: 265.0,
    help: "Sigma for chosen kick magnitude distribution for neutron stars (km s^-1)",
    check: (v) => (v < 0 ? "Kick sigma (--kick-magnitude-sigma-CCSN-NS) must be >= 0" : undefined),
  },
  {
    name: "kick-magnitude-sigma-CCSN-BH",
    kind: "double",
    def: 265.0,
    help: "Sigma for chosen kick magnitude distribution for black holes (km s^-1)",
    check: (v) => (v < 0 ? "Kick sigma (--kick-magnitude-sigma-CCSN-BH) must be >= 0" : undefined),
  },
  {
    name: "metallicity",
    kind: "double",
    def: 0.0142,
    help: "Metallicity to use for the simulation",
    check: (v) =>
      v < 0.0001 || v > 0.03
        ? "Metallicity (--metallicity) should be absolute metallicity and must be between 0.0001 and 0.03"
        : undefined,
  },
  // Not range-checked, exactly like COMPAS: the library must check [0, 1] itself.
  { name: "mass-transfer-fa", kind: "double", def: 0.5, help: "Mass Transfer fraction accreted in FIXED prescription" },
  {
    name: "mass-transfer-accretion-efficiency-prescription",
    kind: "enum",
    def: "THERMAL",
    values: ["THERMAL", "FIXED"],
    help: "Mass transfer accretion efficiency prescription",
  },
  { name: "output-path", kind: "string", def: ".", help: "Directory for output" },
  { name: "output-container", kind: "string", def: "COMPAS_Output", help: "Container (directory) name for output files" },
  {
    name: "logfile-type",
    kind: "enum",
    def: "HDF5",
    values: ["HDF5", "CSV", "TSV", "TXT"],
    help: "File type for log files (the stand-in writes HDF5 only)",
  },
  {
    name: "hdf5-chunk-size",
    kind: "int",
    def: 100000,
    help: "HDF5 file dataset chunk size (minimum 1000, applies only when number-of-systems >= 1000)",
    check: (v) => (v < 1 ? "HDF5 chunk size (--hdf5-chunk-size) must be > 0" : undefined),
  },
  { name: "rlof-printing", kind: "bool", def: true, help: "Enable output parameters before/after RLOF" },
  { name: "evolve-unbound-systems", kind: "bool", def: true, help: "Continue evolving stars even if the binary is disrupted" },
  { name: "detailed-output", kind: "bool", def: false, help: "Print BSE detailed information to file" },
  {
    name: "initial-mass-function",
    kind: "enum",
    def: "KROUPA",
    values: ["SALPETER", "POWERLAW", "UNIFORM", "KROUPA"],
    help: "Initial mass function",
  },
  // Recorded in Run_Details like every COMPAS option: the star-forming mass (docs/rates.md)
  // is computed from them. The stand-in's toy physics does not sample with them.
  {
    name: "initial-mass-min",
    kind: "double",
    def: 5.0,
    help: "Minimum mass to generate using given IMF (Msol)",
    check: (v) => (v < 0 ? "Minimum initial mass (--initial-mass-min) must be >= 0" : undefined),
  },
  { name: "initial-mass-max", kind: "double", def: 150.0, help: "Maximum mass to generate using given IMF (Msol)" },
  { name: "minimum-secondary-mass", kind: "double", def: 0.1, help: "Minimum mass of secondary to generate (Msol)" },
  {
    name: "mass-ratio-distribution",
    kind: "enum",
    def: "FLAT",
    values: ["FLAT", "DUQUENNOYMAYOR1991", "SANA2012"],
    help: "Initial mass ratio distribution for q=m2/m1",
  },
  {
    name: "semi-major-axis-distribution",
    kind: "enum",
    def: "FLATINLOG",
    values: ["FLATINLOG", "CUSTOM", "DUQUENNOYMAYOR1991", "SANA2012"],
    help: "Initial semi-major axis distribution",
  },
];

const BY_NAME = new Map(OPTIONS.map((o) => [o.name, o]));
const BY_SHORT = new Map(OPTIONS.filter((o) => o.short).map((o) => [/** @type {string} */ (o.short), o]));

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

/** Thrown for any command-line problem; main() turns it into exit code 3. */
export class CommandLineError extends Error {}

/**
 * @param {OptionSpec} spec
 * @param {string} raw
 * @returns {string | number | bigint | boolean}
 */
function convert(spec, raw) {
  const bad = () =>
    new CommandLineError(`the argument ('${raw}') for option '--${spec.name}' is invalid`);
  switch (spec.kind) {
    case "bool": {
      const w = raw.toLowerCase();
      if (TRUE_WORDS.has(w)) return true;
      if (FALSE_WORDS.has(w)) return false;
      throw bad();
    }
    case "int": {
      if (!/^[+-]?\d+$/.test(raw)) throw bad();
      const v = Number(raw);
      if (!Number.isSafeInteger(v) || Math.abs(v) > 2 ** 31 - 1) throw bad();
      return v;
    }
    case "uint64": {
      if (!/^\+?\d+$/.test(raw)) throw bad();
      const v = BigInt(raw);
      if (v >= 2n ** 64n) throw bad();
      return v;
    }
    case "double": {
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)) throw bad();
      return Number(raw);
    }
    case "enum": {
      const v = raw.toUpperCase();
      if (!spec.values?.includes(v)) throw bad();
      return v;
    }
    default:
      return raw;
  }
}

/**
 * @typedef {object} ParsedArgs
 * @property {Record<string, any>} values     every option, defaults filled in
 * @property {Set<string>} supplied           names the user gave
 */

/**
 * Parses argv like COMPAS (boost::program_options): `--name value`, `--name=value`, `-x value`;
 * a boolean may stand alone (TRUE). Range checks run after parsing, as in COMPAS.
 * @param {string[]} argv
 * @returns {ParsedArgs}
 */
export function parseArgs(argv) {
  /** @type {Record<string, any>} */
  const values = {};
  const supplied = new Set();
  for (let i = 0; i < argv.length; i++) {
    const tok = /** @type {string} */ (argv[i]);
    let spec;
    let inline;
    if (tok.startsWith("--")) {
      const eq = tok.indexOf("=");
      const name = eq >= 0 ? tok.slice(2, eq) : tok.slice(2);
      inline = eq >= 0 ? tok.slice(eq + 1) : undefined;
      spec = BY_NAME.get(name);
    } else if (/^-[A-Za-z]$/.test(tok)) {
      spec = BY_SHORT.get(tok.slice(1));
    } else {
      throw new CommandLineError(`unexpected positional argument '${tok}'`);
    }
    if (!spec) throw new CommandLineError(`unrecognised option '${tok.split("=")[0]}'`);
    if (supplied.has(spec.name)) {
      throw new CommandLineError(`option '--${spec.name}' cannot be specified more than once`);
    }
    let raw = inline;
    if (raw === undefined) {
      const next = argv[i + 1];
      const nextIsValue = next !== undefined && !(next.startsWith("-") && !/^-[\d.]/.test(next));
      if (spec.kind === "bool" && !(nextIsValue && (TRUE_WORDS.has(next.toLowerCase()) || FALSE_WORDS.has(next.toLowerCase())))) {
        raw = "TRUE";
      } else if (nextIsValue) {
        raw = next;
        i++;
      } else {
        throw new CommandLineError(`the required argument for option '--${spec.name}' is missing`);
      }
    }
    values[spec.name] = convert(spec, raw);
    supplied.add(spec.name);
  }
  for (const spec of OPTIONS) {
    if (!(spec.name in values)) values[spec.name] = spec.def;
  }
  if (!values.help && !values.version) {
    for (const spec of OPTIONS) {
      const msg = spec.check?.(values[spec.name]);
      if (msg) throw new CommandLineError(msg);
    }
  }
  return { values, supplied };
}

/**
 * Formats a value the way COMPAS prints it in Run_Details (the text file).
 * @param {OptionSpec} spec
 * @param {any} v
 */
export function formatValue(spec, v) {
  switch (spec.kind) {
    case "bool":
      return v ? "TRUE" : "FALSE";
    case "double":
      return Number(v).toFixed(6);
    case "enum":
    case "string":
      return `'${v}'`;
    default:
      return String(v);
  }
}

/** COMPAS's type label for the Run_Details text file. */
export const TYPE_LABEL = /** @type {Record<OptionKind, string>} */ ({
  int: "SIGNED",
  uint64: "UNSIGNED_LONG",
  double: "DOUBLE",
  bool: "BOOL",
  enum: "STRING",
  string: "STRING",
});

/**
 * The option list in the layout of boost::program_options, as `COMPAS --help` prints it.
 */
export function helpText() {
  const lines = ["", "Options:"];
  for (const o of OPTIONS) {
    const head = o.short ? `-${o.short} [ --${o.name} ]` : `--${o.name}`;
    const arg = o.kind === "bool" ? "" : " arg";
    const def = o.kind === "bool" ? (o.def ? "TRUE" : "FALSE") : o.kind === "double" ? Number(o.def).toFixed(6) : String(o.def);
    lines.push(`  ${(head + arg).padEnd(58)}${o.help}${o.values ? `, one of {${o.values.join(", ")}}` : ""} (default = ${def})`);
  }
  return lines.join("\n") + "\n";
}
