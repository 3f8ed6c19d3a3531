import { CompasEnsembleError } from "../errors.js";
import { writeManifest } from "../store/ensemble-files.js";
import { type MergeOptions, mergeMetadata } from "./merge.js";
import type { Fragment, Manifest } from "./schema.js";
import type { Plan } from "../plan/schema.js";

/** Finished tasks between two rewrites of the manifest unless told otherwise. */
export const DEFAULT_CHECKPOINT_EVERY = 10;
/**
 * Shortest time between two checkpoints of a running ensemble (runEnsemble's default). Each
 * rewrite merges every fragment so far and writes the whole manifest (3 MB and about 60 ms of
 * CPU at 1,440 runs), so "every 10 tasks" alone makes a grid of short tasks pay for its
 * manifest quadratically. The fragments are the record; the manifest is a summary that may lag.
 */
export const DEFAULT_CHECKPOINT_MIN_INTERVAL_MS = 10_000;

/** Options for {@link ManifestCheckpointer}. */
export interface ManifestCheckpointerOptions extends MergeOptions {
  /** Ensemble output directory; the manifest goes to `<dir>/ensemble_metadata.json`. */
  dir?: string;
  /** Where the manifest goes instead of `dir` (e.g. a store on S3); must replace it atomically. */
  write?: (manifest: Manifest) => Promise<void>;
  /** Called after each write with the manifest written. */
  onWrite?: (manifest: Manifest) => void;
  plan: Plan;
  /** Rewrite the manifest after every this many recorded fragments (default {@link DEFAULT_CHECKPOINT_EVERY}). */
  every?: number;
  /** Fragments already there when the ensemble resumed; they are merged but not counted. */
  fragments?: readonly Fragment[];
  /**
   * Shortest time between two rewrites, in ms (default 0: no limit). A rewrite that falls due
   * sooner is made once the interval has passed, so the manifest is never later than that.
   */
  minIntervalMs?: number;
}

/**
 * Keeps `ensemble_metadata.json` current while an ensemble runs: rewrites it (atomically,
 * from all fragments seen) every N finished tasks, at most once per `minIntervalMs`, and on
 * {@link ManifestCheckpointer.flush}. Writes are serialised so an older manifest never lands
 * after a newer one; {@link ManifestCheckpointer.close} ends it before the final manifest.
 */
export class ManifestCheckpointer {
  private readonly sink: (manifest: Manifest) => Promise<void>;
  private readonly onWrite: ((manifest: Manifest) => void) | undefined;
  private readonly plan: Plan;
  private readonly every: number;
  private readonly mergeOptions: MergeOptions;
  private readonly fragments: Fragment[];
  private readonly minIntervalMs: number;
  private recorded = 0;
  private writes = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** When the last rewrite started (ms since the epoch); 0 before the first. */
  private lastWriteAt = 0;
  /** A rewrite that fell due within the interval and waits for its end. */
  private deferred: NodeJS.Timeout | undefined;
  private closed = false;

  /**
   * @param options - see {@link ManifestCheckpointerOptions}
   */
  constructor(options: ManifestCheckpointerOptions) {
    const every = options.every ?? DEFAULT_CHECKPOINT_EVERY;
    if (!Number.isInteger(every) || every < 1) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `Checkpoint interval ${every} is not a positive integer.`);
    }
    const dir = options.dir;
    if (options.write) this.sink = options.write;
    else if (dir !== undefined) this.sink = async (m) => void (await writeManifest(dir, m));
    else throw new CompasEnsembleError("OPTIONS_INVALID", "ManifestCheckpointer needs a dir or a write function.");
    this.onWrite = options.onWrite;
    this.plan = options.plan;
    this.every = every;
    this.mergeOptions = options.outputRoot === undefined ? {} : { outputRoot: options.outputRoot };
    this.fragments = [...(options.fragments ?? [])];
    this.minIntervalMs = options.minIntervalMs ?? 0;
    if (!(this.minIntervalMs >= 0)) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `Checkpoint minimum interval ${this.minIntervalMs} ms is not a number >= 0.`);
    }
  }

  /** Fragments recorded since construction. */
  get recordedCount(): number {
    return this.recorded;
  }

  /** Manifest writes done so far. */
  get writeCount(): number {
    return this.writes;
  }

  /**
   * Notes one finished task attempt and rewrites the manifest when N have accumulated.
   * @param fragment - the attempt's fragment (already written by its worker)
   * @returns true when this call rewrote the manifest (false also when the rewrite it made due
   *   was put off to the end of the minimum interval)
   */
  async record(fragment: Fragment): Promise<boolean> {
    this.fragments.push(fragment);
    this.recorded++;
    if (this.recorded % this.every !== 0 || this.closed) return false;
    const wait = this.lastWriteAt + this.minIntervalMs - Date.now();
    if (wait > 0) {
      // The deferred rewrite takes every fragment recorded by the time it runs.
      this.deferred ??= setTimeout(() => {
        this.deferred = undefined;
        if (!this.closed) this.write().catch(() => undefined);
      }, wait).unref();
      return false;
    }
    await this.write();
    return true;
  }

  /** Rewrites the manifest now (call at the end, and on shutdown). */
  async flush(): Promise<void> {
    await this.write();
  }

  /**
   * Stops rewriting: drops a deferred rewrite and waits for the ones under way, so that a
   * manifest written afterwards (the final one) is not replaced by an older checkpoint.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.deferred);
    this.deferred = undefined;
    await this.queue;
  }

  private write(): Promise<void> {
    clearTimeout(this.deferred);
    this.deferred = undefined;
    this.lastWriteAt = Date.now();
    // Snapshot now, so this write reflects exactly the fragments recorded before the call.
    const snapshot = [...this.fragments];
    const next = this.queue.then(async () => {
      const manifest = mergeMetadata(snapshot, this.plan, this.mergeOptions);
      await this.sink(manifest);
      this.writes++;
      this.onWrite?.(manifest);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}
