import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import type { ClientChannel, ConnectConfig, SFTPWrapper } from "ssh2";
import { CompasEnsembleError } from "../../errors.js";
import type { SshHost } from "./hosts.js";
import { blobKeyType, fingerprint, knownHostsName, knownKeyTypes, matchesPinnedKey, parseKnownHosts, verifyHostKey, type KnownHostEntry } from "./known-hosts.js";

const { Client } = ssh2;

/** How to authenticate and check host keys; shared by every connection of an executor. */
export interface ConnectionSettings {
  /** known_hosts file; default ~/.ssh/known_hosts. */
  knownHostsFile?: string;
  /** Default private key for hosts without their own. */
  identityFile?: string;
  /** ssh-agent socket; default SSH_AUTH_SOCK; false to not use an agent. */
  agent?: string | false;
  /** Give up connecting after this long. Default 10 s. */
  connectTimeoutMs?: number;
}

/** Output of one remote command. */
export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

const DEFAULT_KEYS = ["id_ed25519", "id_ecdsa", "id_rsa"];
const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

/**
 * Expands a leading `~/` to the home folder, as ssh does for paths in its configuration.
 * @param path - a path from options or a hosts file
 */
export function expandHome(path: string): string {
  return path === "~" ? homedir() : path.startsWith("~/") ? join(homedir(), path.slice(2)) : path;
}

