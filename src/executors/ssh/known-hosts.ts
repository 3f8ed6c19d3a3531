import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { CompasEnsembleError } from "../../errors.js";

/** One usable line of a known_hosts file. */
export interface KnownHostEntry {
  /** `@revoked` lines name keys that must be refused; `@cert-authority` lines are skipped. */
  marker: "revoked" | null;
  /** Comma-separated patterns as written (plain, wildcard, negated or hashed `|1|salt|hash`). */
  patterns: string[];
  /** Key type as written, e.g. `ssh-ed25519`. */
  keyType: string;
  /** The public key blob (SSH wire format). */
  key: Buffer;
  /** 1-based line number, for messages. */
  line: number;
}

/** What known_hosts (or a pinned key) says about the key a host offered. */
export type HostKeyVerdict =
  | { status: "match" }
  | { status: "unknown" }
  | { status: "mismatch"; expected: string[] }
  | { status: "revoked"; line: number };

/**
 * Parses a known_hosts file in OpenSSH's format: plain and hashed (`|1|salt|hash`) host
 * patterns, `[host]:port` for non-default ports, wildcards `*` `?`, negation `!`, and the
 * `@revoked` marker. Comments, blank and malformed lines are skipped, as OpenSSH does;
 * `@cert-authority` lines are skipped because certificates are not used here.
 * @param text - file content
 */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let marker: "revoked" | "cert-authority" | null = null;
    if (fields[0]?.startsWith("@")) {
      const m = fields.shift()!;
      if (m === "@revoked") marker = "revoked";
      else if (m === "@cert-authority") marker = "cert-authority";
      else return;
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64 || marker === "cert-authority") return;
    const key = Buffer.from(b64, "base64");
    if (key.length === 0 || blobKeyType(key) !== keyType) return;
    entries.push({ marker, patterns: hosts.split(","), keyType, key, line: i + 1 });
  });
  return entries;
}

/**
 * The name known_hosts files use for a host: the bare name on port 22, else `[host]:port`.
 * @param host - host name or address as the user wrote it
 * @param port - TCP port
 */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * Checks the key a host offered against known_hosts entries. A revoked key is refused even
 * if another line accepts it; a host with entries but none for this key is a mismatch
 * (the key changed, or someone is in between).
 * @param entries - from {@link parseKnownHosts}
 * @param host - host name as used to connect
 * @param port - TCP port
 * @param key - the offered public key blob
 */
export function verifyHostKey(entries: readonly KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const own = entries.filter((e) => hostMatches(e.patterns, name));
  const revoked = own.find((e) => e.marker === "revoked" && e.key.equals(key));
  if (revoked) return { status: "revoked", line: revoked.line };
  const accepted = own.filter((e) => e.marker === null);
  if (accepted.some((e) => e.key.equals(key))) return { status: "match" };
  if (accepted.length === 0) return { status: "unknown" };
  return { status: "mismatch", expected: accepted.map((e) => `${e.keyType} ${fingerprint(e.key)} (line ${e.line})`) };
}

/**
 * Key types known_hosts holds for a host, so the client can ask the server for one of those
 * (a host with an RSA and an Ed25519 key would otherwise offer whichever it prefers).
 * @param entries - from {@link parseKnownHosts}
 * @param host - host name as used to connect
 * @param port - TCP port
 */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  return [...new Set(entries.filter((e) => e.marker === null && hostMatches(e.patterns, name)).map((e) => e.keyType))];
}

/**
 * Checks an offered key against a pinned key: either `<type> <base64>` (as in a .pub file
 * or known_hosts, a trailing comment is ignored) or an OpenSSH fingerprint `SHA256:<base64>`.
 * @param pinned - the pinned key or fingerprint
 * @param key - the offered public key blob
 */
export function matchesPinnedKey(pinned: string, key: Buffer): boolean {
  const text = pinned.trim();
  if (/^SHA256:/.test(text)) return text.replace(/=+$/, "") === fingerprint(key);
  const b64 = text.split(/\s+/)[1];
  if (!b64) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `Pinned host key ${JSON.stringify(text.slice(0, 40))} is neither "<type> <base64>" nor "SHA256:<fingerprint>".`);
  }
  const expected = Buffer.from(b64, "base64");
  return expected.length === key.length && timingSafeEqual(expected, key);
}

/**
 * OpenSSH's SHA256 fingerprint of a public key blob (`SHA256:` and unpadded base64), as
 * `ssh-keygen -lf` prints it.
 * @param key - public key blob
 */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/**
 * The key type named inside a public key blob (its first SSH string), or "" if malformed.
 * @param key - public key blob
 */
export function blobKeyType(key: Buffer): string {
  if (key.length < 4) return "";
  const n = key.readUInt32BE(0);
  if (n === 0 || n > 64 || key.length < 4 + n) return "";
  return key.subarray(4, 4 + n).toString("latin1");
}

function hostMatches(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith("|1|")) {
      if (hashedMatches(p, name)) matched = true;
      continue;
    }
    const negated = p.startsWith("!");
    const pattern = (negated ? p.slice(1) : p).toLowerCase();
    if (globMatches(pattern, name.toLowerCase())) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function hashedMatches(pattern: string, name: string): boolean {
  const [, , salt, hash] = pattern.split("|");
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const actual = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function globMatches(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === name;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".")}$`);
  return re.test(name);
}
