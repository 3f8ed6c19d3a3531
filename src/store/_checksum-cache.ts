import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { replaceAtomically } from "../util/atomic-write.js";

import { SYNC_STATE_FILE } from "./keys.js";

const EntrySchema = z.object({
  size: z.number(),
  mtimeMs: z.number(),
  ino: z.number(),
  sha256: z.string(),
  md5: z.string().optional(),
});
const StateSchema = z.object({
  version: z.literal(1),
  files: z.record(z.string(), EntrySchema),
});

type Entry = z.infer<typeof EntrySchema>;

/** Checksums of one file. */
export interface Checksums {
  sha256: string;
  md5?: string;
}

/** The parts of fs.Stats that say a file has not changed since it was hashed. */
export interface FileIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
}

/**
 * Local checksums keyed by store key, valid while size, mtime and inode are unchanged.
 * It is only a cache: a missing, stale or corrupt state file just means hashing again,
 * and two processes writing it at once lose nothing but cached work.
 */
export class ChecksumCache {
  private files: Record<string, Entry> | null = null;
  private loading: Promise<Record<string, Entry>> | null = null;
  private dirty = false;

  /** @param root - directory holding the state file */
  constructor(private readonly root: string) {}

  private get file(): string {
    return path.join(this.root, SYNC_STATE_FILE);
  }

  private async load(): Promise<Record<string, Entry>> {
    // One read shared by concurrent callers, so no caller replaces entries another added.
    this.loading ??= (async () => {
      try {
        const parsed = StateSchema.safeParse(JSON.parse(await fs.readFile(this.file, "utf8")));
        this.files = parsed.success ? parsed.data.files : {};
      } catch {
        this.files = {};
      }
      return this.files;
    })();
    return this.loading;
  }

  /**
   * Cached checksums for `key` if the file still has the identity it had when hashed.
   * @param key - store key
   * @param id - current size, mtime and inode of the file
   */
  async lookup(key: string, id: FileIdentity): Promise<Checksums | null> {
    const entry = (await this.load())[key];
    if (!entry || entry.size !== id.size || entry.mtimeMs !== id.mtimeMs || entry.ino !== id.ino) {
      return null;
    }
    return entry.md5 === undefined ? { sha256: entry.sha256 } : { sha256: entry.sha256, md5: entry.md5 };
  }

  /**
   * Remembers checksums for `key` as of the given file identity.
   * @param key - store key
   * @param id - size, mtime and inode of the file that was hashed
   * @param sums - its checksums
   */
  async remember(key: string, id: FileIdentity, sums: Checksums): Promise<void> {
    const files = await this.load();
    const entry: Entry = { size: id.size, mtimeMs: id.mtimeMs, ino: id.ino, sha256: sums.sha256 };
    if (sums.md5 !== undefined) entry.md5 = sums.md5;
    files[key] = entry;
    this.dirty = true;
  }

  /**
   * Forgets `key` (after a delete).
   * @param key - store key
   */
  async forget(key: string): Promise<void> {
    const files = await this.load();
    if (key in files) {
      delete files[key];
      this.dirty = true;
    }
  }

  /** Writes the state file atomically if anything changed; a no-op otherwise. */
  async flush(): Promise<void> {
    if (!this.dirty || !this.files) return;
    const text = JSON.stringify({ version: 1, files: this.files });
    await fs.mkdir(this.root, { recursive: true });
    await replaceAtomically(this.file, (tmp) => fs.writeFile(tmp, text, { flag: "wx" }));
    this.dirty = false;
  }
}
