import { FRAGMENTS_PREFIX, mapLimit } from "../../store/ensemble-files.js";
import { FragmentSchema, type Fragment } from "../../manifest/schema.js";
import type { Store } from "../../store/types.js";

/**
 * The fragments of one store, read incrementally: a fragment is written once and never
 * changes, so each poll lists the prefix and reads only keys it has not seen. An
 * invalid fragment is not cached and is read again next time.
 */
export class FragmentCache {
  private readonly known = new Map<string, Fragment>();

  /** @param store - the ensemble's store */
  constructor(readonly store: Store) {}

  /** Every readable fragment now in the store. */
  async refresh(): Promise<Fragment[]> {
    const keys = (await this.store.list(FRAGMENTS_PREFIX)).map((e) => e.key).filter((k) => k.endsWith(".json") && !this.known.has(k));
    await mapLimit(keys, 16, async (key) => {
      // A store that fails to answer throws: a status built without its fragments would lie.
      const body = (await this.store.get(key)).toString("utf8");
      try {
        const parsed = FragmentSchema.safeParse(JSON.parse(body));
        if (parsed.success) this.known.set(key, parsed.data);
      } catch {
        // Not JSON: the task counts as not done, as for runEnsemble.
      }
    });
    return [...this.known.values()];
  }
}
