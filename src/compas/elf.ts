import { open, type FileHandle } from "node:fs/promises";
import { inflateSync } from "node:zlib";
import { CompasEnsembleError } from "../errors.js";

// A small ELF reader instead of running readelf/objdump: binutils is often missing where
// COMPAS is run (and on the laptop that ships the binary), and only a few header fields and
// string sections are needed. Layout: the System V ABI's ELF specification (gABI).

/** What kind of file a COMPAS path holds. */
export type ExecutableInfo = ElfInfo | ScriptInfo | OtherFileInfo;

/** An ELF file: a Linux binary. */
export interface ElfInfo {
  kind: "elf";
  /** 32 or 64 bit. */
  bits: 32 | 64;
  /** The CPU it is built for, as `uname -m` names it (x86_64, aarch64, ...), or `e_machine <n>`. */
  machine: string;
  /** executable (ET_EXEC), pie (ET_DYN with an interpreter), shared-object, relocatable, core. */
  type: "executable" | "pie" | "shared-object" | "relocatable" | "core" | "other";
  /** The dynamic loader it asks for (PT_INTERP); absent for static binaries. */
  interpreter?: string;
  /** Compilers named in `.comment`, e.g. `GCC: (Debian 12.2.0-14) 12.2.0`. */
  compilers: string[];
  /**
   * Compiler command lines recorded in the binary: GCC's `.GCC.command.line` /
   * `.GNU.command.line` (-frecord-gcc-switches) and DWARF producer strings (-g, which records
   * the switches by default). Empty when the build recorded none.
   */
  recordedFlags: string[];
}

/** A `#!` script (the test stand-in, or a wrapper around COMPAS). */
export interface ScriptInfo {
  kind: "script";
  /** The `#!` line without `#!`, e.g. `/usr/bin/env node`. */
  interpreter: string;
}

/** Anything else: a Mach-O or Windows binary, an archive, text. */
export interface OtherFileInfo {
  kind: "other";
  /** What it looks like, e.g. "a Mach-O binary (macOS)". */
  description: string;
}

/** True when an ELF file can be started as a program (not an object file or library). */
export function isRunnableElf(info: ElfInfo): boolean {
  return info.type === "executable" || info.type === "pie";
}

const MACHINES: Record<number, string> = {
  3: "i686",
  8: "mips",
  20: "ppc",
  21: "ppc64",
  22: "s390x",
  40: "arm",
  62: "x86_64",
  183: "aarch64",
  243: "riscv64",
  258: "loongarch64",
};

const SHF_COMPRESSED = 0x800;
const PT_INTERP = 3;
// Recorded flags live in these sections; debug sections can be large, so each is capped.
const FLAG_SECTIONS = [".GCC.command.line", ".GNU.command.line", ".debug_str", ".debug_line_str"];
const MAX_SECTION_BYTES = 256 * 1024 * 1024;
const MAX_DEBUG_INFO_BYTES = 64 * 1024 * 1024;
const PRODUCER = /^(GNU (C|C\+\+|Fortran|Go|D)\S* \d|clang version|Intel|AMD clang)/;

/**
 * Reads what kind of file `path` is and, for ELF, the fields that decide whether it can run
 * on another host: CPU, type, loader, compiler and recorded compiler flags.
 * @param path - a COMPAS binary (or anything the user pointed at)
 */
export async function inspectExecutable(path: string): Promise<ExecutableInfo> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (cause) {
    throw new CompasEnsembleError("COMPAS_NOT_FOUND", `${path} cannot be read.`, { cause });
  }
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, 64, 0);
    const h = head.subarray(0, bytesRead);
    if (h.length >= 2 && h[0] === 0x23 && h[1] === 0x21) {
      const first = await readAt(fh, 0, 512);
      return { kind: "script", interpreter: first.toString("utf8").split("\n")[0]!.slice(2).trim() };
    }
    if (h.length < 52 || h.readUInt32BE(0) !== 0x7f454c46) return { kind: "other", description: describeOther(h) };
    return await readElf(fh, h);
  } finally {
    await fh.close();
  }
}

