import { posix } from "node:path";
import { CompasEnsembleError } from "../../errors.js";
import type { SshConnection } from "./_connection.js";
import type { SshHost } from "./hosts.js";
import { shellQuote } from "../../util/shell-quote.js";
import { EXECUTOR_DEFAULTS } from "../options.js";

// Where `hosts setup` puts things on a host, under the host's remoteDir (default
// ~/.compas-ensemble), and where the SSH executor's preflight finds them again:
//   compas/<sha256>/COMPAS                                   the planned COMPAS build
//   pkg/<version>/lib/node_modules/compas-ensemble/...       compas-ensemble at that version
// Both names come from the plan (its COMPAS sha256 and library_version), so a plan finds its
// own build and version without any configuration, and ensembles of different builds or
// versions live side by side on one host.

/** The marker file in a package prefix naming the bundle it was unpacked from. */
export const PACKAGE_MARKER = ".compas-ensemble-bundle";

const SHA256 = /^[0-9a-f]{64}$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+-]*$/;

/**
 * Refuses a sha256 or version that could not be a path component.
 * @param sha256 - hex digest of the COMPAS binary
 * @param version - compas-ensemble version
 */
export function checkLayoutNames(sha256: string, version: string): void {
  if (!SHA256.test(sha256)) throw new CompasEnsembleError("PLAN_MISMATCH", `COMPAS sha256 ${JSON.stringify(sha256)} is not 64 lowercase hex digits.`);
  if (!VERSION.test(version) || version.length > 100) throw new CompasEnsembleError("PLAN_MISMATCH", `Library version ${JSON.stringify(version)} cannot be used as a folder name on SSH hosts.`);
}

/** Absolute paths of one host's installation, once its home is known. */
export interface InstallLayout {
  /** The host's remoteDir, absolute. */
  root: string;
  compasDir: string;
  compasBinary: string;
  pkgDir: string;
  /** The per-version prefix (an npm global prefix: bin/, lib/node_modules/). */
  prefix: string;
  cli: string;
}

/**
 * The layout under an absolute root.
 * @param root - the host's remoteDir, absolute
 * @param sha256 - the COMPAS build
 * @param version - the compas-ensemble version
 */
export function installLayout(root: string, sha256: string, version: string): InstallLayout {
  checkLayoutNames(sha256, version);
  const compasDir = posix.join(root, "compas", sha256);
  const pkgDir = posix.join(root, "pkg");
  const prefix = posix.join(pkgDir, version);
  return { root, compasDir, compasBinary: posix.join(compasDir, "COMPAS"), pkgDir, prefix, cli: posix.join(prefix, "lib", "node_modules", "compas-ensemble", "dist", "cli.js") };
}

/** What {@link locateInstalled} found on a host. */
export interface InstalledOnHost {
  layout: InstallLayout;
  /** The COMPAS build is in place (executable). */
  compas: boolean;
  /** The package prefix has its CLI. */
  package: boolean;
}

const LOCATE = [
  'case "$1" in /*) r=$1 ;; *) r=${HOME:-$(pwd)}/$1 ;; esac',
  'printf "root %s\\n" "$r"',
  '[ -f "$r/compas/$2/COMPAS" ] && [ -x "$r/compas/$2/COMPAS" ] && echo compas',
  '[ -f "$r/pkg/$3/lib/node_modules/compas-ensemble/dist/cli.js" ] && echo package',
  "exit 0",
].join("\n");

/**
 * Resolves the host's remoteDir to an absolute path and looks for the setup-installed COMPAS
 * build and package version there (one remote command).
 * @param conn - open connection
 * @param remoteDir - the host's or the executor's remoteDir (relative: under the home)
 * @param sha256 - the COMPAS build wanted
 * @param version - the compas-ensemble version wanted
 */
export async function locateInstalled(conn: SshConnection, remoteDir: string, sha256: string, version: string): Promise<InstalledOnHost> {
  checkLayoutNames(sha256, version);
  const out = await conn.run(shellQuote(["sh", "-c", LOCATE, "sh", remoteDir, sha256, version]), "looking for installed builds");
  const root = /^root (.+)$/m.exec(out)?.[1];
  if (!root || !root.startsWith("/")) throw new CompasEnsembleError("SSH_HOST_UNREACHABLE", `On host ${conn.host.name}, the folder ${remoteDir} could not be resolved (no home folder?).`);
  return { layout: installLayout(posix.normalize(root), sha256, version), compas: /^compas$/m.test(out), package: /^package$/m.test(out) };
}

/**
 * The remoteDir that applies to a host: its own, else the executor's, else the default.
 * @param host - the host
 * @param remoteDir - the executor's option
 */
export function hostRemoteDir(host: SshHost, remoteDir?: string): string {
  return host.remoteDir ?? remoteDir ?? EXECUTOR_DEFAULTS.ssh.remoteDir;
}
