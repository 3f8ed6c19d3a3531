import { CompasEnsembleError, isCompasEnsembleError, type ErrorCode } from "../../errors.js";
import type { Plan } from "../../plan/schema.js";
import { SshConnection, lastLines, loadKnownHosts, defaultKnownHostsFile, type ConnectionSettings } from "./_connection.js";
import type { SshHost } from "./hosts.js";
import { hostRemoteDir, locateInstalled, type InstalledOnHost } from "./_install-layout.js";
import { shellQuote } from "../../util/shell-quote.js";
import { EXECUTOR_DEFAULTS } from "../options.js";
import { MIN_NODE_MAJOR } from "../../version.js";

/** One check of one host. */
export interface PreflightCheck {
  check: "reachable" | "cores" | "node" | "package" | "compas";
  ok: boolean;
  /** What was found, or what is wrong and what to do. */
  detail: string;
  /** Error code when the check failed. */
  code?: ErrorCode;
}

/** Everything preflight learned about one host. */
export interface HostPreflight {
  host: string;
  ok: boolean;
  /** Slots to use: the host's `slots`, else its core count. */
  slots?: number;
  checks: PreflightCheck[];
  /** The COMPAS path the checks used (configured, else installed by `hosts setup`, else the plan's). */
  compasBinary?: string;
  /** The remote compas-ensemble command the checks used (configured, else installed by `hosts setup`, else `compas-ensemble`). */
  remoteCommand?: string[];
}

/** What the hosts must match, and how to run things there. */
export interface PreflightSettings {
  /** The plan's library_version and COMPAS identity (version and sha256). */
  plan: Pick<Plan, "library_version" | "compas">;
  /** Remote `compas-ensemble` as argv. Default `["compas-ensemble"]`. */
  remoteCommand?: readonly string[];
  /** Remote node. Default `node`. */
  remoteNode?: string;
  /** COMPAS on the hosts unless a host names its own; default the plan's path. */
  compasBinary?: string;
  /** Non-secret environment for remote commands (e.g. PATH). */
  remoteEnv?: Readonly<Record<string, string>>;
  /** The executor's remoteDir (a host's own wins), where `hosts setup` installs. */
  remoteDir?: string;
}

/**
 * Checks one host over an open connection: core count, Node >= 20, compas-ensemble at the
 * plan's version, and the COMPAS binary with the plan's version and sha256 (`--version` and
 * `sha256sum` run on the host). Where neither the host nor the settings name the COMPAS path
 * or the remote command, what `hosts setup` installed for the plan's build and version under
 * the remoteDir is used when present. Never throws for a failed check: failures are in the report.
 * @param conn - open connection to the host
 * @param settings - what to check against
 * @param elapsedMs - how long connecting took, for the report
 */
