import { join } from "node:path";
import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { type Fragment, FragmentSchema } from "../manifest/schema.js";
import { canonicalJson } from "../util/canonical-json.js";
import { mapLimit } from "../util/map-limit.js";
import { describeZodError } from "../util/zod-error.js";
import { FRAGMENTS_PREFIX, fragmentKey, parseFragmentKey } from "./keys.js";
import { LocalStore } from "./local.js";
import type { Store } from "./types.js";

/** Reads at once when many fragments are read. */
const READ_CONCURRENCY = 16;

/** A file under fragments/ that could not be used, and why. */
export interface InvalidFragmentFile {
  /** Its store key, e.g. `fragments/x.a1.json`. */
  key: string;
  /**
   * The same as `key`: the path relative to the ensemble directory.
   * @deprecated Use `key`; kept for one release.
   */
  file: string;
  reason: string;
}

/** What {@link readFragments} found. */
export interface FragmentsRead {
  /** Valid fragments, sorted by key. */
  fragments: Fragment[];
  /** Files that are not valid fragments (bad JSON, failed validation, name not matching the content). */
  invalid: InvalidFragmentFile[];
}

/**
 * The store of an ensemble given as a Store or as a local directory.
 * @param where - a Store, or the ensemble's directory
 */
export function asStore(where: Store | string): Store {
  return typeof where === "string" ? new LocalStore(where) : where;
}

/**
 * Where a key of a store is, for messages and return values: a path for a local store, a URI
 * otherwise.
 * @param store - the store
 * @param key - a key in it
 */
export function locationOf(store: Store, key: string): string {
  return store instanceof LocalStore ? join(store.root, ...key.split("/")) : `${store.uri}/${key}`;
}

/**
 * Checks one fragment read from `key`: valid JSON, a valid fragment, and the task and attempt
 * its name says. Returns the reason when it is not.
 * @param key - where it was read
 * @param text - what was read
 */
export function parseFragment(key: string, text: string): { fragment: Fragment } | { reason: string } {
  const named = parseFragmentKey(key);
  if (named === null) return { reason: "file name is not <task_id>.a<attempt>.json" };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { reason: `not valid JSON (${(err as Error).message})` };
  }
  const parsed = FragmentSchema.safeParse(json);
  if (!parsed.success) return { reason: `not a valid fragment: ${describeZodError(parsed.error)}` };
  const f = parsed.data;
  if (f.task_id !== named.taskId || f.attempt !== named.attempt) {
    return { reason: `content is task ${f.task_id} attempt ${f.attempt}, which does not match the file name` };
  }
  return { fragment: f };
}

/**
 * Writes one attempt's fragment to `fragments/<task_id>.a<attempt>.json`, validated, and
 * never over another fragment: the same attempt written again with different content fails
 * with METADATA_CONFLICT (repeating an identical write is harmless). A file under that name
 * that is not a valid fragment (a torn upload of a worker that died, on a store without
 * atomic writes) is replaced. In a local directory the write is atomic and flushed to disk.
 * @param where - the ensemble's store, or its directory
 * @param fragment - validated against FragmentSchema before writing
 * @returns where it was written: the file's path for a local store, else its URI
 */
export async function writeFragment(where: Store | string, fragment: Fragment): Promise<string> {
  const store = asStore(where);
  const parsed = FragmentSchema.safeParse(fragment);
  if (!parsed.success) {
    throw new CompasEnsembleError(
      "METADATA_INVALID",
      `Fragment of task ${String(fragment.task_id)} is invalid at ${describeZodError(parsed.error)}.`,
      { cause: parsed.error, taskId: String(fragment.task_id) },
    );
  }
  const key = fragmentKey(parsed.data.task_id, parsed.data.attempt);
  const text = `${JSON.stringify(parsed.data, null, 2)}\n`;
  const existing = (await store.exists(key)) ? parseFragment(key, (await store.get(key)).toString("utf8")) : null;
  if (existing === null && store instanceof LocalStore) await store.putNew(key, text);
  else if (existing === null || !("fragment" in existing)) await store.put(key, text);
  else if (canonicalJson(existing.fragment) !== canonicalJson(parsed.data)) {
    throw new CompasEnsembleError("METADATA_CONFLICT", `Refusing to replace ${locationOf(store, key)}: it already exists with different content.`, {
      hint: "Each task attempt must write its own file; take the next attempt number.",
      taskId: parsed.data.task_id,
      key,
    });
  }
  return locationOf(store, key);
}

/**
 * Reads every fragment of an ensemble, sorted by key. Files that are not valid fragments
 * are reported in `invalid`, not thrown: their task simply counts as not done. Temporary
 * files of unfinished writes, hidden files and other than `.json` files are skipped; no
 * fragments folder means none.
 * @param where - the ensemble's store, or its directory
 */
