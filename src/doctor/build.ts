import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { arch } from "node:os";
import { promisify } from "node:util";
import { isRunnableElf, marchVerdict, type ExecutableInfo } from "../compas/elf.js";
import { missingLibrariesFix, osFamily, packagesFor, parseLdd, type OsFamily } from "../compas/libraries.js";
import type { DoctorCheck } from "./types.js";

const execFileAsync = promisify(execFile);

/** Node's names for CPUs, as `uname -m` spells them (what ELF headers are compared with). */
export function unameMachine(nodeArch: string = arch()): string {
  return ({ x64: "x86_64", arm64: "aarch64", ia32: "i686", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64", loong64: "loongarch64" } as Record<string, string>)[nodeArch] ?? nodeArch;
}

/** Why -march=native matters, said once wherever it is reported. */
export const MARCH_WHY =
  "a binary built for one CPU's instruction set dies with 'Illegal instruction' on CPUs that lack it, and on others its results can differ in the last bits (one ensemble = one build)";

/** The fix for a binary tied to one CPU. */
export const MARCH_FIX =
  "to ship one binary to other hosts, rebuild with a portable target (-march=x86-64-v2, or COMPAS's plain `make` rather than `make fast`), or build on each host type and run one ensemble per build";

/**
 * What kind of file COMPAS is and whether it was built with -march=native (from the compiler
 * flags recorded in the binary, when the build recorded them).
 * @param binary - the COMPAS path
 * @param info - from inspectExecutable
 */
export function checkBuild(binary: string, info: ExecutableInfo): DoctorCheck {
  if (info.kind === "script") {
    return {
      name: "build",
      status: "info",
      detail: `${binary} is a script (#!${info.interpreter}), not an ELF binary: -march=native and shared libraries concern whatever it runs`,
      data: { kind: "script", interpreter: info.interpreter },
    };
  }
  if (info.kind === "other") {
    return {
      name: "build",
      status: "fail",
      detail: `${binary} is ${info.description}, not a Linux executable`,
      fix: "build COMPAS on Linux (or in a Linux container) and point --compas-binary at that build",
      data: { kind: "other", description: info.description },
    };
  }
  const base = { kind: "elf", machine: info.machine, type: info.type, compilers: info.compilers };
  if (!isRunnableElf(info)) {
    return {
      name: "build",
      status: "fail",
      detail: `${binary} is an ELF ${info.type}, not an executable program`,
      fix: "point --compas-binary at the COMPAS executable (src/bin/COMPAS after make)",
      data: base,
    };
  }
  const here = unameMachine();
  if (info.machine !== here) {
    return {
      name: "build",
      status: "fail",
      detail: `${binary} is built for ${info.machine}, but this machine is ${here}`,
      fix: `build COMPAS on a ${here} machine`,
      data: base,
    };
  }
  const v = marchVerdict(info);
  const data = { ...base, march: v.march ?? null, verdict: v.verdict };
  const compiler = info.compilers[0] ? ` with ${info.compilers[0]}` : "";
  switch (v.verdict) {
    case "native":
      return {
        name: "build",
        status: "warn",
        detail: `built${compiler} with -march=native (resolved to ${v.march ?? "this build machine's CPU"}): fine here, but ${MARCH_WHY}`,
        fix: MARCH_FIX,
        data,
      };
    case "cpu":
      return { name: "build", status: "warn", detail: `built${compiler} for one CPU (-march=${v.march}): ${MARCH_WHY}`, fix: MARCH_FIX, data };
    case "level":
      return { name: "build", status: "ok", detail: `built${compiler} for the x86-64 level ${v.march}: runs on every CPU of that level or newer`, data };
    case "generic":
      return { name: "build", status: "ok", detail: `built${compiler} for a generic ${info.machine} CPU${v.march ? ` (-march=${v.march})` : ""}, not -march=native: portable to other hosts`, data };
    default:
      return {
        name: "build",
        status: "info",
        detail: `${info.machine} ELF executable${compiler}; it records no compiler flags, so whether it was built with -march=native is unknown (COMPAS's \`make fast\` uses it; ${MARCH_WHY})`,
        fix: "to make this checkable, build with -frecord-gcc-switches (or -g) in CXXFLAGS; until then run it only on CPUs like the build machine's if it came from `make fast`",
        data,
      };
  }
}

/**
 * The family of this machine's distribution, from /etc/os-release.
 */
export async function localOsFamily(): Promise<OsFamily> {
  try {
    return osFamily(await readFile("/etc/os-release", "utf8")).family;
  } catch {
    return "other";
  }
}

/**
 * Which shared libraries COMPAS needs (`ldd`) and which are missing, with the packages to
 * install on Debian/Ubuntu and the RHEL family.
 * @param binary - the COMPAS path
 * @param info - from inspectExecutable
 */
export async function checkLibraries(binary: string, info: ExecutableInfo): Promise<DoctorCheck> {
  if (info.kind !== "elf" || !isRunnableElf(info)) {
    return { name: "libraries", status: "skip", detail: "not an ELF executable, so there are no shared libraries to check" };
  }
  if (!info.interpreter) return { name: "libraries", status: "ok", detail: "statically linked: needs no shared libraries", data: { libraries: [] } };
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync("ldd", [binary], { timeout: 60_000, maxBuffer: 4 * 1024 * 1024 }));
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === "ENOENT") return { name: "libraries", status: "info", detail: "ldd is not installed, so the shared libraries were not checked", fix: "install ldd (glibc's libc-bin) to check them" };
    stdout = e.stdout ?? "";
    if (!stdout.includes("=>")) {
      return { name: "libraries", status: "warn", detail: `ldd ${binary} failed: ${(e.stderr ?? e.message).trim().split("\n")[0]}`, fix: "run ldd on it by hand to see why" };
    }
  }
  const entries = parseLdd(stdout);
  const missing = entries.filter((e) => !e.found).map((e) => e.name);
  const data = { libraries: entries, missing, packages: packagesFor(missing) };
  if (missing.length === 0) return { name: "libraries", status: "ok", detail: `all ${entries.length} shared libraries found`, data };
  return {
    name: "libraries",
    status: "fail",
    detail: `${missing.length} of ${entries.length} shared libraries missing: ${missing.join(", ")}`,
    fix: missingLibrariesFix(missing, await localOsFamily()),
    data,
  };
}