function describeOther(h: Buffer): string {
  if (h.length === 0) return "an empty file";
  const be = h.length >= 4 ? h.readUInt32BE(0) : 0;
  if ([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe].includes(be)) return "a Mach-O binary (built on macOS)";
  if (be === 0xcafebabe) return "a universal Mach-O binary (built on macOS)";
  if (h[0] === 0x4d && h[1] === 0x5a) return "a Windows (PE) executable";
  if (h[0] === 0x1f && h[1] === 0x8b) return "a gzip archive";
  if (h.subarray(0, 4).toString("latin1") === "PK\u0003\u0004") return "a zip archive";
  if (h.length >= 8 && h.subarray(0, 8).toString("latin1") === "!<arch>\n") return "a static library archive (.a)";
  if (h.subarray(0, Math.min(h.length, 64)).every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127))) return "a text file";
  return "not a program this tool recognises";
}

async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, offset);
  return buf.subarray(0, bytesRead);
}

interface Section {
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
}

async function readElf(fh: FileHandle, h: Buffer): Promise<ElfInfo> {
  const bits = h[4] === 2 ? 64 : 32;
  const le = h[5] !== 2;
  const u16 = (b: Buffer, o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number): number => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  const word = (b: Buffer, o: number): number => (bits === 64 ? u64(b, o) : u32(b, o));

  const eType = u16(h, 16);
  const eMachine = u16(h, 18);
  const phoff = word(h, bits === 64 ? 32 : 28);
  const shoff = word(h, bits === 64 ? 40 : 32);
  const phentsize = u16(h, bits === 64 ? 54 : 42);
  const phnum = u16(h, bits === 64 ? 56 : 44);
  const shentsize = u16(h, bits === 64 ? 58 : 46);
  let shnum = u16(h, bits === 64 ? 60 : 48);
  let shstrndx = u16(h, bits === 64 ? 62 : 50);

  let interpreter: string | undefined;
  if (phoff > 0 && phnum > 0 && phentsize > 0) {
    const ph = await readAt(fh, phoff, phnum * phentsize);
    for (let i = 0; i + phentsize <= ph.length; i += phentsize) {
      if (u32(ph, i) !== PT_INTERP) continue;
      const off = word(ph, i + (bits === 64 ? 8 : 4));
      const size = word(ph, i + (bits === 64 ? 32 : 16));
      interpreter = (await readAt(fh, off, Math.min(size, 4096))).toString("latin1").replace(/\0.*$/s, "");
    }
  }

  const sections: Section[] = [];
  if (shoff > 0 && shentsize > 0) {
    // Extended numbering: more than 0xff00 sections keep the real counts in section 0.
    const first = await readAt(fh, shoff, shentsize);
    if (first.length === shentsize) {
      if (shnum === 0) shnum = word(first, bits === 64 ? 32 : 20);
      if (shstrndx === 0xffff) shstrndx = u32(first, bits === 64 ? 40 : 24);
    }
    const table = await readAt(fh, shoff, Math.min(shnum, 65_536) * shentsize);
    const raw: Omit<Section, "name">[] = [];
    const nameOffsets: number[] = [];
    for (let i = 0; i + shentsize <= table.length; i += shentsize) {
      nameOffsets.push(u32(table, i));
      raw.push({
        type: u32(table, i + 4),
        flags: word(table, i + 8),
        offset: word(table, i + (bits === 64 ? 24 : 16)),
        size: word(table, i + (bits === 64 ? 32 : 20)),
      });
    }
    const strtab = raw[shstrndx];
    const names = strtab ? await readAt(fh, strtab.offset, Math.min(strtab.size, 1 << 20)) : Buffer.alloc(0);
    raw.forEach((s, i) => {
      const start = nameOffsets[i]!;
      const end = names.indexOf(0, start);
      sections.push({ ...s, name: start < names.length ? names.toString("latin1", start, end < 0 ? names.length : end) : "" });
    });
  }

  const content = async (s: Section, cap: number): Promise<Buffer> => {
    const data = await readAt(fh, s.offset, Math.min(s.size, cap));
    if ((s.flags & SHF_COMPRESSED) === 0) return data;
    const chdr = bits === 64 ? 24 : 12;
    // ch_type 1 is zlib; zstd-compressed debug sections are left unread.
    if (data.length < chdr || u32(data, 0) !== 1) return Buffer.alloc(0);
    try {
      return inflateSync(data.subarray(chdr));
    } catch {
      return Buffer.alloc(0);
    }
  };

  const compilers: string[] = [];
  const comment = sections.find((s) => s.name === ".comment");
  if (comment) for (const c of splitStrings(await content(comment, 1 << 20))) if (!compilers.includes(c)) compilers.push(c);

  const recorded = new Set<string>();
  for (const name of FLAG_SECTIONS) {
    const s = sections.find((x) => x.name === name);
    if (!s) continue;
    const strings = splitStrings(await content(s, MAX_SECTION_BYTES));
    for (const str of strings) if (name.endsWith("command.line") || PRODUCER.test(str)) recorded.add(str);
  }
  if (recorded.size === 0) {
    // A producer written inline (DW_FORM_string) sits in .debug_info itself.
    const info = sections.find((x) => x.name === ".debug_info");
    if (info) for (const str of splitStrings(await content(info, MAX_DEBUG_INFO_BYTES))) if (PRODUCER.test(str)) recorded.add(str);
  }

  const type = eType === 2 ? "executable" : eType === 3 ? (interpreter ? "pie" : "shared-object") : eType === 1 ? "relocatable" : eType === 4 ? "core" : "other";
  const machine = eMachine === 21 && le ? "ppc64le" : (MACHINES[eMachine] ?? `e_machine ${eMachine}`);
  return { kind: "elf", bits, machine, type, ...(interpreter ? { interpreter } : {}), compilers, recordedFlags: [...recorded] };
}