export async function readFragments(where: Store | string): Promise<FragmentsRead> {
  const store = asStore(where);
  const keys = (await store.list(FRAGMENTS_PREFIX))
    .map((e) => e.key)
    .filter((k) => isFragmentFileName(k.slice(FRAGMENTS_PREFIX.length)))
    .sort();
  const results = await mapLimit(keys, READ_CONCURRENCY, async (key) => {
    let text: string;
    try {
      text = (await store.get(key)).toString("utf8");
    } catch (err) {
      if (!isCompasEnsembleError(err)) throw err;
      return { key, reason: `cannot read (${err.message})` };
    }
    const checked = parseFragment(key, text);
    return "fragment" in checked ? checked : { key, reason: checked.reason };
  });
  const fragments: Fragment[] = [];
  const invalid: InvalidFragmentFile[] = [];
  for (const r of results) {
    if ("fragment" in r) fragments.push(r.fragment);
    else invalid.push({ key: r.key, file: r.key, reason: r.reason });
  }
  return { fragments, invalid };
}

// Direct children of fragments/ ending in .json, not hidden (temporary files are).
function isFragmentFileName(name: string): boolean {
  return name.endsWith(".json") && !name.startsWith(".") && !name.includes("/");
}

/** Options of {@link FragmentCache}. */
export interface FragmentCacheOptions {
  /** Keep only fragments of this ensemble (archived plans leave others). Default: every ensemble. */
  ensembleId?: string;
  /**
   * Keep only the fragments of one submission: its tasks, from the first attempt it may
   * write on (default 1). Other keys are not even read. Default: every fragment.
   */
  submission?: { taskIds: Iterable<string>; firstAttempt: Readonly<Record<string, number>> | ReadonlyMap<string, number> };
  /**
   * What a fragment that cannot be read now does: `throw` (default) fails the refresh, since
   * a status built without it would be wrong; `skip` leaves it for the next refresh.
   */
  onReadError?: "throw" | "skip";
}

/**
 * The fragments of an ensemble, read incrementally, for executors that poll: a fragment is
 * written once and never changes, so each {@link FragmentCache.refresh} lists the folder and
 * reads only keys it has not read yet. A key that did not hold a valid fragment is read again
 * when its size changes: on a store without atomic writes a worker that died mid-upload
 * leaves a torn fragment, which its retry overwrites under the same key.
 */
export class FragmentCache {
  private readonly seen = new Map<string, { size: number; fragment: Fragment | null }>();
  private readonly byTask = new Map<string, Fragment[]>();
  private readonly taskSet: ReadonlySet<string> | undefined;
  private readonly firstAttempt: (taskId: string) => number;

  /**
   * @param store - the ensemble's store
   * @param options - which fragments to keep, and what a read error does
   */
  constructor(
    readonly store: Store,
    private readonly options: FragmentCacheOptions = {},
  ) {
    const sub = options.submission;
    this.taskSet = sub === undefined ? undefined : new Set(sub.taskIds);
    const first = sub?.firstAttempt;
    this.firstAttempt =
      first === undefined ? () => 1 : first instanceof Map ? (id) => first.get(id) ?? 1 : (id) => (first as Record<string, number>)[id] ?? 1;
  }

  /** Reads the fragments written since the last call and returns them, oldest attempt first. */
  async refresh(): Promise<Fragment[]> {
    const fresh = (await this.store.list(FRAGMENTS_PREFIX)).filter((e) => {
      if (!isFragmentFileName(e.key.slice(FRAGMENTS_PREFIX.length))) return false;
      const before = this.seen.get(e.key);
      if (before && (before.fragment !== null || before.size === e.size)) return false;
      if (this.taskSet === undefined) return true;
      const named = parseFragmentKey(e.key);
      return named !== null && this.taskSet.has(named.taskId) && named.attempt >= this.firstAttempt(named.taskId);
    });
    const read = await mapLimit(fresh, READ_CONCURRENCY, async (e) => {
      try {
        return { key: e.key, size: e.size, text: (await this.store.get(e.key)).toString("utf8") };
      } catch (err) {
        // A transient read error: try again at the next refresh.
        if (this.options.onReadError === "skip" && isCompasEnsembleError(err)) return { key: e.key, size: e.size, text: undefined };
        throw err;
      }
    });
    const out: Fragment[] = [];
    for (const { key, size, text } of read) {
      if (text === undefined) continue;
      const checked = parseFragment(key, text);
      const fragment = "fragment" in checked ? checked.fragment : null;
      this.seen.set(key, { size, fragment });
      if (!fragment || (this.options.ensembleId !== undefined && fragment.ensemble_id !== this.options.ensembleId)) continue;
      const list = this.byTask.get(fragment.task_id) ?? [];
      list.push(fragment);
      list.sort((a, b) => a.attempt - b.attempt);
      this.byTask.set(fragment.task_id, list);
      out.push(fragment);
    }
    return out.sort((a, b) => a.attempt - b.attempt);
  }

  /**
   * The fragments read so far of one task, oldest attempt first.
   * @param taskId - the task
   */
  forTask(taskId: string): readonly Fragment[] {
    return this.byTask.get(taskId) ?? [];
  }

  /** Every fragment read so far, by task and then attempt. */
  all(): Fragment[] {
    return [...this.byTask.values()].flat();
  }
}
