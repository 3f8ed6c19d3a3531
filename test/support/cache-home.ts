// Vitest setup file: every test file gets an empty cache folder of its own ($XDG_CACHE_HOME,
// inherited by the processes tests start), so tests neither read the user's cache of COMPAS
// binaries and calibrations nor leave entries for their temporary binaries in it.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), "ce-cache-home-"));
