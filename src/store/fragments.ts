import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CompasEnsembleError } from "../errors.js";
import { describeZodError } from "../util/zod-error.js";
import { isAtomicTempName, writeJsonAtomic } from "../util/atomic-write.js";
import { type Fragment, FragmentSchema } from "../manifest/schema.js";

/** Folder of fragments under the ensemble output directory. */
export const FRAGMENTS_DIR = "fragments";

const FRAGMENT_NAME = /^(.+)\.a([1-9][0-9]*)\.json$/;

/** A file under fragments/ that could not be used, and why. */
export interface InvalidFragmentFile {
  /** Path relative to the ensemble directory, e.g. `fragments/x.a1.json`. */
  file: string;
  reason: string;
}

/**
 * File name of one attempt's fragment, relative to the ensemble directory:
 * `fragments/<task_id>.a<attempt>.json`.
 * @param taskId - the task's id; must be usable as a file name
 * @param attempt - 1-based attempt number
 */
export function fragmentFileName(taskId: string, attempt: number): string {
  if (taskId === "" || taskId === "." || taskId === ".." || /[/\\\0]/.test(taskId) || taskId.startsWith(".")) {
    throw new CompasEnsembleError(
      "STORE_KEY_UNSAFE",
      `Task id ${JSON.stringify(taskId)} cannot be used as a fragment file name (it is empty, hidden or contains a path separator).`,
      { hint: "Task ids come from run ids; use run ids without '/', '\\' or a leading dot." },
    );
  }
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new CompasEnsembleError("METADATA_INVALID", `Attempt ${attempt} of task ${taskId} is not a positive integer.`);
  }
  return `${FRAGMENTS_DIR}/${taskId}.a${attempt}.json`;
}

/**
 * Writes one attempt's fragment atomically to `<dir>/fragments/<task_id>.a<attempt>.json`.
 * Never replaces another fragment: writing the same attempt again with different content
 * fails with METADATA_CONFLICT (repeating an identical write is harmless).
 * @param dir - ensemble output directory
 * @param fragment - validated against FragmentSchema before writing
 * @returns the path written
 */
export async function writeFragment(dir: string, fragment: Fragment): Promise<string> {
  const parsed = FragmentSchema.safeParse(fragment);
  if (!parsed.success) {
    throw new CompasEnsembleError(
      "METADATA_INVALID",
      `Fragment of task ${String(fragment.task_id)} is invalid at ${describeZodError(parsed.error)}.`,
      { cause: parsed.error },
    );
  }
  const path = join(dir, fragmentFileName(parsed.data.task_id, parsed.data.attempt));
  await writeJsonAtomic(path, parsed.data, { overwrite: false });
  return path;
}

/**
 * Reads every fragment under `<dir>/fragments/`, sorted by file name. Files that are not
 * valid fragments (bad JSON, failed validation, name not matching the content) are reported
 * in `invalid`, not thrown: a torn file cannot exist, but a hand-edited one can. Temp files of
 * unfinished atomic writes and non-.json files are ignored; a missing folder means none.
 * @param dir - ensemble output directory
 */
export async function readFragments(dir: string): Promise<{ fragments: Fragment[]; invalid: InvalidFragmentFile[] }> {
  const folder = join(dir, FRAGMENTS_DIR);
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { fragments: [], invalid: [] };
    throw new CompasEnsembleError("STORE_ACCESS", `Cannot list ${folder}.`, { cause: err });
  }
  names = names.filter((n) => n.endsWith(".json") && !isAtomicTempName(n) && !n.startsWith(".")).sort();
  const results = await mapLimit(names, 32, (name) => readOne(folder, name));
  const fragments: Fragment[] = [];
  const invalid: InvalidFragmentFile[] = [];
  for (const r of results) {
    if ("fragment" in r) fragments.push(r.fragment);
    else invalid.push(r);
  }
  return { fragments, invalid };
}

async function readOne(folder: string, name: string): Promise<{ fragment: Fragment } | InvalidFragmentFile> {
  const file = `${FRAGMENTS_DIR}/${name}`;
  const m = FRAGMENT_NAME.exec(name);
  if (m === null) return { file, reason: "file name is not <task_id>.a<attempt>.json" };
  let text: string;
  try {
    text = await readFile(join(folder, name), "utf8");
  } catch (err) {
    return { file, reason: `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { file, reason: `not valid JSON (${(err as Error).message})` };
  }
  const parsed = FragmentSchema.safeParse(json);
  if (!parsed.success) return { file, reason: `not a valid fragment: ${describeZodError(parsed.error)}` };
  const f = parsed.data;
  if (f.task_id !== m[1] || f.attempt !== Number(m[2])) {
    return { file, reason: `content is task ${f.task_id} attempt ${f.attempt}, which does not match the file name` };
  }
  return { fragment: f };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
