import { CompasEnsembleError, isCompasEnsembleError } from "../errors.js";
import { PlanSchema, FragmentSchema, type Fragment, type Manifest, type Plan } from "../manifest/schema.js";
import type { Store } from "./types.js";

/** Store keys of the ensemble's metadata files. */
export const PLAN_KEY = "plan.json";
export const MANIFEST_KEY = "ensemble_metadata.json";
export const FRAGMENTS_PREFIX = "fragments/";

/**
 * Reads the plan from a store, or null when there is none.
 * @param store - the ensemble's store
 */
export async function readPlanFromStore(store: Store): Promise<Plan | null> {
  if (!(await store.exists(PLAN_KEY))) return null;
  const text = (await store.get(PLAN_KEY)).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CompasEnsembleError("METADATA_INVALID", `${store.uri}/${PLAN_KEY} is not valid JSON.`, { cause });
  }
  const parsed = PlanSchema.safeParse(json);
  if (!parsed.success) {
    throw new CompasEnsembleError(
      "METADATA_INVALID",
      `${store.uri}/${PLAN_KEY} is not a compas-ensemble plan (${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}).`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

/**
 * Every fragment in a store; unreadable ones are reported, not fatal, since their task simply
 * counts as not done.
 * @param store - the ensemble's store
 */
export async function readFragmentsFromStore(
  store: Store,
): Promise<{ fragments: Fragment[]; invalid: { key: string; reason: string }[] }> {
  const fragments: Fragment[] = [];
  const invalid: { key: string; reason: string }[] = [];
  const entries = (await store.list(FRAGMENTS_PREFIX)).filter((e) => e.key.endsWith(".json"));
  const texts = await mapLimit(entries, 16, async (e) => {
    try {
      return { key: e.key, text: (await store.get(e.key)).toString("utf8") };
    } catch (err) {
      if (!isCompasEnsembleError(err)) throw err;
      return { key: e.key, error: err.message };
    }
  });
  for (const t of texts) {
    if ("error" in t) {
      invalid.push({ key: t.key, reason: t.error! });
      continue;
    }
    try {
      const parsed = FragmentSchema.safeParse(JSON.parse(t.text!));
      if (parsed.success) fragments.push(parsed.data);
      else invalid.push({ key: t.key, reason: parsed.error.issues[0]?.message ?? "invalid" });
    } catch {
      invalid.push({ key: t.key, reason: "not valid JSON" });
    }
  }
  return { fragments, invalid };
}

/**
 * The text of a JSON document as the store holds it.
 * @param value - what
 */
export function jsonText(value: Plan | Manifest | unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/**
 * Writes a JSON document to the store (atomically on local stores).
 * @param store - the ensemble's store
 * @param key - where
 * @param value - what
 */
export async function putJson(store: Store, key: string, value: Plan | Manifest | unknown): Promise<void> {
  await store.put(key, jsonText(value));
}

/**
 * Maps with at most `limit` calls in flight, keeping order.
 * @param items - inputs
 * @param limit - concurrency
 * @param fn - async mapper
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}