export async function preflightConnection(conn: SshConnection, settings: PreflightSettings, elapsedMs = 0): Promise<HostPreflight> {
  const host = conn.host;
  const env = Object.entries(settings.remoteEnv ?? {}).map(([k, v]) => `${k}=${v}`);
  const cmd = (argv: readonly string[]): string => shellQuote(env.length ? ["env", ...env, ...argv] : argv);
  const checks: PreflightCheck[] = [{ check: "reachable", ok: true, detail: `logged in as ${host.user} in ${elapsedMs} ms` }];
  const attempt = async (check: PreflightCheck["check"], fn: () => Promise<Omit<PreflightCheck, "check">>): Promise<void> => {
    try {
      checks.push({ check, ...(await fn()) });
    } catch (err) {
      checks.push({ check, ok: false, detail: (err as Error).message, code: isCompasEnsembleError(err) ? err.code : "SSH_HOST_UNREACHABLE" });
    }
  };

  let cores: number | undefined;
  await attempt("cores", async () => {
    const r = await conn.exec("nproc");
    cores = Number.parseInt(r.stdout.trim(), 10);
    if (r.code !== 0 || !Number.isInteger(cores) || cores < 1) {
      cores = undefined;
      return host.slots !== undefined
        ? { ok: true, detail: `nproc failed; using the configured ${host.slots} slots` }
        : { ok: false, code: "OPTIONS_INVALID", detail: `nproc failed (${lastLines(r.stderr) || `exit ${r.code}`}); give slots for this host` };
    }
    return { ok: true, detail: `${cores} cores` };
  });

  const node = settings.remoteNode ?? "node";
  const configuredBinary = host.compasBinary ?? settings.compasBinary;
  let installed: InstalledOnHost | undefined;
  if (configuredBinary === undefined || settings.remoteCommand === undefined) {
    try {
      installed = await locateInstalled(conn, hostRemoteDir(host, settings.remoteDir), settings.plan.compas.sha256, settings.plan.library_version);
    } catch (err) {
      // Nothing installed can be found; the checks below report what is wrong with the host.
      if (!isCompasEnsembleError(err)) throw err;
    }
  }

  await attempt("node", async () => {
    const r = await conn.exec(cmd([node, "--version"]));
    const version = r.stdout.trim();
    const major = Number(/^v(\d+)\./.exec(version)?.[1]);
    if (r.code !== 0) return { ok: false, code: "OPTIONS_INVALID", detail: `${node} --version failed (${notFound(r.code) ?? lastLines(r.stderr)}); install Node >= ${MIN_NODE_MAJOR} or set remoteNode` };
    if (!(major >= MIN_NODE_MAJOR)) return { ok: false, code: "OPTIONS_INVALID", detail: `node is ${version}, but compas-ensemble needs Node >= ${MIN_NODE_MAJOR}` };
    return { ok: true, detail: `node ${version}` };
  });

  const remoteCommand = [...(settings.remoteCommand ?? (installed?.package ? [node, installed.layout.cli] : EXECUTOR_DEFAULTS.workerCommand))];
  await attempt("package", async () => {
    const r = await conn.exec(cmd([...remoteCommand, "--version"]), { timeoutMs: 120_000 });
    const version = r.stdout.trim().split("\n").at(-1)?.trim() ?? "";
    if (r.code !== 0) {
      return {
        ok: false,
        code: "OPTIONS_INVALID",
        detail: `${remoteCommand.join(" ")} --version failed (${notFound(r.code) ?? lastLines(r.stderr)}); run \`compas-ensemble hosts setup\` to install compas-ensemble@${settings.plan.library_version} there (or install it yourself and set workerCommand)`,
      };
    }
    if (version !== settings.plan.library_version) {
      return {
        ok: false,
        code: "PLAN_MISMATCH",
        detail: `compas-ensemble on the host is ${version}, but the plan was made with ${settings.plan.library_version}; run \`compas-ensemble hosts setup\` to install that version beside it`,
      };
    }
    return { ok: true, detail: `compas-ensemble ${version}` };
  });

  const binary = configuredBinary ?? (installed?.compas ? installed.layout.compasBinary : settings.plan.compas.binary);
  await attempt("compas", async () => {
    const v = await conn.exec(cmd([binary, "--version"]));
    if (v.code !== 0) {
      return { ok: false, code: "COMPAS_NOT_FOUND", detail: `${binary} --version failed (${notFound(v.code) ?? lastLines(v.stderr || v.stdout)}); copy the planned build there with \`compas-ensemble hosts setup\` (or set compasBinary for this host)` };
    }
    const version = /\bv?(\d+\.\d+\.\d+)\b/.exec(v.stdout)?.[1] ?? v.stdout.trim().split("\n")[0] ?? "";
    const h = await conn.exec(shellQuote(["sha256sum", "--", binary]));
    const sha = /^([0-9a-f]{64})\b/.exec(h.stdout.trim())?.[1];
    if (h.code !== 0 || !sha) return { ok: false, code: "COMPAS_NOT_FOUND", detail: `sha256sum ${binary} failed (${lastLines(h.stderr) || `exit ${h.code}`})` };
    const want = settings.plan.compas;
    if (version !== want.version || sha !== want.sha256) {
      return {
        ok: false,
        code: "PLAN_MISMATCH",
        detail: `${binary} is COMPAS ${version} with sha256 ${sha.slice(0, 12)}, but the plan needs ${want.version} with sha256 ${want.sha256.slice(0, 12)}; copy the planned build there with \`compas-ensemble hosts setup\` (one ensemble = one build)`,
      };
    }
    return { ok: true, detail: `COMPAS ${version} at ${binary}, sha256 ${sha.slice(0, 12)} as planned` };
  });

  const slots = host.slots ?? cores;
  return { host: host.name, ok: checks.every((c) => c.ok), ...(slots !== undefined ? { slots } : {}), checks, compasBinary: binary, remoteCommand };
}

