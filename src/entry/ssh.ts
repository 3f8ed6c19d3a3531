/**
 * `compas-ensemble/ssh`: the SSH executor (any Linux machines, EC2 among them) and what it
 * builds on: host lists, preflight, host keys and shell quoting; and `setupHosts`, which puts
 * the COMPAS build and this compas-ensemble on the hosts first. docs/ssh-executor.md.
 * @module ssh
 */
export {
  SshExecutor,
  reattachSshExecutor,
  SshHandleDataSchema,
  type SshExecutorOptions,
  type SshHandleData,
} from "../executors/ssh/index.js";
export { parseHosts, loadHostsFile, SshHostSchema, type SshHost, type SshHostInput } from "../executors/ssh/hosts.js";
export type { HostPreflight, PreflightCheck } from "../executors/ssh/preflight.js";
export {
  setupHosts,
  formatSetup,
  preparePackageBundle,
  PackageBundleSchema,
  SETUP_STEPS,
  type SetupHostsOptions,
  type SetupHostsResult,
  type HostSetupReport,
  type HostSetupStep,
  type SetupStepName,
  type PackageBundle,
  type PreparePackageBundleOptions,
  type TransferCount,
} from "../executors/ssh/setup.js";
export { parseKnownHosts, verifyHostKey, fingerprint, type KnownHostEntry, type HostKeyVerdict } from "../executors/ssh/known-hosts.js";
export { shellQuote, quoteArg } from "../util/shell-quote.js";
