import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inspectExecutable, marchVerdict, runsOnMachine, type ElfInfo } from "../../src/compas/elf.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { buildFakeElf } from "../support/fake-elf.js";

const work = mkdtempSync(join(tmpdir(), "ce-elf-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const readelf = (args: string[]): string => execFileSync("readelf", args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });

describe("inspectExecutable", () => {
  it("reads an ELF's CPU, type, loader, compiler and recorded flags as readelf does", async () => {
    const elf = buildFakeElf({ cflags: ["-g", "-march=x86-64"], parent: work });
    const info = await inspectExecutable(elf);
    if (info.kind !== "elf") throw new Error(`not read as ELF: ${info.kind}`);
    expect(info.bits).toBe(64);
    expect(info.machine).toBe(execFileSync("uname", ["-m"], { encoding: "utf8" }).trim());
    const header = readelf(["-h", elf]);
    expect(info.type).toBe(/Type:\s+DYN/.test(header) ? "pie" : "executable");
    expect(info.interpreter).toBe(/Requesting program interpreter: (\S+)\]/.exec(readelf(["-l", elf]))![1]);
    expect(info.compilers).toEqual([/\]\s+(GCC: .*)$/m.exec(readelf(["-p", ".comment", elf]))![1]!.trim()]);
    const producer = /DW_AT_producer\s+:.*?: (GNU C.*)$/m.exec(readelf(["--debug-dump=info", elf]))![1]!.trim();
    expect(info.recordedFlags).toEqual([producer]);
  });

  it("tells scripts, macOS binaries, archives, text and object files apart", async () => {
    expect(await inspectExecutable(fakeCompasPath())).toEqual({ kind: "script", interpreter: "/usr/bin/env node" });
    const file = (name: string, content: Buffer | string): string => {
      const p = join(work, name);
      writeFileSync(p, content);
      return p;
    };
    expect(await inspectExecutable(file("macho", Buffer.concat([Buffer.from([0xcf, 0xfa, 0xed, 0xfe]), Buffer.alloc(60)])))).toEqual({ kind: "other", description: "a Mach-O binary (built on macOS)" });
    expect(await inspectExecutable(file("gz", Buffer.from([0x1f, 0x8b, 8, 0, 0, 0])))).toEqual({ kind: "other", description: "a gzip archive" });
    expect(await inspectExecutable(file("txt", "COMPAS build notes\n"))).toEqual({ kind: "other", description: "a text file" });
    expect(await inspectExecutable(file("empty", ""))).toEqual({ kind: "other", description: "an empty file" });
    writeFileSync(join(work, "o.c"), "int x(void) { return 1; }\n");
    execFileSync("gcc", ["-c", "-o", join(work, "o.o"), join(work, "o.c")]);
    expect(await inspectExecutable(join(work, "o.o"))).toMatchObject({ kind: "elf", type: "relocatable" });
  });
});

describe("marchVerdict", () => {
  const info = (recordedFlags: string[]): ElfInfo => ({ kind: "elf", bits: 64, machine: "x86_64", type: "pie", compilers: [], recordedFlags });
  it("recognises -march=native by the cache parameters GCC adds when it resolves it", () => {
    expect(marchVerdict(info(["GNU C++17 12.2.0 -march=znver3 -mavx2 --param=l1-cache-size=48 --param=l2-cache-size=1024 -mtune=znver3 -O3"]))).toEqual({ verdict: "native", march: "znver3" });
    expect(marchVerdict(info(["clang -march=native -O3"]))).toEqual({ verdict: "native" });
  });
  it("tells one CPU, a feature level and the generic target apart, and knows when nothing was recorded", () => {
    expect(marchVerdict(info(["GNU C++17 12.2.0 -march=skylake -O3"]))).toEqual({ verdict: "cpu", march: "skylake" });
    expect(marchVerdict(info(["GNU C++17 12.2.0 -march=x86-64-v3 -O3"]))).toEqual({ verdict: "level", march: "x86-64-v3" });
    expect(marchVerdict(info(["GNU C++17 12.2.0 -mtune=generic -march=x86-64 -O2"]))).toEqual({ verdict: "generic", march: "x86-64" });
    expect(marchVerdict(info(["GNU C++17 12.2.0 -O2"]))).toEqual({ verdict: "generic" });
    expect(marchVerdict(info([]))).toEqual({ verdict: "unknown" });
  });
});

describe("runsOnMachine", () => {
  it("matches ELF machines with uname -m spellings", () => {
    expect(runsOnMachine("x86_64", "x86_64")).toBe(true);
    expect(runsOnMachine("aarch64", "arm64")).toBe(true);
    expect(runsOnMachine("i686", "i386")).toBe(true);
    expect(runsOnMachine("arm", "armv7l")).toBe(true);
    expect(runsOnMachine("x86_64", "aarch64")).toBe(false);
  });
});
