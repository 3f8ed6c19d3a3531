/**
 * Small real ELF executables standing in for COMPAS builds, compiled with the system's gcc:
 * they answer `--version` and `--help` as the COMPAS stand-in does (its --help text is baked
 * in), so probing them works, and refuse anything else (exit 3). What differs between them is
 * what the tests look at: the compiler flags recorded in the binary (-march, -g) and the
 * shared libraries it needs (a library built here, under a soname COMPAS really uses).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fakeCompasPath } from "./fake-compas/index.js";

/** Options of {@link buildFakeElf}. */
export interface FakeElfOptions {
  /** Extra gcc flags, e.g. ["-g", "-march=native"]. */
  cflags?: string[];
  /** Link against a library with this soname (e.g. libgsl.so.99), built beside the binary. */
  needs?: string;
  /**
   * Where that library lives: "rpath" puts it in a folder only this (root) process can read
   * and records the folder in the binary, so it runs here but `ldd` finds nothing for any other
   * user; "nowhere" leaves it out of every search path (missing here too).
   */
  library?: "rpath" | "nowhere";
  /** Folder to create the build's folder in (the caller removes it). Default the system temp folder. */
  parent?: string;
}

function cString(text: string): string {
  return JSON.stringify(text).replace(/\?/g, "\\?");
}

/**
 * Compiles a fake COMPAS into a fresh folder and returns its path.
 * @param options - flags and library
 */
export function buildFakeElf(options: FakeElfOptions = {}): string {
  const dir = mkdtempSync(join(options.parent ?? tmpdir(), "ce-fake-elf-"));
  chmodSync(dir, 0o755);
  const version = execFileSync(fakeCompasPath(), ["--version"], { encoding: "utf8" });
  const help = execFileSync(fakeCompasPath(), ["--help"], { encoding: "utf8" });
  const lib = options.needs ? "lib_f();" : "";
  writeFileSync(
    join(dir, "main.c"),
    [
      "#include <stdio.h>",
      "#include <string.h>",
      options.needs ? "int lib_f(void);" : "",
      "int main(int argc, char **argv) {",
      `  ${lib}`,
      `  if (argc == 2 && strcmp(argv[1], "--version") == 0) { fputs(${cString(version)}, stdout); return 0; }`,
      `  if (argc == 2 && strcmp(argv[1], "--help") == 0) { fputs(${cString(help)}, stdout); return 0; }`,
      '  fputs("ERROR: this test build only answers --version and --help\\n", stderr);',
      "  return 3;",
      "}",
      "",
    ].join("\n"),
  );
  const args = ["-O1", ...(options.cflags ?? []), "-o", join(dir, "COMPAS"), join(dir, "main.c")];
  if (options.needs) {
    const libDir = join(dir, "private-lib");
    mkdirSync(libDir);
    writeFileSync(join(libDir, "lib.c"), "int lib_f(void) { return 0; }\n");
    const stem = /^lib(.+)\.so\b/.exec(options.needs)?.[1];
    if (!stem) throw new Error(`${options.needs} is not a soname like libname.so.N`);
    execFileSync("gcc", ["-shared", "-fPIC", `-Wl,-soname,${options.needs}`, "-o", join(libDir, options.needs), join(libDir, "lib.c")]);
    execFileSync("ln", ["-sf", options.needs, join(libDir, `lib${stem}.so`)]);
    args.push(`-L${libDir}`, `-l${stem}`);
    if (options.library === "rpath") args.push(`-Wl,-rpath,${libDir}`);
    execFileSync("gcc", args);
    // 0700: root (the test) reads it, the SSH hosts' users do not.
    chmodSync(libDir, 0o700);
    if (options.library !== "rpath") execFileSync("rm", ["-f", join(libDir, options.needs), join(libDir, `lib${stem}.so`)]);
  } else {
    execFileSync("gcc", args);
  }
  return join(dir, "COMPAS");
}
