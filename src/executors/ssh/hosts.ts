import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { z } from "zod";
import { CompasEnsembleError } from "../../errors.js";
import { describeZodError } from "../../util/zod-error.js";
import { requireCjs } from "../../util/require-cjs.js";

/** One SSH host as given by the user (JSON/YAML hosts file, or the API). */
export const SshHostSchema = z.strictObject({
  /** Host name or address. */
  host: z.string().min(1),
  /** Login name; default the local user name, as with `ssh`. */
  user: z.string().min(1).optional(),
  /** TCP port. Default 22. */
  port: z.number().int().min(1).max(65535).optional(),
  /** Private key (OpenSSH format) on this machine; default the executor's, then ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa. */
  identityFile: z.string().min(1).optional(),
  /** Tasks at once on this host. Default: the host's core count (`nproc`). */
  slots: z.number().int().min(1).max(4096).optional(),
  /** Label in messages and in the handle. Default `host` or `host:port`; must be unique. */
  name: z.string().min(1).max(200).optional(),
  /** Pinned host key, `<type> <base64>` or `SHA256:<fingerprint>`; replaces the known_hosts lookup. */
  hostKey: z.string().min(1).optional(),
  /** Folder for this host's queue, scripts and scratch; relative paths are under the remote home. */
  remoteDir: z.string().min(1).optional(),
  /** COMPAS on this host; default the executor's `compasBinary`, else the plan's path. */
  compasBinary: z.string().min(1).optional(),
});
/** A host as written by the user. */
export type SshHostInput = z.input<typeof SshHostSchema>;

/** A host with every default applied except slots (which needs the host itself). */
export interface SshHost {
  name: string;
  host: string;
  port: number;
  user: string;
  identityFile?: string;
  slots?: number;
  hostKey?: string;
  remoteDir?: string;
  compasBinary?: string;
}

/**
 * Validates a host list: an array of host objects or `user@host:port` strings, or an object
 * `{ hosts: [...] }` (the hosts-file layout). Names must be unique.
 * @param input - parsed JSON/YAML or a list from the API
 * @param source - where it came from, for messages (e.g. the file name)
 */
export function parseHosts(input: unknown, source = "the host list"): SshHost[] {
  const list = Array.isArray(input) ? input : (input as { hosts?: unknown } | null)?.hosts;
  if (!Array.isArray(list) || list.length === 0) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `${source} names no hosts; give a list of {host, user, port, identityFile, slots} entries.`);
  }
  const hosts = list.map((item, i) => {
    const raw = typeof item === "string" ? parseHostString(item, `${source} entry ${i + 1}`) : item;
    const parsed = SshHostSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const name = typeof (raw as { host?: unknown } | null)?.host === "string" ? ` (host ${(raw as { host: string }).host})` : "";
      if (issue?.code === "unrecognized_keys") {
        const known = Object.keys(SshHostSchema.shape);
        const guesses = issue.keys.map((k) => known.find((q) => q.toLowerCase() === k.toLowerCase().replace(/[-_]/g, ""))).filter(Boolean);
        throw new CompasEnsembleError("OPTIONS_INVALID", `${source} entry ${i + 1}${name} has the unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}.`, {
          cause: parsed.error,
          hint: `${guesses.length ? `Did you mean ${guesses.join(", ")}? ` : ""}A host takes: ${known.join(", ")} (names are case-sensitive).`,
        });
      }
      throw new CompasEnsembleError(
        "OPTIONS_INVALID",
        `${source} entry ${i + 1}${name} is invalid: ${describeZodError(parsed.error)}.`,
        { cause: parsed.error, hint: "Each host needs `host`; optional: user, port, identityFile, slots, name, hostKey, remoteDir, compasBinary." },
      );
    }
    const h = parsed.data;
    const port = h.port ?? 22;
    return {
      name: h.name ?? (port === 22 ? h.host : `${h.host}:${port}`),
      host: h.host,
      port,
      user: h.user ?? userInfo().username,
      ...(h.identityFile !== undefined ? { identityFile: h.identityFile } : {}),
      ...(h.slots !== undefined ? { slots: h.slots } : {}),
      ...(h.hostKey !== undefined ? { hostKey: h.hostKey } : {}),
      ...(h.remoteDir !== undefined ? { remoteDir: h.remoteDir } : {}),
      ...(h.compasBinary !== undefined ? { compasBinary: h.compasBinary } : {}),
    };
  });
  const seen = new Set<string>();
  for (const h of hosts) {
    if (seen.has(h.name)) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `${source} names host ${h.name} twice; give each entry a unique \`name\`.`);
    }
    seen.add(h.name);
  }
  return hosts;
}

/**
 * Reads a hosts file (JSON, or YAML for `.yaml`/`.yml`): a list of hosts or `{hosts: [...]}`.
 * @param path - file on this machine
 */
export function loadHostsFile(path: string): SshHost[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `Hosts file ${path} cannot be read.`, { cause });
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(path) ? requireCjs<typeof import("yaml")>("yaml").parse(text) : JSON.parse(text);
  } catch (cause) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `Hosts file ${path} is not valid ${/\.ya?ml$/i.test(path) ? "YAML" : "JSON"}.`, { cause });
  }
  return parseHosts(data, `Hosts file ${path}`);
}

function parseHostString(text: string, source: string): Record<string, unknown> {
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:\s@]+)(?::(\d+))?$/.exec(text.trim());
  if (!m) throw new CompasEnsembleError("OPTIONS_INVALID", `${source}: ${JSON.stringify(text)} is not of the form [user@]host[:port].`);
  return {
    host: m[2]!.replace(/^\[|\]$/g, ""),
    ...(m[1] ? { user: m[1] } : {}),
    ...(m[3] ? { port: Number(m[3]) } : {}),
  };
}
