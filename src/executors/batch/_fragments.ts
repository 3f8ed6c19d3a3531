import { FRAGMENTS_PREFIX, mapLimit } from "../../store/ensemble-files.js";
import { isCompasEnsembleError } from "../../errors.js";
import { FragmentSchema, type Fragment } from "../../manifest/schema.js";
import type { Store } from "../../store/types.js";

const KEY = /^fragments\/(.+)\.a(\d+)\.json$/;

/**
 * The fragments of one submission's tasks, read incrementally: a fragment is written once and
 * never changes, so each poll lists the prefix and reads only keys it has not seen. A key
 * that did not hold a valid fragment is read again when its size changes: on a store without
 * atomic writes a worker that died mid-upload leaves a torn fragment, which its retry
 * overwrites under the same key.
 */
export class FragmentCache {
  private readonly seen = new Map<string, { size: number; fragment: Fragment | null }>();
  private readonly byTask = new Map<string, Fragment[]>();

  /**
   * @param store - the ensemble's store
   * @param ensembleId - fragments of other ensembles (archived plans) are ignored
   * @param firstAttempt - per task of the submission, the first attempt it may write
   */
  constructor(
    private readonly store: Store,
    private readonly ensembleId: string,
    private readonly firstAttempt: ReadonlyMap<string, number>,
  ) {}

  /** Reads the fragments written since the last call and returns them, oldest attempt first. */
  async refresh(): Promise<Fragment[]> {
    const fresh = (await this.store.list(FRAGMENTS_PREFIX)).filter((e) => {
      const before = this.seen.get(e.key);
      if (before && (before.fragment !== null || before.size === e.size)) return false;
      const m = KEY.exec(e.key);
      const first = m ? this.firstAttempt.get(m[1]!) : undefined;
      return first !== undefined && Number(m![2]) >= first;
    });
    const read = await mapLimit(fresh, 16, async (e) => {
      try {
        return { key: e.key, size: e.size, text: (await this.store.get(e.key)).toString("utf8") };
      } catch (err) {
        // A transient read error: try again at the next poll.
        if (isCompasEnsembleError(err)) return { key: e.key, size: e.size, text: undefined };
        throw err;
      }
    });
    const out: Fragment[] = [];
    for (const { key, size, text } of read) {
      if (text === undefined) continue;
      const fragment = parse(text);
      this.seen.set(key, { size, fragment });
      if (!fragment || fragment.ensemble_id !== this.ensembleId) continue;
      const list = this.byTask.get(fragment.task_id) ?? [];
      list.push(fragment);
      list.sort((a, b) => a.attempt - b.attempt);
      this.byTask.set(fragment.task_id, list);
      out.push(fragment);
    }
    return out.sort((a, b) => a.attempt - b.attempt);
  }

  /** This submission's fragments of one task, oldest attempt first. */
  forTask(taskId: string): readonly Fragment[] {
    return this.byTask.get(taskId) ?? [];
  }
}

function parse(text: string): Fragment | null {
  try {
    const parsed = FragmentSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
