import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { z } from "zod";
import { CompasEnsembleError } from "../errors.js";
import { linspace, logspaceBetween } from "./axes.js";
import { MAX_GRID_POINTS } from "./expand.js";
import type { GridSpec } from "./presets.js";
import { AXES } from "./schema.js";
import { nonFiniteMessage, validateGridSpec } from "./validate.js";
import { requireCjs } from "../util/require-cjs.js";

const Num = z.number();
const Count = z.number().int().min(1);

/**
 * One axis in a grid file: a number, a list, `{values: [...]}`,
 * `{linspace: {start, stop, num}}` or `{logspace: {min, max, num}}` (numpy
 * `logspace(log10(min), log10(max), num)`, the predecessor's alpha axis).
 */
export const AxisInputSchema = z.union([
  Num,
  z.array(Num),
  z.strictObject({ values: z.array(Num) }),
  z.strictObject({ linspace: z.strictObject({ start: Num, stop: Num, num: Count }) }),
  z.strictObject({ logspace: z.strictObject({ min: Num.positive(), max: Num.positive(), num: Count }) }),
]);
/** One axis as written in a grid file. */
export type AxisInput = z.infer<typeof AxisInputSchema>;

/** A custom grid file: exactly the five axes. */
export const GridFileSchema = z.strictObject(
  Object.fromEntries(AXES.map((a) => [a, AxisInputSchema])) as Record<(typeof AXES)[number], typeof AxisInputSchema>,
);
/** A custom grid as written in a file. */
export type GridFile = z.infer<typeof GridFileSchema>;

function axisValues(input: AxisInput): number[] {
  if (typeof input === "number") return [input];
  if (Array.isArray(input)) return [...input];
  if ("values" in input) return [...input.values];
  if ("linspace" in input) return linspace(input.linspace.start, input.linspace.stop, input.linspace.num);
  return logspaceBetween(input.logspace.min, input.logspace.max, input.logspace.num);
}

function axisLength(input: AxisInput): number {
  if (typeof input === "number") return 1;
  if (Array.isArray(input)) return input.length;
  if ("values" in input) return input.values.length;
  return "linspace" in input ? input.linspace.num : input.logspace.num;
}

// YAML reads .nan and .inf as numbers, and JSON reads 1e999 as Infinity; the schema would
// call them "not a valid axis", so they are named here first, with where they are.
function assertFinite(data: unknown, source: string, path = ""): void {
  if (typeof data === "number") {
    if (!Number.isFinite(data)) {
      throw new CompasEnsembleError("GRID_INVALID", nonFiniteMessage(source, path || "the file", data), {
        hint: "YAML's .nan and .inf, and numbers beyond 1.8e308 such as 1e999, are not finite numbers.",
      });
    }
    return;
  }
  if (Array.isArray(data)) data.forEach((v, i) => assertFinite(v, source, `${path}[${i}]`));
  else if (data !== null && typeof data === "object") {
    for (const [key, v] of Object.entries(data)) assertFinite(v, source, path ? `${path}.${key}` : key);
  }
}

/**
 * Turns a parsed grid file into a validated {@link GridSpec}.
 * @param data - the parsed JSON or YAML
 * @param source - name of the file, for messages
 */
export function gridSpecFromObject(data: unknown, source = "grid file"): GridSpec {
  assertFinite(data, source);
  const parsed = GridFileSchema.safeParse(data);
  if (!parsed.success) throw zodToGridError(parsed.error, data, source);
  for (const axis of AXES) {
    const n = axisLength(parsed.data[axis]);
    // Refused before the values exist: a linspace of 10^13 values would fill the memory.
    if (n > MAX_GRID_POINTS) {
      throw new CompasEnsembleError(
        "GRID_INVALID",
        `${source}: axis ${axis} has ${n.toLocaleString("en-US")} values, more than the limit of ` +
          `${MAX_GRID_POINTS.toLocaleString("en-US")} points per run or plan; give it fewer values.`,
      );
    }
  }
  const spec = Object.fromEntries(AXES.map((a) => [a, axisValues(parsed.data[a])])) as GridSpec;
  validateGridSpec(spec, source);
  return spec;
}

/**
 * Reads a custom grid from a JSON or YAML file (by extension; YAML otherwise) and validates it.
 * @param path - the grid file
 */
export function loadGridFile(path: string): GridSpec {
  const source = `grid file ${path}`;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new CompasEnsembleError("GRID_INVALID", `${source} cannot be read; check the path.`, { cause });
  }
  let data: unknown;
  try {
    data = extname(path).toLowerCase() === ".json" ? JSON.parse(text) : requireCjs<typeof import("yaml")>("yaml").parse(text);
  } catch (cause) {
    const what = extname(path).toLowerCase() === ".json" ? "JSON" : "YAML";
    throw new CompasEnsembleError("GRID_INVALID", `${source} is not valid ${what}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return gridSpecFromObject(data, source);
}

function zodToGridError(error: z.ZodError, data: unknown, source: string): CompasEnsembleError {
  const issue = error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    return new CompasEnsembleError(
      "GRID_INVALID",
      `${source}: unknown key ${[...issue.path, issue.keys[0]].join(".")}; the axes are ${AXES.join(", ")}.`,
      { cause: error },
    );
  }
  const path = issue.path.join(".");
  if (issue.path.length === 1 && valueAt(data, issue.path) === undefined) {
    return new CompasEnsembleError(
      "GRID_INVALID",
      `${source}: axis ${path} is missing; give its values as a list, e.g. ${path}: [1.0].`,
      { cause: error },
    );
  }
  const value = JSON.stringify(valueAt(data, issue.path));
  return new CompasEnsembleError(
    "GRID_INVALID",
    `${source}: ${path || "the file"} = ${value} is not a valid axis; write a number, a list of numbers, ` +
      `{values: [...]}, {linspace: {start, stop, num}} or {logspace: {min, max, num}}.`,
    { cause: error },
  );
}

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}
