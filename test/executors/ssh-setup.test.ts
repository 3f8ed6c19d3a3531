import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runEnsemble } from "../../src/ensemble/run.js";
import { isCompasEnsembleError } from "../../src/errors.js";
import { SshExecutor } from "../../src/executors/ssh/index.js";
import { loadHostsFile, type SshHostInput } from "../../src/executors/ssh/hosts.js";
import { preparePackageBundle, setupHosts, type PackageBundle, type SetupHostsOptions } from "../../src/executors/ssh/setup.js";
import { expandGrid, sliceGrid, sparseGrid } from "../../src/grid/index.js";
import { LIBRARY_VERSION } from "../../src/version.js";
import { builtCli, REPO } from "../support/cli.js";
import { buildFakeElf } from "../support/fake-elf.js";
import { startSshdCluster, type SshdCluster, type SshdHost } from "../support/sshd.js";
import { withTmpfs } from "../support/tmpfs.js";

const sha256Of = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Files under a folder, recursively, as paths relative to it. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tree(join(dir, e.name)).map((p) => `${e.name}/${p}`) : [e.name]));
}

describe("hosts setup against real sshd hosts", () => {
  let cluster: SshdCluster;
  let bundle: PackageBundle;
  let compas: string;
  let tarball: string;
  let cacheDir: string;
  let work: string;

  beforeAll(async () => {
    // Users of their own, so this file and the executor's tests never share a host user.
    cluster = await startSshdCluster({ hosts: 2, userPrefix: "ce-setup" });
    work = mkdtempSync(join(tmpdir(), "ce-setup-"));
    chmodSync(work, 0o755);
    // The stand-in's launcher imports main.mjs beside it; a single file that names main.mjs
    // by absolute path can be copied anywhere, as a COMPAS build is.
    compas = join(work, "COMPAS");
    writeFileSync(compas, `#!/usr/bin/env node\nimport(${JSON.stringify(pathToFileURL(join(cluster.repo, "test", "support", "fake-compas", "main.mjs")).href)});\n`);
    chmodSync(compas, 0o755);
    // What a user would pass with --package: this checkout, packed as npm would publish it.
    builtCli();
    const packed = execFileSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: REPO, encoding: "utf8" });
    tarball = join(work, (JSON.parse(packed) as Array<{ filename: string }>)[0]!.filename);
    // Where the CLI keeps bundles too (XDG_CACHE_HOME below), so it reuses this one.
    cacheDir = join(work, "xdg", "compas-ensemble", "bundles");
    bundle = await preparePackageBundle({ package: tarball, cacheDir });
  }, 300_000);

  afterAll(async () => {
    const started = Date.now();
    await cluster?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
    console.log(`hosts setup tests: removing the hosts' installs took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 300_000);

  const hostEntry = (h: SshdHost, extra: Partial<SshHostInput> = {}): SshHostInput => ({ name: h.name, host: h.host, port: h.port, user: h.user, remoteDir: h.remoteDir, ...extra });
  const options = (extra: Partial<SetupHostsOptions> = {}): SetupHostsOptions => ({
    hosts: cluster.hosts.map((h) => hostEntry(h)),
    compasBinary: compas,
    package: bundle,
    knownHostsFile: cluster.knownHostsFile,
    identityFile: cluster.identityFile,
    agent: false,
    remoteNode: cluster.node,
    env: cluster.remoteEnv,
    ...extra,
  });
  const installed = (h: SshdHost, sha = sha256Of(compas)): string => join(h.remoteDir, "compas", sha, "COMPAS");

  it("packs this version with its dependencies once, and reuses the bundle for the same tarball", async () => {
    expect(bundle.version).toBe(LIBRARY_VERSION);
    expect(bundle.source).toBe(`sha256:${sha256Of(tarball)}`);
    expect(sha256Of(bundle.path)).toBe(bundle.sha256);
    const listing = execFileSync("tar", ["-tzf", bundle.path], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).split("\n");
    expect(listing).toContain("./lib/node_modules/compas-ensemble/dist/cli.js");
    expect(listing).toContain("./lib/node_modules/compas-ensemble/node_modules/h5wasm/package.json");
    const again = await preparePackageBundle({ package: tarball, cacheDir });
    expect(again).toEqual(bundle);
  });

  it("gives hosts without anything the COMPAS build and the package, ends with a passing preflight, and run then starts there with nothing configured", async () => {
    for (const h of cluster.hosts) expect(existsSync(join(h.remoteDir, "compas"))).toBe(false);
    const result = await setupHosts(options());
    expect(result.hosts.map((r) => [r.host, r.ok, r.steps.map((s) => s.step)])).toEqual(
      cluster.hosts.map((h) => [h.name, true, ["connect", "platform", "disk", "compas", "libraries", "node", "package", "preflight"]]),
    );
    expect(result.ok).toBe(true);
    for (const h of cluster.hosts) {
      const r = result.hosts.find((x) => x.host === h.name)!;
      // The build and the bundle: two files, the bytes of both.
      expect(r.transfers).toEqual({ files: 2, bytes: statSync(compas).size + statSync(bundle.path).size });
      expect(r.compasBinary).toBe(installed(h));
      expect(sha256Of(installed(h))).toBe(sha256Of(compas));
      expect(statSync(installed(h)).uid).toBe(h.uid);
      expect(statSync(installed(h)).mode & 0o111).not.toBe(0);
      const cli = join(h.remoteDir, "pkg", LIBRARY_VERSION, "lib", "node_modules", "compas-ensemble", "dist", "cli.js");
      expect(execFileSync(process.execPath, [cli, "--version"], { encoding: "utf8" }).trim()).toBe(LIBRARY_VERSION);
      // No temporary copy or half-unpacked folder is left.
      expect(tree(h.remoteDir).filter((p) => /(^|\/)\.(COMPAS\.tmp|bundle-|unpack-|old-)/.test(p))).toEqual([]);
      expect(r.preflight?.checks.every((c) => c.ok)).toBe(true);
    }

    // The executor, told nothing about paths, finds what setup installed for the plan.
    const out = mkdtempSync(join(work, "run-"));
    const summary = await runEnsemble({
      points: sliceGrid(expandGrid(sparseGrid()), 0, 2),
      nSystems: 5,
      compasBinary: compas,
      output: out,
      executor: new SshExecutor({
        hosts: cluster.hosts.map((h) => ({ ...hostEntry(h), slots: 1 })),
        knownHostsFile: cluster.knownHostsFile,
        identityFile: cluster.identityFile,
        agent: false,
        remoteNode: cluster.node,
        env: cluster.remoteEnv,
        pollIntervalMs: 200,
      }),
    });
    expect(summary.runs).toEqual({ total: 2, succeeded: 2, failed: 0, pending: 0 });
    for (const h of cluster.hosts) {
      const script = readFileSync(join(h.remoteDir, summary.ensembleId, "worker.sh"), "utf8");
      expect(script).toContain(`'${join(h.remoteDir, "pkg", LIBRARY_VERSION, "lib", "node_modules", "compas-ensemble", "dist", "cli.js")}' 'worker'`);
      expect(script).toContain(`'--compas-binary' '${installed(h)}'`);
    }
  }, 300_000);

  it("copies nothing the second time", async () => {
    const result = await setupHosts(options());
    expect(result.ok).toBe(true);
    expect(result.hosts.map((r) => r.transfers)).toEqual([
      { files: 0, bytes: 0 },
      { files: 0, bytes: 0 },
    ]);
    for (const r of result.hosts) {
      expect(r.steps.find((s) => s.step === "compas")!.detail).toMatch(/already at/);
      expect(r.steps.find((s) => s.step === "package")!.detail).toMatch(/already in/);
    }
  }, 120_000);

  it("replaces a copy whose sha256 is wrong with a fresh one, and only that", async () => {
    const [a] = cluster.hosts as [SshdHost, SshdHost];
    writeFileSync(installed(a), "#!/bin/sh\necho damaged\n");
    const result = await setupHosts(options());
    expect(result.ok).toBe(true);
    expect(result.hosts.map((r) => [r.host, r.transfers.files])).toEqual([
      ["host-a", 1],
      ["host-b", 0],
    ]);
    expect(result.hosts[0]!.steps.find((s) => s.step === "compas")!.detail).toMatch(/replacing a copy with another sha256/);
    expect(sha256Of(installed(a))).toBe(sha256Of(compas));
  }, 120_000);

  it("reports a host missing a shared library with the command that installs it, and runs nothing with sudo unasked", async () => {
    // Runs here (its library is found through a folder only root may read), not for the host's user.
    const elf = buildFakeElf({ needs: "libgsl.so.99", library: "rpath", parent: work });
    const [a] = cluster.hosts as [SshdHost, SshdHost];
    const result = await setupHosts(options({ hosts: [hostEntry(a)], compasBinary: elf }));
    const r = result.hosts[0]!;
    expect(r.ok).toBe(false);
    const failed = r.steps.at(-1)!;
    expect(failed.step).toBe("libraries");
    expect(failed.detail).toBe("1 shared library missing on host-a: libgsl.so.99");
    // The host is Debian 12 (this machine): the soname's package, with apt.
    expect(r.installCommand).toBe("sudo apt-get update && sudo apt-get install -y libgsl99");
    expect(failed.fix).toContain("run on host-a: sudo apt-get update && sudo apt-get install -y libgsl99");
    expect(r.missingLibraries).toEqual(["libgsl.so.99"]);
    // The build itself is in place (checked), only the library is missing.
    expect(sha256Of(installed(a, sha256Of(elf)))).toBe(sha256Of(elf));

    // With --install-libraries it tries sudo -n (never a password prompt); this user may not.
    const tried = await setupHosts(options({ hosts: [hostEntry(a)], compasBinary: elf, installLibraries: true }));
    const step = tried.hosts[0]!.steps.at(-1)!;
    expect(step.step).toBe("libraries");
    expect(step.detail).toMatch(/^1 shared library missing on host-a: libgsl\.so\.99; installing them failed \(/);
    expect(step.fix).toBe("run on host-a as a user who may install packages: sudo apt-get update && sudo apt-get install -y libgsl99");
  }, 120_000);

  it("reports an unreachable host with the fix, and the others succeed", async () => {
    const port = await freePort();
    const result = await setupHosts(options({ hosts: [hostEntry(cluster.hosts[0]!), { name: "down", host: "127.0.0.1", port, user: "nobody" }] }));
    expect(result.ok).toBe(false);
    const [a, down] = result.hosts;
    expect(a!.ok).toBe(true);
    expect(down!.ok).toBe(false);
    expect(down!.steps).toHaveLength(1);
    expect(down!.steps[0]).toMatchObject({ step: "connect", ok: false, code: "SSH_HOST_UNREACHABLE" });
    expect(down!.steps[0]!.detail).toMatch(/^Host down \(\[127\.0\.0\.1\]:\d+\) cannot be reached: connect ECONNREFUSED/);
    expect(down!.steps[0]!.fix).toMatch(/Check that the host is running/);
  }, 120_000);

  describe("bad input: one line with the host and the fix, nothing half-copied", () => {
    it("a hosts file with an unknown key names the entry, the host and the key", () => {
      const file = join(work, "typo.yaml");
      writeFileSync(file, "hosts:\n  - host: 127.0.0.1\n    identityfile: ~/.ssh/id\n");
      let message = "";
      let hint = "";
      try {
        loadHostsFile(file);
      } catch (err) {
        if (!isCompasEnsembleError(err)) throw err;
        message = err.message;
        hint = err.hint ?? "";
      }
      expect(message).toBe(`Hosts file ${file} entry 1 (host 127.0.0.1) has the unknown key identityfile.`);
      expect(hint).toMatch(/^Did you mean identityFile\? A host takes: host, user, port, identityFile/);
    });

    it("a host that refuses the key", async () => {
      const stranger = join(work, "stranger_key");
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", stranger]);
      const [a, b] = cluster.hosts as [SshdHost, SshdHost];
      const result = await setupHosts(options({ hosts: [hostEntry(a, { identityFile: stranger }), hostEntry(b)] }));
      const refused = result.hosts[0]!;
      expect(refused.steps).toEqual([
        expect.objectContaining({ step: "connect", ok: false, detail: `Host host-a ([127.0.0.1]:${a.port}) refused the login of user ${a.user} with the given key(s).` }),
      ]);
      expect(refused.steps[0]!.fix).toMatch(/identityFile/);
      expect(result.hosts[1]!.ok).toBe(true);
    }, 120_000);

    it("a full disk on the host: refused before anything is copied", async () => {
      const [a] = cluster.hosts as [SshdHost, SshdHost];
      await withTmpfs(2 * 1024 * 1024, async (dir) => {
        chownSync(dir, a.uid, a.uid);
        const result = await setupHosts(options({ hosts: [hostEntry(a, { remoteDir: dir })] }));
        const step = result.hosts[0]!.steps.at(-1)!;
        expect(step).toMatchObject({ step: "disk", ok: false, code: "DISK_FULL" });
        expect(step.detail).toMatch(new RegExp(`^2\\.\\d MB free on ${dir} for ${dir} on host-a, but the COMPAS build and compas-ensemble need about \\d+ MB$`));
        expect(step.fix).toBe("free space on the host's disk, or give host-a a remoteDir on a bigger disk in the hosts file");
        expect(result.hosts[0]!.transfers.files).toBe(0);
        expect(tree(dir)).toEqual([]);
      });
    }, 120_000);

    it("a host whose package unpacking runs out of space keeps no half-unpacked version", async () => {
      const [a] = cluster.hosts as [SshdHost, SshdHost];
      // Room for the build and the bundle, not for the unpacked package: the disk check is
      // made to pass by a df that reports plenty, so the unpacking itself hits ENOSPC.
      const fakeBin = join(work, "df-liar");
      mkdirSync(fakeBin, { recursive: true });
      writeFileSync(join(fakeBin, "df"), "#!/bin/sh\necho 'Filesystem 1024-blocks Used Available Capacity Mounted on'\necho \"tmpfs 99999999 0 99999999 0% $3\"\n");
      chmodSync(fakeBin, 0o755);
      chmodSync(join(fakeBin, "df"), 0o755);
      await withTmpfs(statSync(bundle.path).size + 8 * 1024 * 1024, async (dir) => {
        chownSync(dir, a.uid, a.uid);
        const result = await setupHosts(
          options({ hosts: [hostEntry(a, { remoteDir: dir })], env: { PATH: `${fakeBin}:${cluster.remoteEnv.PATH}` } }),
        );
        const step = result.hosts[0]!.steps.at(-1)!;
        expect(step.step).toBe("package");
        expect(step.detail).toMatch(/No space left on device/);
        expect(step.fix).toBe("free space on the host's disk, or give host-a a remoteDir on a bigger disk in the hosts file");
        // The build is complete under its final name; the package has no folder at all.
        expect(sha256Of(join(dir, "compas", sha256Of(compas), "COMPAS"))).toBe(sha256Of(compas));
        expect(tree(join(dir, "pkg"))).toEqual([]);
      });
    }, 120_000);

    it("a copy that arrives damaged never gets its final name", async () => {
      const [a] = cluster.hosts as [SshdHost, SshdHost];
      // The host's sha256sum reports another digest for every file: to setup, the copy is damaged.
      const fakeBin = join(work, "damaging-bin");
      mkdirSync(fakeBin, { recursive: true });
      writeFileSync(join(fakeBin, "sha256sum"), `#!/bin/sh\necho "${"0".repeat(64)}  $2"\n`);
      chmodSync(fakeBin, 0o755);
      chmodSync(join(fakeBin, "sha256sum"), 0o755);
      const dir = mkdtempSync(join(work, "damaged-"));
      chownSync(dir, a.uid, a.uid);
      const result = await setupHosts(options({ hosts: [hostEntry(a, { remoteDir: dir })], env: { PATH: `${fakeBin}:${cluster.remoteEnv.PATH}` } }));
      const step = result.hosts[0]!.steps.at(-1)!;
      expect(step.step).toBe("compas");
      expect(step.detail).toBe(`The copy of COMPAS on host host-a has sha256 000000000000, not ${sha256Of(compas).slice(0, 12)}: it was damaged on the way or on the host's disk.`);
      expect(result.hosts[0]!.transfers.files).toBe(1);
      expect(tree(dir)).toEqual([]);
    }, 120_000);

    it("a host that is not Linux", async () => {
      const fakeBin = join(work, "darwin-bin");
      mkdirSync(fakeBin, { recursive: true });
      writeFileSync(join(fakeBin, "uname"), '#!/bin/sh\ncase "$1" in -s) echo Darwin ;; -m) echo arm64 ;; *) echo Darwin ;; esac\n');
      chmodSync(fakeBin, 0o755);
      chmodSync(join(fakeBin, "uname"), 0o755);
      const [a] = cluster.hosts as [SshdHost, SshdHost];
      const result = await setupHosts(options({ hosts: [hostEntry(a)], env: { PATH: `${fakeBin}:${cluster.remoteEnv.PATH}` } }));
      const step = result.hosts[0]!.steps.at(-1)!;
      expect(step).toMatchObject({ step: "platform", ok: false, detail: "host-a runs Darwin, not Linux" });
      expect(step.fix).toBe("the SSH executor runs COMPAS on Linux hosts only: drop host-a from the hosts file or use a Linux machine");
      expect(result.hosts[0]!.transfers.files).toBe(0);
    }, 120_000);

    it("a binary that is not an ELF executable is refused before any host is touched", async () => {
      const macho = join(work, "COMPAS-macos");
      writeFileSync(macho, Buffer.concat([Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0x07, 0x00, 0x00, 0x01]), Buffer.alloc(4088)]));
      chmodSync(macho, 0o755);
      const object = join(work, "COMPAS.o");
      writeFileSync(join(work, "x.c"), "int x(void) { return 1; }\n");
      execFileSync("gcc", ["-c", "-o", object, join(work, "x.c")]);
      chmodSync(object, 0o755);
      const attempt = async (binary: string): Promise<{ code: string; message: string; hint?: string }> => {
        try {
          await setupHosts(options({ compasBinary: binary }));
        } catch (err) {
          if (!isCompasEnsembleError(err)) throw err;
          return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
        }
        throw new Error("expected a refusal");
      };
      expect(await attempt(macho)).toEqual({
        code: "COMPAS_NOT_FOUND",
        message: `COMPAS binary ${macho} is a Mach-O binary (built on macOS), not a Linux executable, so it cannot run on the hosts.`,
        hint: "Build COMPAS on Linux (src/bin/COMPAS after make) and pass that file with --compas-binary.",
      });
      expect((await attempt(object)).message).toBe(`COMPAS binary ${object} is an ELF relocatable, not a Linux executable, so it cannot run on the hosts.`);
    });
  });

  describe("the CLI", () => {
    const cli = (args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, [builtCli(), ...args], { env: { ...process.env, XDG_CACHE_HOME: join(work, "xdg"), ...env }, maxBuffer: 16 * 1024 * 1024, timeout: 240_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
        });
      });

    it("prints one line per host, ok or the failed step with its fix, and exits 1 when a host failed", async () => {
      const port = await freePort();
      const a = cluster.hosts[0]!;
      const file = join(work, "hosts.yaml");
      writeFileSync(
        file,
        [
          "hosts:",
          `  - { name: ${a.name}, host: ${a.host}, port: ${a.port}, user: ${a.user}, remoteDir: ${a.remoteDir} }`,
          `  - { name: down, host: 127.0.0.1, port: ${port}, user: nobody }`,
          "",
        ].join("\n"),
      );
      const r = await cli([
        "hosts", "setup", "--hosts", file, "--compas-binary", compas, "--package", tarball,
        "--known-hosts", cluster.knownHostsFile, "--identity", cluster.identityFile,
        "--remote-node", cluster.node, "--env", `PATH=${cluster.remoteEnv.PATH}`,
      ], { SSH_AUTH_SOCK: "" });
      expect(r.code, r.stderr).toBe(1);
      const lines = r.stdout.trim().split("\n");
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(new RegExp(`^host-a: ok: COMPAS 03\\.07\\.00 \\(sha256 ${sha256Of(compas).slice(0, 12)}\\) already at .*; compas-ensemble ${LIBRARY_VERSION.replaceAll(".", "\\.")} already in .*; the preflight of run --executor ssh passes \\(\\d+ slots\\); nothing copied$`));
      expect(lines[1]).toMatch(/^down: FAILED at connect: Host down \(\[127\.0\.0\.1\]:\d+\) cannot be reached: connect ECONNREFUSED .*; fix: Check that the host is running/);
      expect(lines[2]).toBe(`1 of 2 host(s) ready for run --executor ssh (COMPAS 03.07.00, sha256 ${sha256Of(compas).slice(0, 12)}; compas-ensemble ${LIBRARY_VERSION})`);
      expect(r.stderr).toMatch(/^host-a: preflight: the preflight of run --executor ssh passes/m);
    }, 300_000);

    it("exits 2 with one sentence for a hosts file with an unknown key", async () => {
      const file = join(work, "bad.yaml");
      writeFileSync(file, "- host: 127.0.0.1\n  slot: 4\n");
      const r = await cli(["hosts", "setup", "--hosts", file, "--compas-binary", compas]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`error: Hosts file ${file} entry 1 (host 127.0.0.1) has the unknown key slot.\nhint: A host takes: host, user, port, identityFile, slots, name, hostKey, remoteDir, compasBinary (names are case-sensitive).\n`);
    });
  });
});