/** Reads known_hosts once per path; a missing file means every host is unknown. */
export function loadKnownHosts(file: string): KnownHostEntry[] {
  const path = expandHome(file);
  if (!existsSync(path)) return [];
  try {
    return parseKnownHosts(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new CompasEnsembleError("SSH_HOST_KEY", `known_hosts file ${path} cannot be read.`, { cause });
  }
}

/** Default known_hosts path. */
export function defaultKnownHostsFile(): string {
  return join(homedir(), ".ssh", "known_hosts");
}

/**
 * One SSH connection (ssh2) to one host: commands run one at a time on it, SFTP on demand.
 * Host keys are checked against known_hosts or the host's pinned key before anything is sent.
 */
export class SshConnection {
  private readonly client = new Client();
  private sftpSession: Promise<SFTPWrapper> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private isClosed = false;

  private constructor(readonly host: SshHost) {}

  /**
   * Connects and authenticates; throws SSH_HOST_KEY when the host key is unknown, changed
   * or revoked, SSH_HOST_UNREACHABLE for everything else (refused, timeout, login refused).
   * @param host - the host
   * @param settings - key files and timeouts
   * @param knownHosts - parsed known_hosts entries (ignored when the host has a pinned key)
   */
  static async open(host: SshHost, settings: ConnectionSettings, knownHosts: readonly KnownHostEntry[]): Promise<SshConnection> {
    const conn = new SshConnection(host);
    await conn.connect(settings, knownHosts);
    return conn;
  }

  private connect(settings: ConnectionSettings, knownHosts: readonly KnownHostEntry[]): Promise<void> {
    const { host } = this;
    const knownHostsFile = settings.knownHostsFile ?? defaultKnownHostsFile();
    let refusal: CompasEnsembleError | undefined;
    const where = `${host.name} (${knownHostsName(host.host, host.port)})`;
    const hostVerifier = (key: Buffer): boolean => {
      const type = blobKeyType(key);
      const offered = `${type} ${fingerprint(key)}`;
      if (host.hostKey !== undefined) {
        if (matchesPinnedKey(host.hostKey, key)) return true;
        refusal = new CompasEnsembleError("SSH_HOST_KEY", `Host ${where} offered host key ${offered}, which is not the key pinned for it; connection refused.`, {
          hint: `If the host was rebuilt, check its new key with its owner and update hostKey in the hosts file; otherwise someone may be intercepting the connection.`,
        });
        return false;
      }
      const verdict = verifyHostKey(knownHosts, host.host, host.port, key);
      if (verdict.status === "match") return true;
      if (verdict.status === "unknown") {
        refusal = new CompasEnsembleError(
          "SSH_HOST_KEY",
          `Host ${where} is not in ${knownHostsFile}: it offered host key ${offered}; connection refused.`,
          {
            hint:
              `Check that fingerprint with the host's owner (on the host: ssh-keygen -lf /etc/ssh/ssh_host_${type.replace(/^ssh-/, "").replace(/-.*$/, "")}_key.pub), then add it: ` +
              `ssh-keyscan -p ${host.port} -t ${type} ${host.host} >> ${knownHostsFile} (or pin it with hostKey in the hosts file).`,
          },
        );
      } else if (verdict.status === "revoked") {
        refusal = new CompasEnsembleError("SSH_HOST_KEY", `Host ${where} offered host key ${offered}, which ${knownHostsFile} line ${verdict.line} marks @revoked; connection refused.`);
      } else {
        refusal = new CompasEnsembleError(
          "SSH_HOST_KEY",
          `Host key of ${where} changed: it offered ${offered}, but ${knownHostsFile} has ${verdict.expected.join(", ")}; connection refused.`,
          {
            hint: `If the host was rebuilt, remove the old key (ssh-keygen -R '${knownHostsName(host.host, host.port)}' -f ${knownHostsFile}) and add the new one after checking it; otherwise someone may be intercepting the connection.`,
          },
        );
      }
      return false;
    };

    const types = host.hostKey !== undefined ? [host.hostKey.startsWith("SHA256:") ? "" : host.hostKey.trim().split(/\s+/)[0] ?? ""] : knownKeyTypes(knownHosts, host.host, host.port);
    const algorithms = types.flatMap((t) => HOST_KEY_ALGORITHMS[t] ?? []);
    const config: ConnectConfig = {
      host: host.host,
      port: host.port,
      username: host.user,
      readyTimeout: settings.connectTimeoutMs ?? 10_000,
      keepaliveInterval: 5000,
      keepaliveCountMax: 3,
      hostVerifier,
      ...identity(host, settings),
      ...(algorithms.length > 0 ? { algorithms: { serverHostKey: algorithms as never } } : {}),
    };

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      this.client.once("ready", () => {
        settled = true;
        this.client.setNoDelay(true);
        resolve();
      });
      this.client.on("error", (err: Error & { level?: string; code?: string }) => {
        this.isClosed = true;
        if (settled) return;
        settled = true;
        if (refusal) {
          reject(refusal);
          return;
        }
        const auth = err.level === "client-authentication";
        reject(
          new CompasEnsembleError(
            auth ? "OPTIONS_INVALID" : "SSH_HOST_UNREACHABLE",
            auth
              ? `Host ${where} refused the login of user ${host.user} with the given key(s).`
              : `Host ${where} cannot be reached: ${err.message}.`,
            {
              cause: err,
              hint: auth
                ? "Check the user name and identityFile for this host (ssh2 reads OpenSSH-format keys), or load the key into ssh-agent."
                : "Check that the host is running, the port is right and a firewall or security group lets you in.",
            },
          ),
        );
      });
      this.client.on("close", () => {
        this.isClosed = true;
        if (!settled) {
          settled = true;
          reject(refusal ?? new CompasEnsembleError("SSH_HOST_UNREACHABLE", `Host ${where} closed the connection during the handshake.`));
        }
      });
      try {
        this.client.connect(config);
      } catch (cause) {
        settled = true;
        this.isClosed = true;
        reject(
          new CompasEnsembleError("OPTIONS_INVALID", `Cannot connect to host ${where}: ${(cause as Error).message}.`, {
            cause,
            hint: "ssh2 needs an unencrypted OpenSSH-format key file, or the key loaded into ssh-agent.",
          }),
        );
      }
    });
  }

  /** True once the connection broke or was closed. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Runs a command line (built with shellQuote) and collects its output. Commands on one
   * connection run one after another.
   * @param command - the remote command line
   * @param options - stdin content and a timeout after which the connection is dropped
   */
  exec(command: string, options: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    const run = (): Promise<ExecResult> =>
      new Promise<ExecResult>((resolve, reject) => {
        if (this.isClosed) {
          reject(this.unreachable("the connection is closed"));
          return;
        }
        const timer = setTimeout(() => {
          this.close();
          reject(this.unreachable(`a command did not answer within ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s`));
        }, options.timeoutMs ?? 60_000);
        this.client.exec(command, (err: Error | undefined, stream: ClientChannel) => {
          if (err) {
            clearTimeout(timer);
            reject(this.unreachable(err.message, err));
            return;
          }
          const out: Buffer[] = [];
          const errOut: Buffer[] = [];
          stream.on("data", (d: Buffer) => out.push(d));
          stream.stderr.on("data", (d: Buffer) => errOut.push(d));
          stream.on("close", (code: number | null, signal: string | null) => {
            clearTimeout(timer);
            resolve({ code: code ?? null, signal: signal ?? null, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(errOut).toString("utf8") });
          });
          stream.end(options.stdin ?? undefined);
        });
      });
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Like {@link exec} but throws SSH_HOST_UNREACHABLE naming the host unless the exit code is 0.
   * @param command - the remote command line
   * @param what - what the command does, for the message
   * @param options - as for exec
   */
  async run(command: string, what: string, options: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(command, options);
    if (r.code !== 0) {
      throw new CompasEnsembleError(
        "SSH_HOST_UNREACHABLE",
        `On host ${this.host.name}, ${what} failed (exit ${r.code ?? r.signal}): ${lastLines(r.stderr || r.stdout)}`,
      );
    }
    return r.stdout;
  }

  /** The SFTP session of this connection (opened once). */
  sftp(): Promise<SFTPWrapper> {
    this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((err, sftp) => (err ? reject(this.unreachable(`SFTP is not available: ${err.message}`, err)) : resolve(sftp)));
    });
    return this.sftpSession;
  }

  /** Ends the connection; safe to call twice. */
  close(): void {
    this.isClosed = true;
    this.client.end();
  }

  private unreachable(why: string, cause?: unknown): CompasEnsembleError {
    return new CompasEnsembleError("SSH_HOST_UNREACHABLE", `Host ${this.host.name}: ${why}.`, cause === undefined ? {} : { cause });
  }
}

