import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, createReadStream, statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { promisify } from "node:util";
import { CompasEnsembleError } from "../errors.js";
import { compasEnv } from "./env.js";
import { parseFlags } from "./argv.js";
import { binaryIdentity, cachedIdentity, identityKey, type IdentityReaders, type ProbeOutput } from "./identity-cache.js";

const execFileAsync = promisify(execFile);

/** Where to look for the COMPAS binary. */
export interface ResolveCompasOptions {
  /** An explicit path (--compas-binary); wins over everything else. */
  compasBinary?: string;
  /** Environment to read COMPAS_BINARY, COMPAS_ROOT_DIR and PATH from; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Finds the COMPAS binary: --compas-binary, then $COMPAS_BINARY, then
 * $COMPAS_ROOT_DIR/src/bin/COMPAS, then `COMPAS` on PATH. Throws COMPAS_NOT_FOUND saying
 * where it looked and what to do.
 * @param options - explicit path and environment
 * @returns the absolute path of an executable file
 */
export function resolveCompasBinary(options: ResolveCompasOptions = {}): string {
  const env = options.env ?? process.env;
  if (options.compasBinary) return checkExecutable(resolve(options.compasBinary), "--compas-binary");
  if (env.COMPAS_BINARY) return checkExecutable(resolve(env.COMPAS_BINARY), "COMPAS_BINARY");
  const looked: string[] = ["--compas-binary (not given)", "COMPAS_BINARY (not set)"];
  if (env.COMPAS_ROOT_DIR) {
    const candidate = join(env.COMPAS_ROOT_DIR, "src", "bin", "COMPAS");
    if (isExecutableFile(candidate)) return resolve(candidate);
    looked.push(`${candidate} (from COMPAS_ROOT_DIR; missing or not executable)`);
  } else {
    looked.push("$COMPAS_ROOT_DIR/src/bin/COMPAS (COMPAS_ROOT_DIR not set)");
  }
  for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const candidate = join(dir, "COMPAS");
    if (isAbsolute(candidate) && isExecutableFile(candidate)) return candidate;
  }
  looked.push("COMPAS on PATH (not found)");
  throw new CompasEnsembleError("COMPAS_NOT_FOUND", `No COMPAS binary found; looked at ${looked.join(", ")}.`, {
    hint:
      "Build COMPAS (see https://compas.readthedocs.io) and pass --compas-binary /path/to/COMPAS, " +
      "or set COMPAS_BINARY or COMPAS_ROOT_DIR.",
  });
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function checkExecutable(path: string, source: string): string {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (cause) {
    throw new CompasEnsembleError("COMPAS_NOT_FOUND", `COMPAS binary ${path} (from ${source}) does not exist.`, {
      cause,
      hint: `Fix ${source} to point at the COMPAS executable, usually $COMPAS_ROOT_DIR/src/bin/COMPAS.`,
    });
  }
  if (!isFile) {
    throw new CompasEnsembleError("COMPAS_NOT_FOUND", `COMPAS binary ${path} (from ${source}) is not a file.`, {
      hint: `Point ${source} at the COMPAS executable itself, usually $COMPAS_ROOT_DIR/src/bin/COMPAS.`,
    });
  }
  try {
    accessSync(path, constants.X_OK);
  } catch (cause) {
    throw new CompasEnsembleError("COMPAS_NOT_FOUND", `COMPAS binary ${path} (from ${source}) is not executable.`, {
      cause,
      hint: `Run chmod +x ${path}, or point ${source} at the right file.`,
    });
  }
  return path;
}

/** What the library knows about a COMPAS binary after probing it. */
export interface CompasProbe {
  /** Absolute path. */
  binary: string;
  /** Version number printed by --version, e.g. "03.07.00" (the whole first line if none). */
  version: string;
  /** sha256 of the binary file, hex: one ensemble = one build (compas.md). */
  sha256: string;
  /** Every option name (with leading dashes) that --help lists. */
  options: ReadonlySet<string>;
}

/** Options of {@link probeCompas} and {@link compasSha256}. */
export interface ProbeCompasOptions {
  /**
   * Trust the on-disk cache of the binary's identity (sha256, --version, --help), kept per
   * real path, size, mtime, ctime and inode in the user's cache folder. Default true; false
   * reads the binary afresh (`--no-cache`) and stores the fresh result.
   */
  cache?: boolean;
  /** The cache folder; default $XDG_CACHE_HOME/compas-ensemble or ~/.cache/compas-ensemble. */
  cacheDir?: string;
}

const READERS: IdentityReaders = { hash: hashFile, probe: probeOutput };
const probeMemo = new Map<string, Promise<CompasProbe>>();

/**
 * Runs `COMPAS --version` and `COMPAS --help` and hashes the binary, or takes all three from
 * the cache while the binary is unchanged (src/compas/identity-cache.ts), so a 336 MB build is
 * hashed once, not on every run, plan and task. Within a process the answer is also kept in
 * memory (workers probe before every task); a changed binary is probed again.
 * @param binary - path from {@link resolveCompasBinary}
 * @param options - see {@link ProbeCompasOptions}
 */
export function probeCompas(binary: string, options: ProbeCompasOptions = {}): Promise<CompasProbe> {
  const { real, identity } = binaryIdentity(binary);
  const key = [binary, options.cacheDir ?? "", identityKey(real, identity)].join("\0");
  let cached = options.cache === false ? undefined : probeMemo.get(key);
  if (!cached) {
    cached = cachedIdentity(binary, READERS, options).then(({ entry }) => ({
      binary,
      version: entry.probe!.version,
      sha256: entry.sha256,
      options: new Set(entry.probe!.options),
    }));
    const mine = cached;
    cached.catch(() => probeMemo.get(key) === mine && probeMemo.delete(key));
    probeMemo.set(key, cached);
  }
  return cached;
}

/**
 * sha256 of a COMPAS binary, from the same cache as {@link probeCompas} (without running it).
 * @param binary - path of the binary
 * @param options - see {@link ProbeCompasOptions}
 */
export async function compasSha256(binary: string, options: ProbeCompasOptions = {}): Promise<string> {
  return (await cachedIdentity(binary, READERS, { ...options, withProbe: false })).entry.sha256;
}

async function probeOutput(binary: string): Promise<ProbeOutput> {
  const run = async (flag: string): Promise<string> => {
    try {
      const { stdout } = await execFileAsync(binary, [flag], {
        env: compasEnv(),
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      return stdout;
    } catch (cause) {
      throw new CompasEnsembleError(
        "COMPAS_NOT_FOUND",
        `${binary} ${flag} failed, so it does not look like a working COMPAS binary.`,
        { cause, hint: "Run it by hand to see why (missing shared libraries are common after a move)." },
      );
    }
  };
  const [versionText, helpText] = await Promise.all([run("--version"), run("--help")]);
  const version = /\bv?(\d+\.\d+\.\d+)\b/.exec(versionText)?.[1] ?? versionText.trim().split("\n")[0] ?? "";
  const options = new Set<string>();
  for (const m of helpText.matchAll(/(?:^|[\s,[(])(--[A-Za-z][A-Za-z0-9-]*)/g)) options.add(m[1]!);
  if (options.size === 0) {
    throw new CompasEnsembleError("COMPAS_NOT_FOUND", `${binary} --help lists no options, so it is not COMPAS.`, {
      hint: "Point --compas-binary at the COMPAS executable.",
    });
  }
  return { version, options: [...options] };
}

/**
 * sha256 of a file, streamed.
 * @param path - file to hash
 */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Checks user-supplied extra flags against the options the binary's --help lists, so a typo
 * fails before the first task rather than as 1,440 failed tasks.
 * @param probe - result of {@link probeCompas}
 * @param extraFlags - the user's extra flags
 */
export function checkFlagsKnown(probe: CompasProbe, extraFlags: readonly string[]): void {
  for (const [name] of parseFlags(extraFlags)) {
    if (!name.startsWith("--")) continue;
    if (!probe.options.has(name)) {
      throw new CompasEnsembleError(
        "COMPAS_FLAG_UNKNOWN",
        `COMPAS flag ${name} is not an option of ${probe.binary} (version ${probe.version}, checked against its --help); ` +
          `check the spelling or the COMPAS version.`,
      );
    }
  }
}
