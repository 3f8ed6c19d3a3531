import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { CompasEnsembleError } from "../errors.js";
import { ENSEMBLE_OWNED_ENTRIES, PLAN_KEY } from "./keys.js";
import { isInside } from "./safe-keys.js";

export { ENSEMBLE_OWNED_ENTRIES };

/**
 * The real path of `path` even when it does not exist yet: its longest existing ancestor is
 * resolved through symlinks and the rest appended, so `A/../A/plan.json` or a symlink to an
 * ensemble's folder compares equal to the file it reaches.
 * @param path - any path
 */
export function realPathOf(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const parent = dirname(abs);
    return parent === abs ? abs : join(realPathOf(parent), basename(abs));
  }
}

/**
 * True when `path` is `dir` or lies below it, lexically or once symlinks are resolved.
 * @param dir - a directory
 * @param path - a path, existing or not
 */
export function isWithin(dir: string, path: string): boolean {
  const [d, p] = [resolve(dir), resolve(path)];
  if (d === p || isInside(d, p)) return true;
  const [rd, rp] = [realPathOf(d), realPathOf(p)];
  return rd === rp || isInside(rd, rp);
}

/** What an output must leave alone. */
export interface ProtectedPaths {
  /** Files the command reads (manifests, COMPAS outputs). */
  inputs: readonly string[];
  /** Ensemble directories whose {@link ENSEMBLE_OWNED_ENTRIES} must not be written. */
  ensembleDirs: readonly string[];
}

/**
 * Refuses an output path that is one of the inputs, lies in (or is) something an ensemble
 * owns, or holds an input or an owned entry below it (a directory output replaced as a
 * whole). Every folder above the output that holds a plan.json counts as an ensemble too.
 * Symlinks are resolved first, so neither `..` nor a link can reach past the check.
 * @param out - the output path (file or directory)
 * @param flag - how the user gave it, for the message (e.g. `--out`)
 * @param protect - the inputs and ensemble directories
 * @throws CompasEnsembleError OUTPUT_PATH_REFUSED naming the path and what it would overwrite
 */
export function refuseProtectedOutput(out: string, flag: string, protect: ProtectedPaths): void {
  const target = realPathOf(out);
  const ensembleDirs = [...protect.ensembleDirs, ...ensemblesAround(target)];
  const check = (protectedPath: string, what: string): void => {
    const real = realPathOf(protectedPath);
    let clash: string | null = null;
    if (target === real) clash = `would overwrite ${what}`;
    else if (isInside(real, target)) clash = `lies inside ${what}`;
    else if (isInside(target, real)) clash = `would replace a folder that holds ${what}`;
    if (clash !== null) {
      throw new CompasEnsembleError("OUTPUT_PATH_REFUSED", `${flag} ${out} ${clash}.`, {
        hint: `Give ${flag} a path outside the ensemble's own files (e.g. a new file next to the ensemble directory).`,
      });
    }
  };
  for (const dir of ensembleDirs) {
    const realDir = realPathOf(dir);
    if (target === realDir || isInside(target, realDir)) check(dir, `the ensemble directory ${dir}`);
  }
  for (const input of protect.inputs) check(input, `the input ${input}`);
  for (const dir of ensembleDirs) {
    for (const entry of ENSEMBLE_OWNED_ENTRIES) check(join(dir, entry), `${join(dir, entry)}, which belongs to the ensemble ${dir}`);
  }
}

// Any folder above the output that holds a plan.json is an ensemble of this library, whose
// files are protected even when the command does not read it.
function ensemblesAround(target: string): string[] {
  const found: string[] = [];
  for (let dir = dirname(target); ; dir = dirname(dir)) {
    if (existsSync(join(dir, PLAN_KEY))) found.push(dir);
    if (dirname(dir) === dir) return found;
  }
}