function identity(host: SshHost, settings: ConnectionSettings): Pick<ConnectConfig, "privateKey" | "agent"> {
  const agent = settings.agent === false ? undefined : (settings.agent ?? process.env.SSH_AUTH_SOCK);
  const given = host.identityFile ?? settings.identityFile;
  const file = given !== undefined ? expandHome(given) : (agent ? undefined : DEFAULT_KEYS.map((k) => join(homedir(), ".ssh", k)).find((p) => existsSync(p)));
  let privateKey: Buffer | undefined;
  if (file !== undefined) {
    try {
      privateKey = readFileSync(file);
    } catch (cause) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `Identity file ${file} for host ${host.name} cannot be read.`, { cause });
    }
  }
  if (!privateKey && !agent) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `No key to log in to host ${host.name}: no identityFile, no ssh-agent (SSH_AUTH_SOCK) and none of ~/.ssh/${DEFAULT_KEYS.join(", ")}.`, {
      hint: "Give identityFile for the host (an OpenSSH-format private key) or start ssh-agent.",
    });
  }
  return { ...(privateKey ? { privateKey } : {}), ...(agent ? { agent } : {}) };
}

/**
 * The last few lines of a command's output, for messages.
 * @param text - stdout or stderr
 * @param n - lines to keep
 */
export function lastLines(text: string, n = 3): string {
  return text.trim().split("\n").slice(-n).join(" | ").slice(0, 600);
}
