import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FragmentSchema, ManifestSchema, type Fragment, type Manifest } from "../../src/manifest/schema.js";

/** The fragments of a local ensemble folder, each parsed by the library's schema (none yet: []). */
export function fragmentsIn(dir: string): Fragment[] {
  const fdir = join(dir, "fragments");
  if (!existsSync(fdir)) return [];
  return readdirSync(fdir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => FragmentSchema.parse(JSON.parse(readFileSync(join(fdir, f), "utf8"))));
}

/** The manifest (ensemble_metadata.json) of a local ensemble folder, parsed by the library's schema. */
export function manifestOf(dir: string): Manifest {
  return ManifestSchema.parse(JSON.parse(readFileSync(join(dir, "ensemble_metadata.json"), "utf8")));
}
