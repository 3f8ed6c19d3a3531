import { createHash } from "node:crypto";
import { readFileSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../util/atomic-write.js";

/**
 * The user's cache folder of compas-ensemble: `$XDG_CACHE_HOME/compas-ensemble`, else
 * `~/.cache/compas-ensemble`. Holds the calibrations (src/estimate/calibration-cache.ts) and the binary
 * identities below; everything in it can be deleted at any time.
 * @param env - environment to read XDG_CACHE_HOME from; default process.env
 */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "compas-ensemble");
}

/**
 * What identifies one file on disk without reading it: where it really is (device, inode,
 * real path) and its size, modification and status-change times in nanoseconds. Rebuilding,
 * copying over, editing in place, touching or chmod-ing the binary changes at least one of
 * them: the status-change time moves even when a tool restores the modification time, and
 * no user-space call can set it. Numbers are strings: they are 64-bit.
 */
export const BinaryIdentitySchema = z.object({
  dev: z.string(),
  ino: z.string(),
  size: z.string(),
  mtime_ns: z.string(),
  ctime_ns: z.string(),
});
export type BinaryIdentity = z.infer<typeof BinaryIdentitySchema>;

/** One cached binary: its identity when it was read, its sha256 and, once probed, what --version and --help said. */
export const IdentityEntrySchema = z.object({
  schema_version: z.literal(1),
  /** Real path (symbolic links resolved). */
  binary: z.string(),
  identity: BinaryIdentitySchema,
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Absent when only the hash was needed (a cached calibration lookup). */
  probe: z
    .object({
      version: z.string(),
      options: z.array(z.string()),
    })
    .optional(),
});
export type IdentityEntry = z.infer<typeof IdentityEntrySchema>;

/** What `--version` and `--help` said. */
export type ProbeOutput = NonNullable<IdentityEntry["probe"]>;

/** Options of {@link cachedIdentity}. */
export interface IdentityCacheOptions {
  /** Use the cache: read an entry and write a new one. Default true; false reads afresh (and stores the fresh result). */
  cache?: boolean;
  /** The cache folder; default {@link userCacheDir}. */
  cacheDir?: string;
  /** Whether the `probe` part is needed (else only the sha256). Default true. */
  withProbe?: boolean;
}

/** How a binary is read when the cache cannot answer (injected so tests can count calls). */
export interface IdentityReaders {
  /** sha256 of the file, hex. */
  hash: (path: string) => Promise<string>;
  /** Runs --version and --help. */
  probe: (path: string) => Promise<ProbeOutput>;
}

/** Result of {@link cachedIdentity}: the entry, and whether the disk cache supplied it. */
export interface CachedIdentity {
  entry: IdentityEntry;
  /** True when nothing had to be hashed or run. */
  hit: boolean;
}

/**
 * The real path and identity of a binary, as the cache keys it.
 * @param binary - path of the file
 */
export function binaryIdentity(binary: string): { real: string; identity: BinaryIdentity } {
  const real = realpathSync(binary);
  const st = statSync(real, { bigint: true });
  return {
    real,
    identity: {
      dev: String(st.dev),
      ino: String(st.ino),
      size: String(st.size),
      mtime_ns: String(st.mtimeNs),
      ctime_ns: String(st.ctimeNs),
    },
  };
}

/** A string that differs whenever the identity does (for in-memory keys). */
export function identityKey(real: string, identity: BinaryIdentity): string {
  return [real, identity.dev, identity.ino, identity.size, identity.mtime_ns, identity.ctime_ns].join("\0");
}

/**
 * The cache file of one binary: one file per real path, so a rebuilt binary replaces its old
 * entry instead of piling up next to it, and two binaries never contend for one file.
 * @param cacheDir - the cache folder
 * @param real - real path of the binary
 */
export function identityCacheFile(cacheDir: string, real: string): string {
  const name = createHash("sha256").update(real).digest("hex").slice(0, 32);
  return join(cacheDir, "compas-binaries", `${name}.json`);
}

/**
 * The sha256 (and, unless `withProbe` is false, the --version/--help probe) of a COMPAS
 * binary, from the disk cache when the binary's identity is unchanged since it was cached,
 * else read afresh and cached. Hashing a 336 MB COMPAS build takes about a second, so every
 * `run`, `plan` and worker would pay it without this. The cache never decides anything by
 * itself: an entry is used only when real path, device, inode, size, mtime and ctime all
 * match. A cache that is missing, corrupt, unreadable or unwritable (a read-only home) is
 * ignored: the binary is read afresh and the result still returned.
 * @param binary - path of the binary
 * @param readers - how to hash and probe it on a miss
 * @param options - see {@link IdentityCacheOptions}
 */
export async function cachedIdentity(binary: string, readers: IdentityReaders, options: IdentityCacheOptions = {}): Promise<CachedIdentity> {
  const useCache = options.cache ?? true;
  const withProbe = options.withProbe ?? true;
  const dir = options.cacheDir ?? userCacheDir();
  const before = binaryIdentity(binary);
  const file = identityCacheFile(dir, before.real);
  const old = useCache ? readEntry(file) : undefined;
  const valid = old && old.binary === before.real && sameIdentity(old.identity, before.identity) ? old : undefined;
  if (valid && (valid.probe || !withProbe)) return { entry: valid, hit: true };

  // A valid entry without a probe still saves the hash.
  const [sha256, probe] = await Promise.all([
    valid ? valid.sha256 : readers.hash(before.real),
    withProbe ? readers.probe(binary) : Promise.resolve(undefined),
  ]);
  const entry: IdentityEntry = { schema_version: 1, binary: before.real, identity: before.identity, sha256, ...(probe ? { probe } : {}) };
  // A binary replaced while it was read may have given a hash of neither version: return it
  // (the caller's check of the plan catches a mix-up) but do not let it outlive this call.
  const after = binaryIdentity(binary);
  if (after.real === before.real && sameIdentity(after.identity, before.identity)) await writeEntry(file, entry);
  return { entry, hit: false };
}

function sameIdentity(a: BinaryIdentity, b: BinaryIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtime_ns === b.mtime_ns && a.ctime_ns === b.ctime_ns;
}

// Anything wrong with the file (missing, unreadable, not JSON, another schema) is a miss.
function readEntry(file: string): IdentityEntry | undefined {
  try {
    const parsed = IdentityEntrySchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

// Atomic, so a reader never sees half an entry; a cache that cannot be written (read-only
// home, full disk) only means the next start reads the binary again.
async function writeEntry(file: string, entry: IdentityEntry): Promise<void> {
  try {
    await writeFileAtomic(file, `${JSON.stringify(entry, null, 2)}\n`);
  } catch {
    // Not cached this time.
  }
}
