/**
 * Real OpenSSH servers on 127.0.0.1 acting as SSH hosts for tests: one `sshd -D` per host,
 * each with its own config, host key, port and dedicated login user, all in a temporary
 * folder. Needs /usr/sbin/sshd and root (to create the users and to start sshd for them).
 *
 * The remote `compas-ensemble` is this checkout's built CLI (dist/cli.js, see
 * test/support/cli.ts), run by the same node binary: what users install, and a worker that
 * starts in a fraction of a second.
 *
 * Why dedicated non-root users: the remote side must not be root, whose ~/.bashrc (run by
 * bash for every SSH command) is slow here, and a user per host makes "the host died"
 * exact: every process of that uid is the host's. The users need to read the repository
 * (src/, node_modules/) and run node; when the checkout is not reachable for them (e.g.
 * under /root), a mirror is made inside the test folder (copies of src/ and the COMPAS
 * stand-in, node_modules hard-linked), so no permission outside the test folder changes.
 */
import { builtCli } from "./cli.js";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ssh2 from "ssh2";
import { waitFor } from "./processes.js";

const SSHD = "/usr/sbin/sshd";
const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** One sshd acting as one host. */
export interface SshdHost {
  /** Host label, e.g. `host-a`. */
  name: string;
  host: string;
  port: number;
  /** Login user of this host (its own uid). */
  user: string;
  uid: number;
  /** A folder owned by the user for the executor's remoteDir. */
  remoteDir: string;
  /** The host's public key, `ssh-ed25519 AAAA...`. */
  hostKeyLine: string;
  /** The sshd listener's pid, if running. */
  pid(): number | undefined;
  /** "The host died": SIGKILL to the sshd listener, its sessions and every process of the host's user (by pid). */
  kill(): void;
  /** (Re)starts sshd on the same port with the same host key. */
  start(): Promise<void>;
  /** Pids of the host user's processes. */
  userProcesses(): number[];
}

/** Running test hosts and what a client needs to reach them. */
export interface SshdCluster {
  dir: string;
  hosts: SshdHost[];
  /** Client private key (ed25519, OpenSSH format, no passphrase). */
  identityFile: string;
  /** known_hosts listing every host (the second one hashed, as `ssh-keygen -H` writes). */
  knownHostsFile: string;
  /** Repository path the users can read (the checkout or the mirror). */
  repo: string;
  /** node the users can run. */
  node: string;
  /** `compas-ensemble` for the remote side: node running the built dist/cli.js. */
  remoteCommand: string[];
  /** COMPAS stand-in path on the remote side. */
  compasBinary: string;
  /** PATH for remote commands (the stand-in is `#!/usr/bin/env node`). */
  remoteEnv: Record<string, string>;
  stop(): Promise<void>;
}

/** Options of {@link startSshdCluster}. */
export interface SshdClusterOptions {
  /** Number of hosts (users ce-ssh-a, ce-ssh-b, ...). Default 2. */
  hosts?: number;
  /** Environment sshd sets for every session of the test key, i.e. the host's own environment. */
  setEnv?: Record<string, string>;
  /**
   * Login users are `<userPrefix>-a`, `-b`, ... Default `ce-ssh`. Test files that run at the
   * same time need their own prefix: "every process of the user is the host's" must hold.
   */
  userPrefix?: string;
}

/**
 * Starts the hosts; fails loudly if sshd is missing or the process is not root.
 * @param options - number of hosts, their session environment and user names
 */
