import { Command } from "commander";
import { collect, envRecord } from "./_executors.js";

interface SetupFlags {
  hosts: string;
  compasBinary?: string;
  package?: string;
  installLibraries?: boolean;
  knownHosts?: string;
  identity?: string;
  remoteDir?: string;
  remoteNode?: string;
  env?: string[];
  json?: boolean;
}

/** `compas-ensemble hosts setup`: prepares SSH hosts for `run --executor ssh`. */
export function hostsCommand(): Command {
  const hosts = new Command("hosts").description("prepare SSH hosts for run --executor ssh");
  hosts
    .command("setup")
    .description("copy the COMPAS build and this compas-ensemble to every host (in parallel, idempotent), check libraries and Node, then run the executor's preflight")
    .requiredOption("--hosts <file>", "JSON or YAML list of hosts, as for run --executor ssh")
    .option("--compas-binary <path>", "the COMPAS build to install (else COMPAS_BINARY, $COMPAS_ROOT_DIR/src/bin/COMPAS, PATH)")
    .option("--package <tarball>", "an npm pack tarball of this compas-ensemble version (default: from the npm registry); hosts need no network either way")
    .option("--install-libraries", "run the apt/dnf command for missing shared libraries on the hosts (sudo -n: only with passwordless sudo)")
    .option("--known-hosts <file>", "known_hosts file (default ~/.ssh/known_hosts)")
    .option("--identity <file>", "private key for hosts without their own")
    .option("--remote-dir <dir>", "folder on the hosts (default ~/.compas-ensemble); give run the same")
    .option("--remote-node <path>", "node on the hosts (default: node on PATH)")
    .option("--env <NAME=VALUE>", "non-secret environment for remote commands, e.g. PATH (repeatable; give run the same)", collect)
    .option("--json", "print the result as JSON")
    .action(async (flags: SetupFlags) => {
      // ssh2 and the setup steps load only when hosts are set up.
      const [{ loadHostsFile }, { formatSetup, preparePackageBundle, setupHosts }] = await Promise.all([
        import("../executors/ssh/hosts.js"),
        import("../executors/ssh/setup.js"),
      ]);
      const hostList = loadHostsFile(flags.hosts);
      const remoteEnv = envRecord(flags.env);
      const bundle = await preparePackageBundle(flags.package ? { package: flags.package } : {});
      const result = await setupHosts({
        hosts: hostList,
        compasBinary: flags.compasBinary,
        package: bundle,
        remoteDir: flags.remoteDir,
        remoteNode: flags.remoteNode,
        env: remoteEnv,
        installLibraries: flags.installLibraries,
        knownHostsFile: flags.knownHosts,
        identityFile: flags.identity,
        onStep: flags.json ? undefined : (host, s) => process.stderr.write(`${host}: ${s.step}: ${s.ok ? s.detail : `FAILED: ${s.detail}`}\n`),
      });
      process.stdout.write((flags.json ? JSON.stringify(result, null, 2) : formatSetup(result)) + "\n");
      process.exitCode = result.ok ? 0 : 1;
    });
  return hosts;
}
