import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { z } from "zod";
import { CompasEnsembleError } from "../errors.js";
import { describeZodError } from "../util/zod-error.js";
import { writeJsonAtomic } from "../util/atomic-write.js";
import { type Manifest, ManifestSchema, type Plan, PlanSchema } from "./schema.js";

/** File name of the plan under the ensemble output directory. */
export const PLAN_FILE = "plan.json";
/** File name of the manifest under the ensemble output directory. */
export const MANIFEST_FILE = "ensemble_metadata.json";

/**
 * Reads and validates `<dir>/plan.json`.
 * @param dir - ensemble output directory
 * @returns the plan, or null when the file does not exist (a new ensemble)
 */
export async function readPlan(dir: string): Promise<Plan | null> {
  return readValidated(join(dir, PLAN_FILE), PlanSchema, "plan");
}

/**
 * Validates `plan` and writes it atomically to `<dir>/plan.json`.
 * @param dir - ensemble output directory
 * @param plan - the plan
 * @returns the path written
 */
export async function writePlan(dir: string, plan: Plan): Promise<string> {
  const path = join(dir, PLAN_FILE);
  await writeJsonAtomic(path, validate(path, PlanSchema, plan, "plan"));
  return path;
}

/**
 * Reads and validates `<dir>/ensemble_metadata.json` (ours or the predecessor's).
 * @param dir - ensemble output directory
 * @returns the manifest, or null when the file does not exist
 */
export async function readManifest(dir: string): Promise<Manifest | null> {
  return readValidated(join(dir, MANIFEST_FILE), ManifestSchema, "manifest");
}

/**
 * Validates `manifest` and writes it atomically to `<dir>/ensemble_metadata.json`.
 * @param dir - ensemble output directory
 * @param manifest - usually the result of mergeMetadata
 * @returns the path written
 */
export async function writeManifest(dir: string, manifest: Manifest): Promise<string> {
  const path = join(dir, MANIFEST_FILE);
  await writeJsonAtomic(path, validate(path, ManifestSchema, manifest, "manifest"));
  return path;
}

/**
 * Reads a JSON file and validates it, with errors that name the file and the field.
 * @param path - file to read
 * @param schema - zod schema of its content
 * @param what - noun for messages ("plan", "manifest")
 * @returns the parsed value, or null when the file does not exist
 */
export async function readValidated<S extends z.ZodType>(path: string, schema: S, what: string): Promise<z.output<S> | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new CompasEnsembleError("STORE_ACCESS", `Cannot read ${what} file ${path}.`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CompasEnsembleError("METADATA_INVALID", `The ${what} file ${path} is not valid JSON (${(err as Error).message}).`, {
      cause: err,
      hint: "Restore the file from a backup or fix it by hand.",
    });
  }
  return validate(path, schema, json, what);
}

function validate<S extends z.ZodType>(path: string, schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new CompasEnsembleError("METADATA_INVALID", `The ${what} in ${path} is invalid at ${describeZodError(parsed.error)}.`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}
