import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { fingerprint, knownKeyTypes, matchesPinnedKey, parseKnownHosts, verifyHostKey } from "../../src/executors/ssh/known-hosts.js";
import { loadHostsFile, parseHosts } from "../../src/executors/ssh/hosts.js";

const dir = mkdtempSync(join(tmpdir(), "known-hosts-"));

interface Key {
  line: string;
  blob: Buffer;
  file: string;
}

function keygen(name: string, type: "ed25519" | "ecdsa" | "rsa"): Key {
  const file = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, ...(type === "rsa" ? ["-b", "2048"] : []), "-N", "", "-C", name, "-f", file]);
  const line = readFileSync(`${file}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  return { line, blob: Buffer.from(line.split(" ")[1]!, "base64"), file };
}

/** Hashes a known_hosts text with OpenSSH's own `ssh-keygen -H`. */
function hashed(text: string): string {
  const file = join(dir, `kh-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, text);
  execFileSync("ssh-keygen", ["-q", "-H", "-f", file], { stdio: "ignore" });
  return readFileSync(file, "utf8");
}

describe("known_hosts checking", () => {
  let a: Key;
  let b: Key;
  let c: Key;
  let rsa: Key;
  beforeAll(() => {
    a = keygen("a", "ed25519");
    b = keygen("b", "ed25519");
    c = keygen("c", "ecdsa");
    rsa = keygen("r", "rsa");
  });

  it("accepts a plain entry on port 22 and the [host]:port form on other ports, and nothing else", () => {
    const entries = parseKnownHosts(`# comment\n\nplain.example ${a.line}\n[ported.example]:2222 ${b.line} comment here\n`);
    expect(verifyHostKey(entries, "plain.example", 22, a.blob)).toEqual({ status: "match" });
    expect(verifyHostKey(entries, "ported.example", 2222, b.blob)).toEqual({ status: "match" });
    // The same name on another port is another host.
    expect(verifyHostKey(entries, "plain.example", 2222, a.blob)).toEqual({ status: "unknown" });
    expect(verifyHostKey(entries, "ported.example", 22, b.blob)).toEqual({ status: "unknown" });
    expect(verifyHostKey(entries, "other.example", 22, a.blob)).toEqual({ status: "unknown" });
  });

  it("reports a changed key as a mismatch naming the expected fingerprint", () => {
    const entries = parseKnownHosts(`plain.example ${a.line}\n`);
    const verdict = verifyHostKey(entries, "plain.example", 22, b.blob);
    expect(verdict.status).toBe("mismatch");
    expect(verdict.status === "mismatch" && verdict.expected[0]).toContain(fingerprint(a.blob));
  });

  it("matches entries hashed by ssh-keygen -H, for plain and [host]:port names", () => {
    const text = hashed(`h1.example ${a.line}\n[10.0.0.7]:2200 ${b.line}\n`);
    expect(text).not.toContain("h1.example");
    const entries = parseKnownHosts(text);
    expect(entries).toHaveLength(2);
    expect(verifyHostKey(entries, "h1.example", 22, a.blob)).toEqual({ status: "match" });
    expect(verifyHostKey(entries, "10.0.0.7", 2200, b.blob)).toEqual({ status: "match" });
    expect(verifyHostKey(entries, "10.0.0.7", 22, b.blob)).toEqual({ status: "unknown" });
    expect(verifyHostKey(entries, "h1.example", 22, b.blob).status).toBe("mismatch");
  });

  it("applies wildcards, negation, comma lists and @revoked, and skips @cert-authority", () => {
    const entries = parseKnownHosts(
      [
        `*.compute.example,!bad.compute.example ${a.line}`,
        `web?.example ${b.line}`,
        `@revoked * ${c.line}`,
        `@cert-authority *.example ${rsa.line}`,
        `garbage-line-without-key`,
        `broken.example ssh-ed25519 bm90LWEta2V5`,
      ].join("\n"),
    );
    expect(verifyHostKey(entries, "ip-1.compute.example", 22, a.blob)).toEqual({ status: "match" });
    expect(verifyHostKey(entries, "bad.compute.example", 22, a.blob)).toEqual({ status: "unknown" });
    expect(verifyHostKey(entries, "web1.example", 22, b.blob)).toEqual({ status: "match" });
    expect(verifyHostKey(entries, "web12.example", 22, b.blob)).toEqual({ status: "unknown" });
    expect(verifyHostKey(entries, "anything", 22, c.blob)).toEqual({ status: "revoked", line: 3 });
    expect(verifyHostKey(entries, "x.example", 22, rsa.blob)).toEqual({ status: "unknown" });
    expect(verifyHostKey(entries, "broken.example", 22, a.blob)).toEqual({ status: "unknown" });
  });

  it("lists the key types known for a host, so the client asks for one of them", () => {
    const entries = parseKnownHosts(`h ${rsa.line}\nh ${c.line}\nother ${a.line}\n`);
    expect(knownKeyTypes(entries, "h", 22).sort()).toEqual(["ecdsa-sha2-nistp256", "ssh-rsa"]);
  });

  it("computes the fingerprint ssh-keygen -l prints, and matches pinned keys in both forms", () => {
    const printed = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${a.file}.pub`], { encoding: "utf8" }).split(/\s+/)[1];
    expect(fingerprint(a.blob)).toBe(printed);
    expect(matchesPinnedKey(`${a.line} some comment`, a.blob)).toBe(true);
    expect(matchesPinnedKey(a.line, b.blob)).toBe(false);
    expect(matchesPinnedKey(printed!, a.blob)).toBe(true);
    expect(matchesPinnedKey(printed!, b.blob)).toBe(false);
    expect(() => matchesPinnedKey("nonsense", a.blob)).toThrow(expect.objectContaining({ code: "OPTIONS_INVALID" }));
  });
});

describe("host lists", () => {
  it("reads JSON and YAML host files, with defaults and user@host:port strings", () => {
    const yaml = join(dir, "hosts.yaml");
    writeFileSync(yaml, "hosts:\n  - host: ec2-1.example\n    user: ubuntu\n    slots: 4\n  - ubuntu@10.0.0.8:2222\n");
    const hosts = loadHostsFile(yaml);
    expect(hosts).toEqual([
      { name: "ec2-1.example", host: "ec2-1.example", port: 22, user: "ubuntu", slots: 4 },
      { name: "10.0.0.8:2222", host: "10.0.0.8", port: 2222, user: "ubuntu" },
    ]);
    const json = join(dir, "hosts.json");
    writeFileSync(json, JSON.stringify([{ host: "h", user: "u", identityFile: "/k", hostKey: "SHA256:abc" }]));
    expect(loadHostsFile(json)[0]).toMatchObject({ host: "h", identityFile: "/k", hostKey: "SHA256:abc" });
  });

  it("refuses unknown fields, duplicate names and empty lists with OPTIONS_INVALID naming the entry", () => {
    expect(() => parseHosts([{ host: "h", user: "u", slot: 3 }], "hosts.json")).toThrow(/hosts.json entry 1/);
    expect(() => parseHosts([{ host: "h", user: "u" }, "u@h"])).toThrow(/twice/);
    expect(() => parseHosts([])).toThrow(expect.objectContaining({ code: "OPTIONS_INVALID" }));
    expect(() => parseHosts(["not a host!"])).toThrow(/\[user@\]host\[:port\]/);
  });
});
