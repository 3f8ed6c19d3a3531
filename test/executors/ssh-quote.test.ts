import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isCompasEnsembleError } from "../../src/errors.js";
import { checkRemoteEnv, workerScript } from "../../src/executors/ssh/_remote-scripts.js";
import { quoteArg, shellQuote } from "../../src/util/shell-quote.js";

const dir = mkdtempSync(join(tmpdir(), "ssh-quote-"));
const marker = join(dir, "pwned");

/** Strings a shell would love to interpret. */
const HOSTILE = [
  "",
  " ",
  "'",
  "''",
  "'\\''",
  `"`,
  "\\",
  "\\'",
  `$(touch ${marker})`,
  `\`touch ${marker}\``,
  `; touch ${marker}`,
  `&& touch ${marker}`,
  `| touch ${marker}`,
  `\ntouch ${marker}\n`,
  "$HOME",
  "${HOME}",
  "$((1+1))",
  "*",
  "~",
  "~root",
  "-n",
  "--version",
  "!",
  "#comment",
  "a\tb",
  "{a,b}",
  "[a]",
  "é ünïcödé 🚀",
  "x'; touch " + marker + "; echo '",
  "%s%n",
];

/** Runs `printf '%s\0' <quoted args>` in a real shell and splits what it printed. */
function roundTrip(shell: string, args: readonly string[]): string[] {
  const out = execFileSync(shell, ["-c", `printf '%s\\0' ${args.map(quoteArg).join(" ")}`], { encoding: "utf8", cwd: dir });
  return out.split("\0").slice(0, -1);
}

describe("shellQuote", () => {
  it("passes every hostile string through sh and bash as exactly one literal argument", () => {
    for (const shell of ["/bin/sh", "/bin/bash"]) {
      expect(roundTrip(shell, HOSTILE)).toEqual(HOSTILE);
      for (const s of HOSTILE) expect(roundTrip(shell, [s])).toEqual([s]);
    }
    expect(existsSync(marker)).toBe(false);
  });

  it("quotes each argv element on its own, so the program cannot be changed by its arguments", () => {
    const line = shellQuote(["printf", "%s\\0", "a b", "$(id)", "'"]);
    const out = execFileSync("/bin/sh", ["-c", line], { encoding: "utf8" });
    expect(out.split("\0").slice(0, -1)).toEqual(["a b", "$(id)", "'"]);
  });

  it("refuses a NUL byte and an empty argv with OPTIONS_INVALID", () => {
    expect(() => quoteArg("a\0b")).toThrow(expect.objectContaining({ code: "OPTIONS_INVALID" }));
    expect(() => shellQuote([])).toThrow(expect.objectContaining({ code: "OPTIONS_INVALID" }));
  });
});

describe("remote worker environment", () => {
  it("refuses variables that look like secrets, and URLs with credentials", () => {
    for (const name of ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "GITHUB_TOKEN", "DB_PASSWORD", "MY_API_KEY", "AWS_PROFILE"]) {
      let err: unknown;
      try {
        checkRemoteEnv({ [name]: "x" });
      } catch (e) {
        err = e;
      }
      expect(isCompasEnsembleError(err, "OPTIONS_INVALID"), name).toBe(true);
    }
    expect(() => checkRemoteEnv({ S3_ENDPOINT: "http://user:pw@minio:9000" })).toThrow(/credentials are never sent/);
    expect(() => checkRemoteEnv({ "BAD NAME": "x" })).toThrow(/not a valid shell name/);
    expect(() => checkRemoteEnv({ S3_ENDPOINT: "http://minio:9000", AWS_REGION: "eu-west-1", PATH: "/opt/node/bin:/usr/bin" })).not.toThrow();
  });

  it("writes a worker launcher whose fixed values stay literal whatever they contain", () => {
    const script = workerScript({
      remoteCommand: ["/opt/my node/bin/node", "/x/cli.js"],
      storeUri: "s3://bucket/pre'fix $(id)",
      compasBinary: "/opt/COMPAS `id`",
      env: { FOO: "a'b $(touch " + marker + ")" },
    });
    // Run it with a fake `exec` target: replace the program with printf to see the argv.
    const probe = script.replace(/^exec '\/opt\/my node\/bin\/node' '\/x\/cli.js'/m, "exec printf '%s\\0' \"$FOO\"");
    const out = execFileSync("/bin/sh", ["-c", probe, "worker.sh", "job-1", "task-1"], { encoding: "utf8", cwd: dir });
    expect(out.split("\0").slice(0, -1)).toEqual([
      "a'b $(touch " + marker + ")",
      "worker",
      "--plan",
      "s3://bucket/pre'fix $(id)",
      "--task",
      "task-1",
      "--scratch",
      `${dir}/scratch`,
      "--compas-binary",
      "/opt/COMPAS `id`",
    ]);
    expect(existsSync(marker)).toBe(false);
  });
});
