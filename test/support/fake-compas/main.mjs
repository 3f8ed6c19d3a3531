// Entry point of the COMPAS stand-in (see README.md). Behaves like COMPAS v03.07.00 as far as
// the library can observe: argv, exit codes, stdout progress and summary, output layout.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CommandLineError, OPTIONS, TYPE_LABEL, formatValue, helpText, parseArgs } from "./_options.mjs";
import { STELLAR_TYPE_NAMES, evolveSystem } from "./_evolve.mjs";
import { writeDetailedH5, writeOutputH5 } from "./_write.mjs";

const env = process.env;
const VERSION = env.FAKE_COMPAS_VERSION || "03.07.00";
const startedAt = new Date();
const startedDir = env.FAKE_COMPAS_STARTED_DIR;

/** @param {string} s */
const out = (s) => process.stdout.write(s);

/** Records the end of a run that stopped on its own, then exits. @param {number} code */
function finish(code) {
  if (startedDir) writeFileSync(join(startedDir, `${process.pid}.end`), `${Date.now()}\n`);
  process.exit(code);
}

/**
 * Creates the file holding this pid unless it exists; true when this process created it.
 * @param {string} path
 */
function createdExclusively(path) {
  try {
    writeFileSync(path, `${process.pid}\n`, { flag: "wx" });
    return true;
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code === "EEXIST") return false;
    throw err;
  }
}

/** C's asctime() layout, which COMPAS uses for its start and end stamps. @param {Date} d */
function asctime(d) {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const p = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return `${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${d.getFullYear()}`;
}

