import { inspectExecutable, isRunnableElf, marchVerdict } from "../../compas/elf.js";
import { probeCompas, resolveCompasBinary } from "../../compas/probe.js";
import { CompasEnsembleError, isCompasEnsembleError } from "../../errors.js";
import { formatBytes } from "../../util/format.js";
import { SshConnection, defaultKnownHostsFile, loadKnownHosts, type ConnectionSettings } from "./_connection.js";
import type { PackageBundle } from "./_package-bundle.js";
import { checkRemoteEnv } from "./_remote-scripts.js";
import { attemptStep, hostSteps, type HostSetupStep, type HostState, type SetupContext } from "./_setup-steps.js";
import type { TransferCount } from "./_upload.js";
import { parseHosts, type SshHostInput } from "./hosts.js";
import type { HostPreflight } from "./preflight.js";

export { preparePackageBundle, PackageBundleSchema, type PackageBundle, type PreparePackageBundleOptions } from "./_package-bundle.js";
export { SETUP_STEPS, type SetupStepName, type HostSetupStep } from "./_setup-steps.js";
export type { TransferCount } from "./_upload.js";

/** Options of {@link setupHosts}. */
export interface SetupHostsOptions extends ConnectionSettings {
  /** The hosts (as in a hosts file). */
  hosts: readonly (SshHostInput | string)[];
  /** The COMPAS build to install: a path, else looked up as `run` does (COMPAS_BINARY, ...). */
  compasBinary?: string;
  /** compas-ensemble to install, from {@link preparePackageBundle}. */
  package: PackageBundle;
  /** Folder on the hosts for installs and ensembles (a host's own remoteDir wins). Default ~/.compas-ensemble. */
  remoteDir?: string;
  /** Node on the hosts. Default `node`. */
  remoteNode?: string;
  /** Non-secret environment for remote commands (e.g. PATH); give the executor the same `env`. */
  env?: Readonly<Record<string, string>>;
  /** Run the package install for missing shared libraries (through `sudo -n`, never prompting). Default false: print it. */
  installLibraries?: boolean;
  /** Called as each step of each host ends. */
  onStep?: (host: string, step: HostSetupStep) => void;
}

/** How setup went on one host. */
export interface HostSetupReport {
  host: string;
  /** Every step passed: `run --executor ssh` will start on this host. */
  ok: boolean;
  /** The steps that ran, in order; the last one failed when `ok` is false. */
  steps: HostSetupStep[];
  /** What was sent (0 files when everything was already in place). */
  transfers: TransferCount;
  /** Where the COMPAS build is on the host. */
  compasBinary?: string;
  /** The per-version prefix compas-ensemble is installed in. */
  packagePrefix?: string;
  /** Shared libraries missing on the host, when checked. */
  missingLibraries?: string[];
  /** The command that installs them on the host. */
  installCommand?: string;
  /** The final preflight, when it ran. */
  preflight?: HostPreflight;
}

/** What {@link setupHosts} returns. */
export interface SetupHostsResult {
  /** Every host is ready. */
  ok: boolean;
  compas: { binary: string; version: string; sha256: string };
  package: { version: string; source: string };
  /** Things that do not stop setup but matter (e.g. a -march=native build). */
  warnings: string[];
  hosts: HostSetupReport[];
}

/**
 * Prepares SSH hosts for `run --executor ssh`, all in parallel and idempotently: copies the
 * COMPAS build to `<remoteDir>/compas/<sha256>/COMPAS` (temporary name, sha256 checked on the
 * host, then renamed), checks its shared libraries with `ldd` (printing, or with
 * `installLibraries` running, the apt/dnf command), checks Node, unpacks compas-ensemble at
 * this version into `<remoteDir>/pkg/<version>/`, and ends with the executor's own preflight.
 * The executor finds both there by the plan's sha256 and version, so the hosts file needs no
 * edit. A host that fails a step is reported with the step and a fix; the others go on.
 * Throws (before connecting) only for bad input: hosts, environment, a binary that is not a
 * Linux program.
 * @param options - hosts, binary, package bundle and connection settings
 */
