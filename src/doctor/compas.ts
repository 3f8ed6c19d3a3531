import { resolve } from "node:path";
import { buildCompasArgs, parseFlags, withOutput } from "../compas/argv.js";
import { probeCompas, resolveCompasBinary, type CompasProbe } from "../compas/probe.js";
import type { ProfileName } from "../compas/profiles.js";
import { isCompasEnsembleError } from "../errors.js";
import type { GridPoint } from "../grid/schema.js";
import type { DoctorCheck } from "./types.js";

/** What the COMPAS checks found, for the checks that need the binary. */
export interface CompasFinding {
  checks: DoctorCheck[];
  binary?: string;
  probe?: CompasProbe;
}

/** Where {@link checkCompas} looks and what the library will pass. */
export interface CompasCheckOptions {
  compasBinary?: string;
  env: NodeJS.ProcessEnv;
  /** A grid point of the planned run, to build the flags the library passes. */
  point: GridPoint;
  profile: ProfileName;
  extraFlags: readonly string[];
  allowInertAxes?: boolean;
}

/**
 * Finds COMPAS the way `run` does, probes it (version, sha256, --help), and checks that its
 * --help lists every flag the library will pass for this profile and these extra flags.
 * @param options - lookup, grid point and flags
 */
export async function checkCompas(options: CompasCheckOptions): Promise<CompasFinding> {
  let binary: string;
  try {
    binary = resolveCompasBinary({ compasBinary: options.compasBinary, env: options.env });
  } catch (err) {
    if (!isCompasEnsembleError(err)) throw err;
    return { checks: [{ name: "compas", status: "fail", detail: err.message, ...(err.hint ? { fix: err.hint } : {}) }] };
  }
  const source = foundVia(binary, options);
  let probe: CompasProbe;
  try {
    probe = await probeCompas(binary);
  } catch (err) {
    if (!isCompasEnsembleError(err)) throw err;
    return {
      binary,
      checks: [
        {
          name: "compas",
          status: "fail",
          detail: `${binary} (from ${source}) does not run: ${err.message}`,
          fix: "see the build and libraries lines for why; run it by hand (COMPAS --version) to see its error",
          data: { binary, source },
        },
      ],
    };
  }
  const compas: DoctorCheck = {
    name: "compas",
    status: "ok",
    detail: `COMPAS ${probe.version} at ${binary} (from ${source}), sha256 ${probe.sha256}`,
    data: { binary, source, version: probe.version, sha256: probe.sha256 },
  };

  const args = withOutput(
    buildCompasArgs(options.point, { nSystems: 1, seed: 0 }, { profile: options.profile, extraFlags: options.extraFlags, allowInertAxes: options.allowInertAxes }),
    "/tmp",
  );
  const passed = [...new Set(parseFlags(args).map(([name]) => name).filter((n) => n.startsWith("--")))];
  const missing = passed.filter((f) => !probe.options.has(f));
  const flags: DoctorCheck =
    missing.length === 0
      ? { name: "flags", status: "ok", detail: `--help lists all ${passed.length} flags the library passes (profile ${options.profile})`, data: { passed, missing } }
      : {
          name: "flags",
          status: "fail",
          detail: `--help of COMPAS ${probe.version} does not list ${missing.join(", ")}, which the library passes (profile ${options.profile}); every task would fail with exit 3`,
          fix: "use a COMPAS that knows these options (the library's flags are those of COMPAS v03.07.00), or drop them from the extra flags",
          data: { passed, missing },
        };
  return { binary, probe, checks: [compas, flags] };
}

function foundVia(binary: string, options: CompasCheckOptions): string {
  if (options.compasBinary) return "--compas-binary";
  if (options.env.COMPAS_BINARY) return "COMPAS_BINARY";
  if (options.env.COMPAS_ROOT_DIR && resolve(options.env.COMPAS_ROOT_DIR, "src", "bin", "COMPAS") === binary) return "COMPAS_ROOT_DIR";
  return "PATH";
}