/** @param {number} seconds */
function wallTime(seconds) {
  const s = Math.floor(seconds);
  return `${String(Math.floor(s / 3600)).padStart(4, "0")}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function splash() {
  return [
    "",
    `COMPAS v${VERSION}`,
    "Compact Object Mergers: Population Astrophysics and Statistics",
    "by Team COMPAS (http://compas.science/index.html)",
    "A binary star simulator",
    "",
  ].join("\n");
}

/**
 * `mkdir -p` one level at a time: Node 20's recursive mkdirSync spins forever on some
 * uncreatable paths (e.g. under /proc).
 * @param {string} dir  absolute path
 */
function mkdirParents(dir) {
  if (existsSync(dir)) return;
  mkdirParents(dirname(dir));
  try {
    mkdirSync(dir);
  } catch (err) {
    // Another process (a parallel chunk) created it first: that is success, as for mkdir -p.
    if (/** @type {NodeJS.ErrnoException} */ (err).code !== "EEXIST") throw err;
  }
}

/** @param {string} s */
function hash32(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof CommandLineError)) throw err;
    process.stderr.write(`ERROR: Error in command line options: ${err.message}\n`);
    process.exit(3);
  }
  const v = args.values;
  if (v.help) {
    out(splash() + helpText());
    process.exit(0);
  }
  if (v.version) {
    out(splash() + "\n");
    process.exit(0);
  }

  if (startedDir) writeFileSync(join(startedDir, `${process.pid}.start`), `${Date.now()}\n`);
  if (env.FAKE_COMPAS_EXIT_AT_ONCE === "1") finish(0);
  if (env.FAKE_COMPAS_FAIL === "exit3") {
    process.stderr.write("ERROR: Error in command line options: failure forced by FAKE_COMPAS_FAIL=exit3\n");
    finish(3);
  }
  const failOnce = env.FAKE_COMPAS_FAIL_ONCE_FILE;
  // Exclusive create ("wx"), not exists-then-write: runs started together (two array elements
  // on two CPUs) both saw no file and both failed.
  if (failOnce && createdExclusively(failOnce)) {
    // A failure of the machine, not of COMPAS: killed as the kernel's OOM killer kills.
    process.kill(process.pid, "SIGKILL");
  }
  if (v["logfile-type"] !== "HDF5") {
    process.stderr.write(`ERROR: the COMPAS stand-in writes HDF5 only (--logfile-type ${v["logfile-type"]})\n`);
    finish(3);
  }

  const n = /** @type {number} */ (v["number-of-systems"]);
  const seedBase = args.supplied.has("random-seed") ? /** @type {bigint} */ (v["random-seed"]) : BigInt(Math.floor(startedAt.getTime() / 1000));

  // COMPAS falls back to the working directory, silently, when it cannot create --output-path.
  let outputPath = resolve(String(v["output-path"]));
  try {
    mkdirParents(outputPath);
  } catch {
    outputPath = process.cwd();
  }
  const baseName = String(v["output-container"]);
  let container = baseName;
  for (let k = 1; existsSync(join(outputPath, container)); k++) container = `${baseName}_${k}`;
  const containerDir = join(outputPath, container);
  mkdirSync(containerDir, { recursive: true });
  const h5Path = join(containerDir, "COMPAS_Output.h5");
  const rdPath = join(containerDir, "Run_Details");
  // What a killed COMPAS leaves behind: the HDF5 superblock start and an empty Run_Details.
  const stub = Buffer.alloc(96);
  Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]).copy(stub);
  writeFileSync(h5Path, stub);
  writeFileSync(rdPath, "");

  out(splash());
  out("\nGo to https://compas.readthedocs.io/en/latest/index.html for the online documentation\n");
  out("Check https://compas.readthedocs.io/en/latest/pages/whats-new.html to see what's new in the latest release\n\n");
  out(`Start generating binaries at ${asctime(startedAt)}\n\n`);

  if (env.FAKE_COMPAS_HANG === "1") {
    out(`fake COMPAS pid ${process.pid}\n`);
    setInterval(() => {}, 1 << 30);
    return;
  }

  // Start loading h5wasm (~0.3-0.8 s) while the binaries evolve.
  import("h5wasm/node").then((m) => m.default.ready).catch(() => {});
  const killAfter = env.FAKE_COMPAS_KILL_AFTER !== undefined ? Number(env.FAKE_COMPAS_KILL_AFTER) : undefined;
  const killSignal = /** @type {NodeJS.Signals} */ (env.FAKE_COMPAS_KILL_SIGNAL || "SIGTERM");
  const stopAfter = env.FAKE_COMPAS_FAIL === "stopped" ? Math.min(2, n) : undefined;
  const delayMs = Number(env.FAKE_COMPAS_DELAY_MS ?? 0);
  const incomplete = env.FAKE_COMPAS_INCOMPLETE === "1";
  const toCreate = incomplete ? Math.floor(n / 2) : n;
  const gslSalt = env.GSL_RNG_SEED || env.GSL_RNG_TYPE ? hash32(`${env.GSL_RNG_SEED ?? ""}|${env.GSL_RNG_TYPE ?? ""}`) : 0;
  const phys = {
    alpha: v["common-envelope-alpha"],
    lambdaFlag: v["common-envelope-lambda"],
    lambdaPrescription: v["common-envelope-lambda-prescription"],
    Z: v.metallicity,
    kickDistribution: v["kick-magnitude-distribution"],
    sigmaNS: v["kick-magnitude-sigma-CCSN-NS"],
    sigmaBH: v["kick-magnitude-sigma-CCSN-BH"],
    fa: v["mass-transfer-fa"],
    accretionPrescription: v["mass-transfer-accretion-efficiency-prescription"],
    evolveUnbound: v["evolve-unbound-systems"],
    msSurvive: v["common-envelope-allow-main-sequence-survive"],
    salt: gslSalt,
    // One merging BBH every round(K x Z) seeds (README.md), so yields differ by point.
    dcoPeriod: env.FAKE_COMPAS_DCO_PERIOD_PER_Z ? Math.max(1, Math.round(Number(env.FAKE_COMPAS_DCO_PERIOD_PER_Z) * v.metallicity)) : 0,
  };

  /** @type {Record<string, import("./_evolve.mjs").Row[]>} */
  const rows = {
    BSE_System_Parameters: [],
    BSE_Supernovae: [],
    BSE_Common_Envelopes: [],
    BSE_RLOF: [],
    BSE_Double_Compact_Objects: [],
  };
  /** @type {import("./_evolve.mjs").SystemResult[]} */
  const systems = [];
  const mask = (1n << 64n) - 1n;
  const killNow = () => {
    process.kill(process.pid, killSignal);
    setInterval(() => {}, 1 << 30);
  };
  if (killAfter === 0) return killNow();
  for (let i = 0; i < toCreate; i++) {
    const res = evolveSystem((seedBase + BigInt(i)) & mask, phys);
    systems.push(res);
    rows.BSE_System_Parameters?.push(res.system);
    rows.BSE_Supernovae?.push(...res.supernovae);
    rows.BSE_Common_Envelopes?.push(...res.commonEnvelopes);
    if (v["rlof-printing"]) rows.BSE_RLOF?.push(...res.rlof);
    if (res.dco) rows.BSE_Double_Compact_Objects?.push(res.dco);
    if (!v.quiet) {
      const [z1, z2] = res.zamsTypes;
      const [f1, f2] = res.finalTypes;
      const names = STELLAR_TYPE_NAMES;
      out(`${i}: ${res.statusText}: (${names[z1]} -> ${names[f1]}) + (${names[z2]} -> ${names[f2]})\n`);
    }
    if (delayMs > 0) await sleep(delayMs);
    if (i + 1 === stopAfter) {
      process.stderr.write("ERROR: in BaseBinaryStar::Evolve(): failure forced by FAKE_COMPAS_FAIL=stopped\n");
      out(`\nGenerated ${i + 1} of ${n} binaries requested\n\n`);
      finish(2);
    }
    if (killAfter !== undefined && (i + 1 === killAfter || (i + 1 === toCreate && killAfter > toCreate))) return killNow();
  }

  if (v["detailed-output"]) {
    const dir = join(containerDir, "Detailed_Output");
    mkdirSync(dir, { recursive: true });
    for (const [i, s] of systems.entries()) {
      await writeDetailedH5(join(dir, `BSE_Detailed_Output_${i}.h5`), s.system, [0, 1, 2]);
    }
  }

  const endedAt = new Date();
  const cpu = process.cpuUsage();
  const clock = (cpu.user + cpu.system) / 1e6;
  const wall = wallTime((endedAt.getTime() - startedAt.getTime()) / 1000);

  /** @type {import("./_write.mjs").RunDetailsEntry[]} */
  const details = [];
  for (const spec of OPTIONS) {
    const value = v[spec.name];
    const derivation = args.supplied.has(spec.name) ? "USER_SUPPLIED" : "DEFAULT_USED";
    if (spec.kind === "enum" || spec.kind === "string") {
      const s = `'${value}'`;
      details.push({ name: spec.name, dtype: `A${s.length + 1}`, value: s, derivation });
    } else {
      const dtype = { int: "<i", uint64: "<Q", double: "<d", bool: "<B" }[spec.kind];
      details.push({ name: spec.name, dtype, value: spec.kind === "bool" ? Number(value) : value, derivation });
    }
  }
  const runStart = `${asctime(startedAt)}\n`;
  const runEnd = `${asctime(endedAt)}\n`;
  details.push(
    { name: "COMPAS-Version", dtype: `A${VERSION.length + 1}`, value: VERSION, derivation: "CALCULATED" },
    { name: "Run-Start", dtype: `A${runStart.length}`, value: runStart, derivation: "CALCULATED" },
    { name: "Run-End", dtype: `A${runEnd.length}`, value: runEnd, derivation: "CALCULATED" },
    { name: "Objects-Requested", dtype: "<i", value: n, derivation: "CALCULATED" },
    { name: "Objects-Created", dtype: "<i", value: toCreate, derivation: "CALCULATED" },
    { name: "Clock-Time", dtype: "<d", value: clock, derivation: "CALCULATED" },
    { name: "Wall-Time", dtype: "A11", value: wall, derivation: "CALCULATED" },
    { name: "Actual-Random-Seed", dtype: "<Q", value: seedBase, derivation: "CALCULATED" },
    { name: "fixedRandomSeed", dtype: "<B", value: args.supplied.has("random-seed") ? 1 : 0, derivation: "CALCULATED" },
  );
  const chunkSize = n < 1000 ? 1000 : Math.max(1000, /** @type {number} */ (v["hdf5-chunk-size"]));
  try {
    await writeOutputH5(h5Path, rows, chunkSize, details);
  } catch (err) {
    process.stderr.write(`ERROR: logging failed: ${err instanceof Error ? err.message : String(err)}\n`);
    finish(4);
  }

  const clockText = String(Number(clock.toPrecision(6)));
  const summary = [
    incomplete ? "Evolution stopped because an error occurred\n\n" : "",
    `Generated ${toCreate} of ${n} binaries requested\n\n`,
  ].join("");
  const timing = `End generating binaries at ${asctime(endedAt)}\n\nClock time = ${clockText} CPU seconds\nWall time  = ${wall} (hhhh:mm:ss)\n`;

  const optionLines = [...OPTIONS]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((spec) => `${spec.name} = ${formatValue(spec, v[spec.name])}, ${args.supplied.has(spec.name) ? "USER_SUPPLIED" : "DEFAULT_USED"}, ${TYPE_LABEL[spec.kind]}`);
  const runDetailsText = [
    splash(),
    "Go to https://compas.readthedocs.io/en/latest/index.html for the online documentation",
    "Check https://compas.readthedocs.io/en/latest/pages/whats-new.html to see what's new in the latest release",
    "",
    `Start generating binaries at ${asctime(startedAt)}`,
    "",
    summary + timing,
    "",
    "COMMAND LINE OPTIONS",
    "--------------------",
    "",
    ...optionLines,
    "",
    "",
    "OTHER PARAMETERS",
    "----------------",
    "",
    `fixedRandomSeed = ${args.supplied.has("random-seed") ? "TRUE" : "FALSE"}, CALCULATED, BOOL`,
    `actual-output-path = ${outputPath}, CALCULATED, STRING`,
    `actual-output-container = ${container}, CALCULATED, STRING`,
    `actual-random-seed = ${seedBase}, CALCULATED, UNSIGNED_LONG`,
    "",
  ].join("\n");
  writeFileSync(rdPath, runDetailsText);

  out(`\n${summary}`);
  if (!incomplete) out("Simulation completed\n\n");
  out(`${timing}\n`);
  finish(0);
}

main().catch((err) => {
  process.stderr.write(`ERROR: ${err instanceof Error ? err.stack : String(err)}\n`);
  finish(4);
});
