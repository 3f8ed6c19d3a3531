import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import { posix } from "node:path";
import { runsOnMachine, type ExecutableInfo } from "../../compas/elf.js";
import { installCommand, missingLibrariesFix, osFamily, packagesFor, parseLdd, type OsFamily } from "../../compas/libraries.js";
import { CompasEnsembleError, type ErrorCode } from "../../errors.js";
import { formatBytes } from "../../util/format.js";
import { lastLines, type SshConnection } from "./_connection.js";
import { PACKAGE_MARKER, hostRemoteDir, locateInstalled, type InstallLayout } from "./_install-layout.js";
import type { PackageBundle } from "./_package-bundle.js";
import { remoteSha256, uploadVerified, type TransferCount } from "./_upload.js";
import { preflightConnection, type HostPreflight } from "./preflight.js";
import { MIN_NODE_MAJOR } from "../../version.js";
import { shellQuote } from "../../util/shell-quote.js";

/** The steps of `hosts setup` on one host, in order. */
export const SETUP_STEPS = ["connect", "platform", "disk", "compas", "libraries", "node", "package", "preflight"] as const;
/** One step of `hosts setup`. */
export type SetupStepName = (typeof SETUP_STEPS)[number];

/** How one step went on one host. */
export interface HostSetupStep {
  step: SetupStepName;
  ok: boolean;
  /** What was found or done. */
  detail: string;
  /** What to do, when the step failed. */
  fix?: string;
  code?: ErrorCode;
}

/** The COMPAS build being installed, as probed on this machine. */
export interface SetupBinary {
  /** Local path (also the plan's path, so the preflight matches what `run` would plan). */
  path: string;
  version: string;
  sha256: string;
  info: ExecutableInfo;
}

/** What every host's setup shares. */
export interface SetupContext {
  binary: SetupBinary;
  bundle: PackageBundle;
  remoteDir?: string;
  remoteNode: string;
  remoteEnv: Readonly<Record<string, string>>;
  installLibraries: boolean;
}

/** State one host's steps pass on to the next. */
export interface HostState {
  transfers: TransferCount;
  layout?: InstallLayout;
  family: OsFamily;
  root: boolean;
  dnf: boolean;
  compasInPlace: boolean;
  compasDamaged: boolean;
  packageInPlace: boolean;
  missingLibraries?: string[];
  installCommand?: string;
  preflight?: HostPreflight;
}

type StepResult = Omit<HostSetupStep, "step">;

/** A failed step: thrown inside a step, turned into its report line. */
class StepFailure extends Error {
  constructor(
    message: string,
    readonly fix: string | undefined,
    readonly code: ErrorCode,
  ) {
    super(message);
  }
}

function fail(detail: string, fix: string | undefined, code: ErrorCode = "OPTIONS_INVALID"): never {
  throw new StepFailure(detail, fix, code);
}

/**
 * Runs one step and turns whatever it throws into a failed step with a fix.
 * @param step - the step's name
 * @param fn - the step
 */
export async function attemptStep(step: SetupStepName, fn: () => Promise<StepResult>): Promise<HostSetupStep> {
  try {
    return { step, ...(await fn()) };
  } catch (err) {
    if (err instanceof StepFailure) return { step, ok: false, detail: err.message, ...(err.fix ? { fix: err.fix } : {}), code: err.code };
    if (err instanceof CompasEnsembleError) return { step, ok: false, detail: err.message, ...(err.hint ? { fix: err.hint } : {}), code: err.code };
    throw err;
  }
}

