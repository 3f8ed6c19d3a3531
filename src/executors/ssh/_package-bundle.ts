import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { z } from "zod";
import { hashFile } from "../../compas/probe.js";
import { CompasEnsembleError } from "../../errors.js";
import { writeJsonAtomic } from "../../util/atomic-write.js";
import { LIBRARY_VERSION } from "../../version.js";

const PACKAGE_NAME = "compas-ensemble";

/**
 * compas-ensemble at one version with all its dependencies, installed on this machine into an
 * npm global prefix and packed as a .tgz: what `hosts setup` unpacks on each host, so the
 * hosts need neither npm nor the network. The dependencies are plain JavaScript and
 * WebAssembly (installed without install scripts), so the same bundle runs on any Linux CPU.
 */
export const PackageBundleSchema = z.object({
  /** The .tgz on this machine (holds `bin/` and `lib/node_modules/compas-ensemble/`). */
  path: z.string(),
  version: z.string(),
  /** What was installed: `sha256:<hex>` of an npm pack tarball, or `registry:compas-ensemble@<version>`. */
  source: z.string(),
  /** sha256 of the .tgz, checked on each host after the copy. */
  sha256: z.string(),
  bytes: z.number().int().nonnegative(),
  /** Bytes once unpacked, for the hosts' disk check. */
  unpackedBytes: z.number().int().nonnegative(),
});
/** A packed compas-ensemble installation; see {@link PackageBundleSchema}. */
export type PackageBundle = z.infer<typeof PackageBundleSchema>;

/** Options of {@link preparePackageBundle}. */
export interface PreparePackageBundleOptions {
  /** An `npm pack` tarball of compas-ensemble (air-gapped hosts, unpublished builds); default: the npm registry. */
  package?: string;
  /** The version to install; default this library's. A tarball of another version is refused. */
  version?: string;
  /** Where bundles are kept for reuse; default $XDG_CACHE_HOME/compas-ensemble/bundles (~/.cache/...). */
  cacheDir?: string;
  /** The npm command. Default `npm`. */
  npm?: string;
}

function run(command: string, args: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(command, args, { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 900_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      res({ code, stdout, stderr: err && !stderr ? (err as Error).message : stderr });
    });
  });
}

function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "compas-ensemble", "bundles");
}

function treeBytes(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + treeBytes(join(path, name)), 0);
}

/**
 * Installs compas-ensemble at the wanted version with its dependencies into a fresh prefix on
 * this machine (npm, from npm's cache when it can, else the registry) and packs the prefix,
 * or returns the bundle made earlier from the same source (kept in `cacheDir`).
 * @param options - tarball or registry, version, cache folder
 */
export async function preparePackageBundle(options: PreparePackageBundleOptions = {}): Promise<PackageBundle> {
  const version = options.version ?? LIBRARY_VERSION;
  const npm = options.npm ?? "npm";
  let spec: string;
  let source: string;
  if (options.package) {
    const tarball = resolve(options.package);
    if (!existsSync(tarball) || !statSync(tarball).isFile()) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `--package ${options.package} is not a file.`, { hint: "Give an `npm pack` tarball of compas-ensemble (npm pack compas-ensemble@<version> makes one)." });
    }
    const manifest = await run("tar", ["-xzOf", tarball, "package/package.json"], process.cwd());
    let pkg: { name?: string; version?: string } = {};
    try {
      pkg = JSON.parse(manifest.stdout) as typeof pkg;
    } catch {
      // reported below
    }
    if (manifest.code !== 0 || pkg.name !== PACKAGE_NAME) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `--package ${options.package} is not an npm pack tarball of ${PACKAGE_NAME}${pkg.name ? ` (it holds ${pkg.name})` : ""}.`, {
        hint: `Make one with \`npm pack ${PACKAGE_NAME}@${version}\` on a machine with network access.`,
      });
    }
    if (pkg.version !== version) {
      throw new CompasEnsembleError("PLAN_MISMATCH", `--package ${options.package} holds ${PACKAGE_NAME} ${pkg.version}, but this is ${version}, and hosts must run the version that makes the plans.`, {
        hint: `Use a tarball of ${PACKAGE_NAME}@${version} (npm pack ${PACKAGE_NAME}@${version}).`,
      });
    }
    spec = tarball;
    source = `sha256:${await hashFile(tarball)}`;
  } else {
    spec = `${PACKAGE_NAME}@${version}`;
    source = `registry:${spec}`;
  }

  const cacheDir = options.cacheDir ?? defaultCacheDir();
  mkdirSync(cacheDir, { recursive: true });
  const name = `${PACKAGE_NAME}-${version}-${createHash("sha256").update(source).digest("hex").slice(0, 16)}`;
  const tgz = join(cacheDir, `${name}.tgz`);
  const meta = join(cacheDir, `${name}.json`);
  if (existsSync(tgz) && existsSync(meta)) {
    const cached = PackageBundleSchema.safeParse(JSON.parse(readFileSync(meta, "utf8")));
    if (cached.success && cached.data.path === tgz && statSync(tgz).size === cached.data.bytes) return cached.data;
  }

  const work = mkdtempSync(join(cacheDir, ".build-"));
  try {
    const prefix = join(work, "prefix");
    const flags = ["install", "--global", "--prefix", prefix, "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier"];
    // npm's cache first (fast, and works offline); the registry only for what it lacks.
    let r = await run(npm, [...flags, "--offline", spec], work);
    if (r.code !== 0 && /ENOTCACHED|offline/i.test(r.stderr)) r = await run(npm, [...flags, "--prefer-offline", spec], work);
    if (r.code !== 0) {
      const notFound = !options.package && /E404|ETARGET|No matching version/i.test(r.stderr);
      throw new CompasEnsembleError(
        "OPTIONS_INVALID",
        notFound
          ? `${spec} is not on the npm registry, so it cannot be installed on the hosts from there.`
          : `Installing ${options.package ?? spec} with npm on this machine failed: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`,
        { hint: notFound ? "Pack this build (npm pack in the compas-ensemble checkout) and pass the tarball with --package." : "Check npm's access to the registry (or its cache), or pass --package with an npm pack tarball." },
      );
    }
    const cli = join(prefix, "lib", "node_modules", PACKAGE_NAME, "dist", "cli.js");
    const check = await run(process.execPath, [cli, "--version"], work);
    if (check.code !== 0 || check.stdout.trim() !== version) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `The installed ${PACKAGE_NAME} does not report version ${version} (${check.stdout.trim() || check.stderr.trim().split("\n")[0]}).`);
    }
    const unpackedBytes = treeBytes(prefix);
    const partial = join(work, "bundle.tgz");
    const tar = spawn("tar", ["-cf", "-", "-C", prefix, "."], { stdio: ["ignore", "pipe", "pipe"] });
    let tarErr = "";
    tar.stderr.on("data", (d: Buffer) => (tarErr += d.toString()));
    const exited = new Promise<number | null>((res) => tar.on("close", (code) => res(code)));
    // Level 1: several times faster than tar's default and barely larger (the bulk is WebAssembly and minified JS).
    await pipeline(tar.stdout, createGzip({ level: 1 }), createWriteStream(partial));
    if ((await exited) !== 0) throw new CompasEnsembleError("OPTIONS_INVALID", `Packing the installed ${PACKAGE_NAME} failed: ${tarErr.trim()}.`);
    const bundle: PackageBundle = { path: tgz, version, source, sha256: await hashFile(partial), bytes: statSync(partial).size, unpackedBytes };
    renameSync(partial, tgz);
    await writeJsonAtomic(meta, bundle);
    return bundle;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