export async function startSshdCluster(options: SshdClusterOptions = {}): Promise<SshdCluster> {
  if (!existsSync(SSHD)) {
    throw new Error(`${SSHD} is missing: install openssh-server (apt-get install openssh-server openssh-client); the SSH executor tests need a real sshd.`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error("The SSH executor tests must run as root: they create dedicated login users (useradd) and start sshd for them.");
  }
  const n = options.hosts ?? 2;
  const dir = mkdtempSync(join(tmpdir(), "ce-sshd-"));
  chmodSync(dir, 0o755);
  mkdirSync("/run/sshd", { recursive: true });

  const identityFile = join(dir, "client_key");
  keygen(identityFile, "client");
  const authorizedKeys = join(dir, "authorized_keys");
  // environment="..." options (with PermitUserEnvironment) work on every OpenSSH version,
  // unlike sshd_config's SetEnv (8.7+).
  const envOptions = Object.entries(options.setEnv ?? {}).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /["\\\n]/.test(v)) throw new Error(`setEnv ${k} cannot be written as an authorized_keys option.`);
    return `environment="${k}=${v}"`;
  });
  writeFileSync(authorizedKeys, `${envOptions.length ? `${envOptions.join(",")} ` : ""}${readFileSync(`${identityFile}.pub`, "utf8")}`);
  chmodSync(authorizedKeys, 0o644);

  const hosts: SshdHost[] = [];
  const knownLines: string[] = [];
  for (let i = 0; i < n; i++) {
    const letter = String.fromCharCode(97 + i);
    const name = `host-${letter}`;
    const user = `${options.userPrefix ?? "ce-ssh"}-${letter}`;
    const uid = ensureUser(user);
    const hostDir = join(dir, name);
    mkdirSync(hostDir);
    const hostKey = join(hostDir, "ssh_host_ed25519_key");
    keygen(hostKey, name);
    const hostKeyLine = readFileSync(`${hostKey}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    const remoteDir = join(dir, `remote-${letter}`);
    mkdirSync(remoteDir);
    chownSync(remoteDir, uid, uid);
    const port = await freePort();
    const config = join(hostDir, "sshd_config");
    writeFileSync(
      config,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKey}`,
        `PidFile ${join(hostDir, "sshd.pid")}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin no",
        `AllowUsers ${user}`,
        `PermitUserEnvironment ${options.setEnv && Object.keys(options.setEnv).length ? "yes" : "no"}`,
        "UseDNS no",
        "Subsystem sftp internal-sftp",
        "MaxSessions 64",
        "MaxStartups 100:30:200",
        "LogLevel ERROR",
        "",
      ].join("\n"),
    );
    execFileSync(SSHD, ["-t", "-f", config]);
    knownLines.push(`[127.0.0.1]:${port} ${hostKeyLine}`);

    let child: ChildProcess | undefined;
    const host: SshdHost = {
      name,
      host: "127.0.0.1",
      port,
      user,
      uid,
      remoteDir,
      hostKeyLine,
      pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
      kill() {
        const listener = host.pid();
        const victims = new Set<number>([...(listener ? descendants(listener) : []), ...host.userProcesses()]);
        if (listener) victims.add(listener);
        for (const pid of victims) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
        child = undefined;
      },
      async start() {
        const c = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        c.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        child = c;
        try {
          await waitForPort(port, () => c.exitCode !== null);
        } catch (err) {
          throw new Error(`sshd for ${name} did not start on port ${port}: ${stderr.trim()}`, { cause: err });
        }
      },
      userProcesses: () => processesOf(uid),
    };
    await host.start();
    hosts.push(host);
  }

  const knownHostsFile = join(dir, "known_hosts");
  writeFileSync(knownHostsFile, `${knownLines[0]}\n`);
  for (const line of knownLines.slice(1)) {
    // Hash the other hosts' entries with OpenSSH itself, so parsing is tested on its format.
    const tmp = join(dir, "known_hosts.tmp");
    writeFileSync(tmp, `${line}\n`);
    execFileSync("ssh-keygen", ["-q", "-H", "-f", tmp], { stdio: "ignore" });
    writeFileSync(knownHostsFile, readFileSync(tmp), { flag: "a" });
    rmSync(tmp, { force: true });
    rmSync(`${tmp}.old`, { force: true });
  }

  const stop = async (): Promise<void> => {
    for (const h of hosts) h.kill();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    let repo = REPO;
    let node = process.execPath;
    const first = hosts[0]!;
    if (!(await canUse(first, identityFile, repo, node))) {
      ({ repo, node } = mirrorRepo(dir, node));
      if (!(await canUse(first, identityFile, repo, node))) {
        throw new Error(`User ${first.user} cannot read the repository mirror ${repo} or run ${node}; check the permissions of ${dir}.`);
      }
    }
    builtCli();
    return {
      dir,
      hosts,
      identityFile,
      knownHostsFile,
      repo,
      node,
      remoteCommand: [node, join(repo, "dist", "cli.js")],
      compasBinary: join(repo, "test", "support", "fake-compas", "COMPAS"),
      remoteEnv: { PATH: `${dirname(node)}:/usr/local/bin:/usr/bin:/bin` },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Runs one command on a host over SSH (ssh2) and returns stdout; for test assertions.
 * @param host - the host
 * @param identityFile - client key
 * @param command - remote command line
 */
export function sshExec(host: SshdHost, identityFile: string, command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const client = new ssh2.Client();
    client
      .on("ready", () => {
        client.exec(command, (err, stream) => {
          if (err) {
            client.end();
            reject(err);
            return;
          }
          let stdout = "";
          let stderr = "";
          stream.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
          stream.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
          stream.on("close", (code: number | null) => {
            client.end();
            resolvePromise({ code, stdout, stderr });
          });
        });
      })
      .on("error", reject)
      .connect({ host: host.host, port: host.port, username: host.user, privateKey: readFileSync(identityFile), hostVerifier: () => true, readyTimeout: 10_000 });
  });
}

async function canUse(host: SshdHost, identityFile: string, repo: string, node: string): Promise<boolean> {
  const files = [join(repo, "dist", "cli.js"), join(repo, "node_modules", "h5wasm", "package.json"), join(repo, "package.json")];
  const q = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
  const command = [...files.map((f) => `test -r ${q(f)}`), `test -x ${q(node)}`, `test -x ${q(join(repo, "test", "support", "fake-compas", "COMPAS"))}`].join(" && ");
  const r = await sshExec(host, identityFile, command);
  return r.code === 0;
}

function mirrorRepo(dir: string, node: string): { repo: string; node: string } {
  const repo = join(dir, "repo");
  mkdirSync(repo);
  for (const p of ["dist", "package.json", join("test", "support", "fake-compas")]) {
    cpSync(join(REPO, p), join(repo, p), { recursive: true });
  }
  try {
    execFileSync("cp", ["-al", join(REPO, "node_modules"), join(repo, "node_modules")]);
  } catch {
    cpSync(join(REPO, "node_modules"), join(repo, "node_modules"), { recursive: true });
  }
  execFileSync("chmod", ["-R", "o+rX", repo]);
  const localNode = join(dir, "node");
  cpSync(node, localNode);
  chmodSync(localNode, 0o755);
  return { repo, node: localNode };
}

function keygen(path: string, comment: string): void {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
}

function ensureUser(user: string): number {
  try {
    return Number(execFileSync("id", ["-u", user], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
  } catch {
    execFileSync("useradd", ["-m", "-s", "/bin/sh", user]);
    // useradd leaves the account locked ('!'), and sshd refuses locked accounts without PAM.
    execFileSync("usermod", ["-p", "*", user]);
    return Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolvePromise(port));
    });
  });
}

async function waitForPort(port: number, failed: () => boolean): Promise<void> {
  let open = false;
  const probe = (): void => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      open = true;
      s.destroy();
    });
    s.once("error", () => s.destroy());
  };
  await waitFor(() => {
    if (failed()) throw new Error("sshd exited");
    if (!open) probe();
    return open;
  }, `sshd on port ${port}`, 10_000);
}

function procEntries(): { pid: number; ppid: number; uid: number }[] {
  const out: { pid: number; ppid: number; uid: number }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, "utf8");
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      out.push({ pid: Number(name), ppid, uid });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function descendants(root: number): number[] {
  const all = procEntries();
  const found = new Set<number>();
  let frontier = [root];
  while (frontier.length) {
    const next: number[] = [];
    for (const p of all) if (frontier.includes(p.ppid) && !found.has(p.pid)) next.push(p.pid);
    for (const p of next) found.add(p);
    frontier = next;
  }
  return [...found];
}

function processesOf(uid: number): number[] {
  return procEntries()
    .filter((p) => p.uid === uid)
    .map((p) => p.pid);
}