/**
 * Connects to each host (in parallel) and checks it; see {@link preflightConnection}. Hosts
 * that cannot be reached or whose key is refused get a failed `reachable` check.
 * @param hosts - hosts to check
 * @param settings - plan identity, remote command and binary
 * @param connection - known_hosts, keys and timeouts
 */
export async function preflightHosts(hosts: readonly SshHost[], settings: PreflightSettings, connection: ConnectionSettings = {}): Promise<HostPreflight[]> {
  const knownHosts = loadKnownHosts(connection.knownHostsFile ?? defaultKnownHostsFile());
  return Promise.all(
    hosts.map(async (host) => {
      const started = Date.now();
      let conn: SshConnection;
      try {
        conn = await SshConnection.open(host, connection, knownHosts);
      } catch (err) {
        return unreachableReport(host, err);
      }
      try {
        return await preflightConnection(conn, settings, Date.now() - started);
      } finally {
        conn.close();
      }
    }),
  );
}

/**
 * The report of a host that could not be connected to.
 * @param host - the host
 * @param err - what connecting threw
 */
export function unreachableReport(host: SshHost, err: unknown): HostPreflight {
  const e = err as Error;
  const code: ErrorCode = isCompasEnsembleError(err) ? err.code : "SSH_HOST_UNREACHABLE";
  const hint = isCompasEnsembleError(err) && err.hint ? ` ${err.hint}` : "";
  return { host: host.name, ok: false, checks: [{ check: "reachable", ok: false, code, detail: `${e.message}${hint}` }] };
}

/**
 * One line per host: its name, ok or FAILED, and each check's finding.
 * @param reports - from {@link preflightHosts}
 */
export function formatPreflight(reports: readonly HostPreflight[]): string {
  return reports
    .map((r) => {
      const shown = r.ok ? r.checks : r.checks.filter((c) => !c.ok);
      const slots = r.ok && r.slots !== undefined ? ` - ${r.slots} slots` : "";
      return `${r.host}: ${r.ok ? "ok" : "FAILED"}: ${shown.map((c) => c.detail).join("; ")}${slots}`;
    })
    .join("\n");
}

/**
 * Throws the first failing host's error (SSH_HOST_KEY first, as it is a security matter),
 * with every failing host in the message.
 * @param reports - preflight reports
 */
export function assertPreflightOk(reports: readonly HostPreflight[]): void {
  const failed = reports.filter((r) => !r.ok);
  if (failed.length === 0) return;
  const checks = failed.flatMap((r) => r.checks.filter((c) => !c.ok));
  const code = checks.find((c) => c.code === "SSH_HOST_KEY")?.code ?? checks[0]?.code ?? "SSH_HOST_UNREACHABLE";
  throw new CompasEnsembleError(code, `Preflight failed on ${failed.length} of ${reports.length} SSH host(s):\n${formatPreflight(failed)}`, {
    hint: "Fix the hosts named above, or drop them from the host list (requireAllHosts: false runs on the hosts that passed).",
  });
}

function notFound(code: number | null): string | undefined {
  return code === 127 ? "command not found" : code === 126 ? "not executable" : undefined;
}