export async function setupHosts(options: SetupHostsOptions): Promise<SetupHostsResult> {
  const hosts = parseHosts(options.hosts);
  const remoteEnv = options.env ?? {};
  checkRemoteEnv(remoteEnv);
  const path = resolveCompasBinary({ compasBinary: options.compasBinary });
  const info = await inspectExecutable(path);
  if (info.kind === "other" || (info.kind === "elf" && !isRunnableElf(info))) {
    const what = info.kind === "other" ? info.description : `an ELF ${info.type}`;
    throw new CompasEnsembleError("COMPAS_NOT_FOUND", `COMPAS binary ${path} is ${what}, not a Linux executable, so it cannot run on the hosts.`, {
      hint: "Build COMPAS on Linux (src/bin/COMPAS after make) and pass that file with --compas-binary.",
    });
  }
  const probe = await probeCompas(path);
  const warnings: string[] = [];
  if (info.kind === "elf") {
    const v = marchVerdict(info);
    if (v.verdict === "native" || v.verdict === "cpu") {
      warnings.push(
        `COMPAS was built ${v.verdict === "native" ? "with -march=native" : "for one CPU"} (-march=${v.march ?? "native"}): on hosts whose CPU lacks its instructions it dies with 'Illegal instruction'; use hosts like the build machine, or rebuild with a portable target (-march=x86-64-v2).`,
      );
    }
  }

  const ctx: SetupContext = {
    binary: { path, version: probe.version, sha256: probe.sha256, info },
    bundle: options.package,
    ...(options.remoteDir !== undefined ? { remoteDir: options.remoteDir } : {}),
    remoteNode: options.remoteNode ?? "node",
    remoteEnv,
    installLibraries: options.installLibraries ?? false,
  };
  const { knownHostsFile, identityFile, agent, connectTimeoutMs } = options;
  const connection: ConnectionSettings = Object.fromEntries(Object.entries({ knownHostsFile, identityFile, agent, connectTimeoutMs }).filter(([, v]) => v !== undefined));
  const knownHosts = loadKnownHosts(options.knownHostsFile ?? defaultKnownHostsFile());

  const reports = await Promise.all(
    hosts.map(async (host): Promise<HostSetupReport> => {
      const state: HostState = { transfers: { files: 0, bytes: 0 }, family: "other", root: false, dnf: false, compasInPlace: false, compasDamaged: false, packageInPlace: false };
      const report: HostSetupReport = { host: host.name, ok: false, steps: [], transfers: state.transfers };
      const record = (step: HostSetupStep): boolean => {
        report.steps.push(step);
        options.onStep?.(host.name, step);
        return step.ok;
      };
      let conn: SshConnection;
      try {
        conn = await SshConnection.open(host, connection, knownHosts);
      } catch (err) {
        if (!isCompasEnsembleError(err)) throw err;
        record({ step: "connect", ok: false, detail: err.message, ...(err.hint ? { fix: err.hint } : {}), code: err.code });
        return report;
      }
      try {
        record({ step: "connect", ok: true, detail: `logged in as ${host.user}` });
        for (const [name, fn] of hostSteps(conn, ctx, state)) {
          if (!record(await attemptStep(name, fn))) break;
        }
      } finally {
        conn.close();
      }
      report.ok = report.steps.every((s) => s.ok) && report.steps.at(-1)?.step === "preflight";
      if (state.layout) {
        report.compasBinary = state.layout.compasBinary;
        report.packagePrefix = state.layout.prefix;
      }
      if (state.missingLibraries) report.missingLibraries = state.missingLibraries;
      if (state.installCommand) report.installCommand = state.installCommand;
      if (state.preflight) report.preflight = state.preflight;
      return report;
    }),
  );
  return {
    ok: reports.every((r) => r.ok),
    compas: { binary: path, version: probe.version, sha256: probe.sha256 },
    package: { version: options.package.version, source: options.package.source },
    warnings,
    hosts: reports,
  };
}

/**
 * One line per host: `ok` with what was done, or `FAILED at <step>` with the finding and the fix.
 * @param result - from {@link setupHosts}
 */
export function formatSetup(result: SetupHostsResult): string {
  const lines = result.warnings.map((w) => `warning: ${w}`);
  for (const r of result.hosts) {
    const sent = r.transfers.files === 0 ? "nothing copied" : `${r.transfers.files} file(s) copied, ${formatBytes(r.transfers.bytes)}`;
    if (r.ok) {
      const done = r.steps.filter((s) => s.step === "compas" || s.step === "package" || s.step === "preflight").map((s) => s.detail);
      lines.push(`${r.host}: ok: ${done.join("; ")}; ${sent}`);
    } else {
      const failed = r.steps.at(-1)!;
      lines.push(`${r.host}: FAILED at ${failed.step}: ${failed.detail.replace(/[.;]\s*$/, "")}${failed.fix ? `; fix: ${failed.fix}` : ""}`);
    }
  }
  const ready = result.hosts.filter((r) => r.ok).length;
  lines.push(`${ready} of ${result.hosts.length} host(s) ready for run --executor ssh (COMPAS ${result.compas.version}, sha256 ${result.compas.sha256.slice(0, 12)}; compas-ensemble ${result.package.version})`);
  return lines.join("\n");
}
