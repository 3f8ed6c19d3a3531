import { Command, Option } from "commander";
import { PROFILE_NAMES, type ProfileName } from "../compas/profiles.js";
import { addGridOptions, pointsFromFlags, wholeNumber, type GridFlags } from "./_grid-options.js";

interface DoctorFlags extends GridFlags {
  nSystems: string;
  systemsPerTask?: string;
  outputDir: string;
  compasBinary?: string;
  profile: ProfileName;
  concurrency?: string;
  allowInertAxes?: boolean;
  python?: string;
  probeSystems: string;
  json?: boolean;
}

/** `compas-ensemble doctor`: what this machine lacks for a run, one line each with a fix. */
export function doctorCommand(): Command {
  return addGridOptions(new Command("doctor").description("check this machine for a run: Node, COMPAS, libraries, Python, disk, cores and memory"), true)
    .option("--n-systems <n>", "binaries per grid point", "10000")
    .option("--systems-per-task <n>", "binaries per task, if runs are split")
    .option("--output-dir <dir>", "where the ensemble would go (its disk is checked)", "./compas-ensemble-output")
    .option("--compas-binary <path>", "COMPAS executable (else COMPAS_BINARY, $COMPAS_ROOT_DIR/src/bin/COMPAS, PATH)")
    .addOption(new Option("--profile <name>", "COMPAS flag profile").choices([...PROFILE_NAMES]).default("default"))
    .option("--concurrency <n>", "COMPAS processes at once (default: cores)")
    .option("--allow-inert-axes", "allow extra COMPAS flags that make a grid axis have no effect")
    .option("--python <path>", "Python interpreter to check for h5py (default: python3 on PATH, then /usr/bin/python3)")
    .option("--probe-systems <n>", "binaries in the memory probe run (0: do not run COMPAS)", "10")
    .option("--json", "print the report as JSON")
    .argument("[compasFlags...]", "extra COMPAS flags after --, as for run")
    .action(async (extra: string[], flags: DoctorFlags) => {
      const { doctor, formatDoctor } = await import("../doctor/index.js");
      const report = await doctor({
        compasBinary: flags.compasBinary,
        points: pointsFromFlags(flags, true),
        nSystems: wholeNumber(flags.nSystems, "--n-systems", 1),
        ...(flags.systemsPerTask ? { systemsPerTask: wholeNumber(flags.systemsPerTask, "--systems-per-task", 1) } : {}),
        output: flags.outputDir,
        profile: flags.profile,
        extraFlags: extra,
        allowInertAxes: flags.allowInertAxes,
        ...(flags.concurrency ? { concurrency: wholeNumber(flags.concurrency, "--concurrency", 1) } : {}),
        ...(flags.python ? { python: flags.python } : {}),
        probeSystems: wholeNumber(flags.probeSystems, "--probe-systems", 0),
      });
      process.stdout.write((flags.json ? JSON.stringify(report, null, 2) : formatDoctor(report)) + "\n");
      process.exitCode = report.ok ? 0 : 1;
    });
}