/** The steps after `connect`, each a function of the open connection. */
export function hostSteps(conn: SshConnection, ctx: SetupContext, state: HostState): Array<[SetupStepName, () => Promise<StepResult>]> {
  const host = conn.host;
  const envArgs = Object.entries(ctx.remoteEnv).map(([k, v]) => `${k}=${v}`);
  const cmd = (argv: readonly string[]): string => shellQuote(envArgs.length ? ["env", ...envArgs, ...argv] : argv);
  const layout = (): InstallLayout => state.layout ?? fail("the install folder was not resolved", undefined, "SSH_HOST_UNREACHABLE");
  const diskFix = `free space on the host's disk, or give ${host.name} a remoteDir on a bigger disk in the hosts file`;

  return [
    [
      "platform",
      async () => {
        const script = 'uname -s; uname -m; id -u; command -v dnf >/dev/null 2>&1 && echo dnf || echo no-dnf; cat /etc/os-release 2>/dev/null; exit 0';
        const r = await conn.exec(cmd(["sh", "-c", script]));
        const [os = "", machine = "", uid = "", dnf = "", ...release] = r.stdout.split("\n");
        if (r.code !== 0 || !os.trim()) fail(`uname failed on ${host.name} (${lastLines(r.stderr) || `exit ${r.code}`})`, "check that the host has a POSIX shell and uname (coreutils)");
        if (os.trim() !== "Linux") {
          fail(`${host.name} runs ${os.trim()}, not Linux`, `the SSH executor runs COMPAS on Linux hosts only: drop ${host.name} from the hosts file or use a Linux machine`);
        }
        const { family, name } = osFamily(release.join("\n"));
        state.family = family;
        state.root = uid.trim() === "0";
        state.dnf = dnf.trim() === "dnf";
        const info = ctx.binary.info;
        if (info.kind === "elf" && !runsOnMachine(info.machine, machine.trim())) {
          fail(
            `COMPAS ${ctx.binary.version} is built for ${info.machine}, but ${host.name} is ${machine.trim()}`,
            `one ensemble runs one build: use ${info.machine} hosts for this build, or drop ${host.name}`,
            "PLAN_MISMATCH",
          );
        }
        return { ok: true, detail: `Linux ${machine.trim()}, ${name}` };
      },
    ],
    [
      "disk",
      async () => {
        const found = await locateInstalled(conn, hostRemoteDir(host, ctx.remoteDir), ctx.binary.sha256, ctx.bundle.version);
        state.layout = found.layout;
        if (found.compas) {
          const sha = await remoteSha256(conn, found.layout.compasBinary, cmd);
          state.compasInPlace = sha === ctx.binary.sha256;
          state.compasDamaged = !state.compasInPlace;
        }
        if (found.package) {
          const marker = await conn.exec(cmd(["cat", "--", posix.join(found.layout.prefix, PACKAGE_MARKER)]));
          state.packageInPlace = marker.code === 0 && marker.stdout.trim() === ctx.bundle.source;
        }
        const size = (await stat(ctx.binary.path)).size;
        const needed = (state.compasInPlace ? 0 : size) + (state.packageInPlace ? 0 : ctx.bundle.bytes + ctx.bundle.unpackedBytes);
        if (needed === 0) return { ok: true, detail: "nothing to copy" };
        const root = found.layout.root;
        const r = await conn.exec(`${cmd(["mkdir", "-p", "--", root])} && ${cmd(["df", "-Pk", "--", root])}`);
        const last = r.stdout.trim().split("\n").at(-1)?.trim().split(/\s+/) ?? [];
        const freeKiB = Number(last[3]);
        if (r.code !== 0) fail(`cannot create or measure ${root} on ${host.name} (${lastLines(r.stderr) || `exit ${r.code}`})`, `give ${host.name} a remoteDir it can write to in the hosts file`);
        if (!Number.isFinite(freeKiB)) return { ok: true, detail: `${formatBytes(needed)} to copy; df gave no free space figure, so it was not checked` };
        const free = freeKiB * 1024;
        // 10% spare for file system overhead and the temporary copies beside the final names.
        if (free < needed * 1.1) {
          fail(`${formatBytes(free)} free on ${last[5] ?? root} for ${root} on ${host.name}, but the COMPAS build and compas-ensemble need about ${formatBytes(needed * 1.1)}`, diskFix, "DISK_FULL");
        }
        return { ok: true, detail: `${formatBytes(free)} free on ${last[5] ?? root}, ${formatBytes(needed)} to copy` };
      },
    ],
    [
      "compas",
      async () => {
        const dest = layout().compasBinary;
        const what = `COMPAS ${ctx.binary.version} (sha256 ${ctx.binary.sha256.slice(0, 12)})`;
        if (state.compasInPlace) return { ok: true, detail: `${what} already at ${dest}` };
        try {
          await uploadVerified(conn, ctx.binary.path, dest, ctx.binary.sha256, state.transfers, 0o755, cmd);
        } catch (err) {
          const e = err as CompasEnsembleError;
          fail(e.message, /space|quota|failure/i.test(e.message) ? diskFix : "run hosts setup again; if it fails again, check the host's disk", "SSH_HOST_UNREACHABLE");
        }
        return { ok: true, detail: `copied ${what} to ${dest}${state.compasDamaged ? ", replacing a copy with another sha256" : ""}` };
      },
    ],
    [
      "libraries",
      async () => {
        if (ctx.binary.info.kind !== "elf") return { ok: true, detail: "COMPAS is a script, not an ELF binary: no shared libraries to check" };
        const dest = layout().compasBinary;
        const ldd = async (): Promise<{ total: number; missing: string[] } | undefined> => {
          const r = await conn.exec(cmd(["ldd", dest]));
          if (r.code === 127) return undefined;
          const entries = parseLdd(r.stdout);
          return { total: entries.length, missing: entries.filter((e) => !e.found).map((e) => e.name) };
        };
        const before = await ldd();
        if (!before) return { ok: true, detail: "ldd is not installed on the host, so the shared libraries were not checked" };
        if (before.missing.length === 0) return { ok: true, detail: `all ${before.total} shared libraries found` };
        state.missingLibraries = before.missing;
        const packages = packagesFor(before.missing);
        const family = state.family;
        const list = family === "debian" ? packages.debian : family === "rhel" ? packages.rhel : [];
        const command = family !== "other" && list.length ? installCommand(family, list, { asRoot: state.root, dnf: state.dnf }) : undefined;
        if (command) state.installCommand = command;
        const missingText = `${before.missing.length} shared librar${before.missing.length > 1 ? "ies" : "y"} missing on ${host.name}: ${before.missing.join(", ")}`;
        const unknown = packages.unknown.length ? `; find the package that provides ${packages.unknown.join(", ")} (apt-file search <name> or dnf provides '*/<name>')` : "";
        if (!command) fail(missingText, family === "other" ? missingLibrariesFix(before.missing) : unknown.slice(2), "COMPAS_NOT_FOUND");
        if (!ctx.installLibraries) {
          fail(missingText, `run on ${host.name}: ${command}${unknown} (or rerun hosts setup with --install-libraries to run it there through sudo -n)`, "COMPAS_NOT_FOUND");
        }
        // sudo -n never prompts: without passwordless sudo it fails, and the user runs the command.
        const plain = installCommand(family as "debian" | "rhel", list, { asRoot: true, dnf: state.dnf });
        const install = state.root ? ["sh", "-c", plain] : ["sudo", "-n", "sh", "-c", plain];
        const r = await conn.exec(cmd(["env", "DEBIAN_FRONTEND=noninteractive", ...install]), { timeoutMs: 900_000 });
        if (r.code !== 0) {
          fail(
            `${missingText}; installing them failed (${r.code === 127 ? "sudo is not installed" : lastLines(r.stderr || r.stdout)})`,
            `run on ${host.name} as a user who may install packages: ${command}${unknown}`,
            "COMPAS_NOT_FOUND",
          );
        }
        const after = await ldd();
        if (after && after.missing.length > 0) {
          state.missingLibraries = after.missing;
          fail(
            `installed ${list.join(" ")} on ${host.name}, but ${after.missing.join(", ")} ${after.missing.length > 1 ? "are" : "is"} still missing: the distribution has other versions`,
            `rebuild COMPAS on ${host.name}'s distribution (and give it its own ensemble: one ensemble = one build), or use hosts with the build machine's distribution`,
            "COMPAS_NOT_FOUND",
          );
        }
        state.missingLibraries = [];
        return { ok: true, detail: `installed ${list.join(" ")}; all shared libraries found now` };
      },
    ],
    [
      "node",
      async () => {
        const r = await conn.exec(cmd([ctx.remoteNode, "--version"]));
        const version = r.stdout.trim();
        const fix = `install Node >= ${MIN_NODE_MAJOR} on ${host.name} (the distribution's nodejs, NodeSource or nvm), or name it with remoteNode / --env PATH=...`;
        if (r.code !== 0) fail(`${ctx.remoteNode} --version failed on ${host.name} (${r.code === 127 ? "not found" : lastLines(r.stderr) || `exit ${r.code}`})`, fix);
        if (!(Number(/^v(\d+)\./.exec(version)?.[1]) >= MIN_NODE_MAJOR)) fail(`${host.name} has Node ${version}, but compas-ensemble needs >= ${MIN_NODE_MAJOR}`, fix);
        return { ok: true, detail: `node ${version}` };
      },
    ],
    [
      "package",
      async () => {
        const l = layout();
        const what = `compas-ensemble ${ctx.bundle.version}`;
        if (state.packageInPlace) return { ok: true, detail: `${what} already in ${l.prefix}` };
        const id = randomBytes(6).toString("hex");
        const tgz = posix.join(l.pkgDir, `.bundle-${id}.tgz`);
        try {
          await uploadVerified(conn, ctx.bundle.path, tgz, ctx.bundle.sha256, state.transfers, 0o644, cmd);
        } catch (err) {
          fail((err as Error).message, diskFix, "SSH_HOST_UNREACHABLE");
        }
        const cli = posix.relative(l.prefix, l.cli);
        const script = [
          'tgz=$1; t=$2; final=$3; old=$4; src=$5; marker=$6; node=$7; want=$8; cli=$9',
          'trap \'rm -rf "$t" "$tgz"\' EXIT',
          'mkdir -p "$t" && tar -xzf "$tgz" -C "$t" || exit 1',
          'rm -f "$tgz"',
          'v=$("$node" "$t/$cli" --version) || exit 1',
          '[ "$v" = "$want" ] || { echo "the unpacked package reports version $v, not $want" >&2; exit 1; }',
          'printf "%s\\n" "$src" > "$t/$marker" || exit 1',
          // Renames only: the version's folder holds the old or the new installation, never a half-unpacked one.
          'if [ -e "$final" ]; then mv "$final" "$old" || exit 1; fi',
          'mv "$t" "$final" || exit 1',
          'rm -rf "$old"',
        ].join("\n");
        const r = await conn.exec(
          cmd(["sh", "-c", script, "sh", tgz, posix.join(l.pkgDir, `.unpack-${id}`), l.prefix, posix.join(l.pkgDir, `.old-${id}`), ctx.bundle.source, PACKAGE_MARKER, ctx.remoteNode, ctx.bundle.version, cli]),
          { timeoutMs: 600_000 },
        );
        if (r.code !== 0) {
          const why = lastLines(r.stderr || r.stdout);
          fail(`unpacking ${what} into ${l.prefix} on ${host.name} failed: ${why || `exit ${r.code}`}`, /space|quota/i.test(why) ? diskFix : "run hosts setup again; the host keeps no half-unpacked copy", /space|quota/i.test(why) ? "DISK_FULL" : "SSH_HOST_UNREACHABLE");
        }
        return { ok: true, detail: `installed ${what} in ${l.prefix}` };
      },
    ],
    [
      "preflight",
      async () => {
        const report = await preflightConnection(conn, {
          plan: { library_version: ctx.bundle.version, compas: { binary: ctx.binary.path, version: ctx.binary.version, sha256: ctx.binary.sha256 } },
          remoteNode: ctx.remoteNode,
          remoteEnv: ctx.remoteEnv,
          ...(ctx.remoteDir !== undefined ? { remoteDir: ctx.remoteDir } : {}),
        });
        state.preflight = report;
        const failed = report.checks.filter((c) => !c.ok);
        if (failed.length > 0) {
          fail(`the preflight of run --executor ssh fails: ${failed.map((c) => c.detail).join("; ")}`, "fix what the preflight names, then run hosts setup again", failed[0]!.code ?? "OPTIONS_INVALID");
        }
        return { ok: true, detail: `the preflight of run --executor ssh passes (${report.slots ?? "?"} slots)` };
      },
    ],
  ];
}