function splitStrings(buf: Buffer): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= buf.length; i++) {
    if (i === buf.length || buf[i] === 0) {
      if (i - start >= 4) {
        const s = buf.toString("utf8", start, i).trim();
        if (s) out.push(s);
      }
      start = i + 1;
    }
  }
  return out;
}

/** What the recorded compiler flags say about the instruction set a binary needs. */
export interface MarchVerdict {
  /**
   * native: built with -march=native (only CPUs like the build machine's); cpu: built for one
   * named CPU (-march=znver3, ...); level: an x86-64 feature level (-march=x86-64-v3);
   * generic: the default target; unknown: no compiler flags recorded in the binary.
   */
  verdict: "native" | "cpu" | "level" | "generic" | "unknown";
  /** The -march value found (GCC records the CPU that -march=native resolved to). */
  march?: string;
}

const GENERIC_MARCH = /^(x86-64|i[3-6]86|pentium4|armv[78](\.\d)?-a|rv64gc?|rv64imafdc)$/;

/**
 * Reads the -march a binary was built with from its recorded compiler flags. GCC records
 * `-march=native` already resolved (e.g. `-march=znver3 ... --param=l1-cache-size=48`); the
 * cache-size parameters are added only by that resolution, so they identify it.
 * @param info - from {@link inspectExecutable}
 */
export function marchVerdict(info: ElfInfo): MarchVerdict {
  if (info.recordedFlags.length === 0) return { verdict: "unknown" };
  let march: string | undefined;
  let native = false;
  for (const line of info.recordedFlags) {
    for (const token of line.split(/\s+/)) {
      if (token === "-march=native" || token.startsWith("--param=l1-cache-size=") || token.startsWith("--param=l2-cache-size=")) native = true;
      const m = /^-march=(.+)$/.exec(token);
      if (m && m[1] !== "native") march = m[1];
    }
  }
  if (native) return { verdict: "native", ...(march ? { march } : {}) };
  if (march === undefined || GENERIC_MARCH.test(march)) return { verdict: "generic", ...(march ? { march } : {}) };
  if (/^x86-64-v[2-4]$/.test(march)) return { verdict: "level", march };
  return { verdict: "cpu", march };
}

/**
 * Whether a binary built for `elfMachine` (as {@link ElfInfo.machine}) runs on a host whose
 * `uname -m` is `unameMachine` (i386-i686 and armv6l/armv7l spellings, and BSD's arm64,
 * count as the same CPU family).
 * @param elfMachine - from the ELF header
 * @param unameMachine - from the host
 */
export function runsOnMachine(elfMachine: string, unameMachine: string): boolean {
  const norm = (m: string): string => (/^i[3-6]86$/.test(m) ? "i686" : /^armv\d+\w*$/.test(m) ? "arm" : m === "arm64" ? "aarch64" : m);
  return norm(elfMachine) === norm(unameMachine);
}
