import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { doctor, DoctorReportSchema, formatDoctor, type DoctorCheck, type DoctorReport } from "../../src/doctor/index.js";
import { checkNode } from "../../src/doctor/node.js";
import { expandGrid, sliceGrid, sparseGrid } from "../../src/grid/index.js";
import { measuredSizeModel, runBytes } from "../../src/estimate/size.js";
import { builtCli } from "../support/cli.js";
import { fakeCompasPath } from "../support/fake-compas/index.js";
import { buildFakeElf } from "../support/fake-elf.js";
import { withTmpfs } from "../support/tmpfs.js";

const work = mkdtempSync(join(tmpdir(), "ce-doctor-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const points = sliceGrid(expandGrid(sparseGrid()), 0, 3);
const sha256Of = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");
const check = (report: DoctorReport, name: string): DoctorCheck => {
  const c = report.checks.find((x) => x.name === name);
  if (!c) throw new Error(`no ${name} check in ${formatDoctor(report)}`);
  return c;
};

/** The stand-in behind a wrapper whose --help leaves out one option line. */
function withoutFlag(flag: string): string {
  const path = join(work, `COMPAS-without${flag}`);
  writeFileSync(path, `#!/bin/sh\nif [ "$1" = --help ]; then ${fakeCompasPath()} --help | grep -v -e '${flag} '; else exec ${fakeCompasPath()} "$@"; fi\n`);
  chmodSync(path, 0o755);
  return path;
}

function memTotal(): number {
  return Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
}

describe("doctor on this machine", () => {
  it("with the stand-in: a run can start; COMPAS's place, version and sha256 are named, and the stand-in is reported as a script", async () => {
    const out = join(work, "out");
    const report = await doctor({ compasBinary: fakeCompasPath(), points, nSystems: 100, output: out, probeSystems: 5 });
    expect(report.ok, formatDoctor(report)).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(["node", "compas", "flags", "build", "libraries", "python", "disk", "memory"]);
    expect(check(report, "compas")).toMatchObject({
      status: "ok",
      detail: `COMPAS 03.07.00 at ${fakeCompasPath()} (from --compas-binary), sha256 ${sha256Of(fakeCompasPath())}`,
    });
    const flags = check(report, "flags");
    expect(flags.status).toBe("ok");
    // What the library passes, from the command it prints for a grid point.
    const command = execFileSync(process.execPath, [builtCli(), "command", "--sparse", "--index", "0", "--n-systems", "100"], { encoding: "utf8" });
    const expected = [...new Set(command.split(/\s+/).filter((t) => t.startsWith("--")))].sort();
    expect([...(flags.data!.passed as string[])].sort()).toEqual(expected);
    expect(check(report, "build")).toMatchObject({ status: "info", detail: `${fakeCompasPath()} is a script (#!/usr/bin/env node), not an ELF binary: -march=native and shared libraries concern whatever it runs` });
    expect(check(report, "libraries").status).toBe("skip");
    expect(check(report, "memory").data).toMatchObject({ peak_measured: true });
  }, 120_000);

  it("a binary whose --help lacks a flag the library passes: the flag is named and no run can start", async () => {
    const report = await doctor({ compasBinary: withoutFlag("--rlof-printing"), points, nSystems: 100, output: join(work, "out"), probeSystems: 0 });
    expect(report.ok).toBe(false);
    const flags = check(report, "flags");
    expect(flags.status).toBe("fail");
    expect(flags.data!.missing).toEqual(["--rlof-printing"]);
    expect(flags.detail).toBe("--help of COMPAS 03.07.00 does not list --rlof-printing, which the library passes (profile default); every task would fail with exit 3");
    expect(formatDoctor(report).split("\n").at(-1)).toBe("a run cannot start: 1 check failed");
  }, 60_000);

  it("a binary missing a shared library: the library, and the Debian and RHEL packages that provide it", async () => {
    const elf = buildFakeElf({ needs: "libgsl.so.99", library: "nowhere", parent: work });
    const report = await doctor({ compasBinary: elf, points, nSystems: 100, output: join(work, "out"), probeSystems: 0 });
    expect(report.ok).toBe(false);
    expect(check(report, "compas").status).toBe("fail");
    const libs = check(report, "libraries");
    const lddLines = execFileSync("ldd", [elf], { encoding: "utf8" }).split("\n").filter((l) => l.includes("=>"));
    expect(libs.status).toBe("fail");
    expect(libs.detail).toBe(`1 of ${lddLines.length} shared libraries missing: libgsl.so.99`);
    expect(libs.fix).toBe(
      "sudo apt-get update && sudo apt-get install -y libgsl99 (Debian/Ubuntu) or sudo dnf install -y gsl (RHEL family); if the package installs another version, rebuild COMPAS on this system",
    );
  }, 60_000);

  it("a binary built for macOS: not a Linux executable, with what to do", async () => {
    const macho = join(work, "COMPAS-macos");
    writeFileSync(macho, Buffer.concat([Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0x07, 0x00, 0x00, 0x01]), Buffer.alloc(4088)]));
    chmodSync(macho, 0o755);
    const report = await doctor({ compasBinary: macho, points, nSystems: 100, output: join(work, "out"), probeSystems: 0 });
    expect(report.ok).toBe(false);
    expect(check(report, "build")).toMatchObject({
      status: "fail",
      detail: `${macho} is a Mach-O binary (built on macOS), not a Linux executable`,
      fix: "build COMPAS on Linux (or in a Linux container) and point --compas-binary at that build",
    });
    expect(check(report, "libraries").status).toBe("skip");
  }, 60_000);

  it("tells -march=native (and the CPU it resolved to) from a generic build, and says so when the binary records no flags", async () => {
    const cpu = /^\s+-march=\s+(\S+)/m.exec(execFileSync("gcc", ["-march=native", "-Q", "--help=target"], { encoding: "utf8" }))![1]!;
    const build = async (cflags: string[]): Promise<DoctorCheck> =>
      check(await doctor({ compasBinary: buildFakeElf({ cflags, parent: work }), points, nSystems: 100, output: join(work, "out"), probeSystems: 0 }), "build");
    const native = await build(["-g", "-march=native"]);
    expect(native.status).toBe("warn");
    expect(native.detail).toContain(`with -march=native (resolved to ${cpu})`);
    expect(native.detail).toContain("'Illegal instruction'");
    expect(native.fix).toMatch(/-march=x86-64-v2/);
    // Without debug information, -frecord-gcc-switches keeps the flags in .GCC.command.line.
    expect((await build(["-frecord-gcc-switches", "-march=native"])).detail).toContain(`resolved to ${cpu}`);
    const generic = await build(["-g", "-march=x86-64"]);
    expect(generic).toMatchObject({ status: "ok" });
    expect(generic.detail).toContain("not -march=native: portable to other hosts");
    expect((await build(["-march=x86-64-v3", "-g"])).detail).toContain("for the x86-64 level x86-64-v3");
    const unknown = await build([]);
    expect(unknown.status).toBe("info");
    expect(unknown.detail).toContain("records no compiler flags, so whether it was built with -march=native is unknown");
  }, 120_000);

  it("measures one COMPAS process's peak memory, says how many fit, and refuses a concurrency that does not", async () => {
    // Every COMPAS process of the probe holds 300 MiB more than the stand-in alone.
    const hold = join(work, "hold.cjs");
    writeFileSync(hold, "globalThis.__held = Buffer.alloc(300 * 1024 * 1024, 1);\n");
    const env = { ...process.env, NODE_OPTIONS: `--require ${hold}`, FAKE_COMPAS_DELAY_MS: "20" };
    const run = (concurrency: number): Promise<DoctorReport> =>
      doctor({ compasBinary: fakeCompasPath(), points, nSystems: 100, output: join(work, "out"), probeSystems: 5, concurrency, env });
    const fits = await run(1);
    const memory = check(fits, "memory");
    expect(memory.status).toBe("ok");
    const peak = memory.data!.peak_rss_bytes as number;
    expect(peak).toBeGreaterThanOrEqual(300 * 1024 * 1024);
    const fit = memory.data!.fit as number;
    expect(fit).toBeLessThanOrEqual(Math.floor(memTotal() / (300 * 1024 * 1024)));
    expect(fit).toBeGreaterThanOrEqual(1);
    const tooMany = check(await run(10_000), "memory");
    expect(tooMany.status).toBe("fail");
    expect(tooMany.detail).toMatch(/; --concurrency 10000 would run out of memory$/);
    expect(tooMany.fix).toMatch(/^use --concurrency \d+ or less, or free memory$/);
  }, 120_000);

  it("compares free disk with the estimate for the grid and N", async () => {
    await withTmpfs(1024 * 1024, async (dir) => {
      const report = await doctor({ compasBinary: fakeCompasPath(), points, nSystems: 100, output: join(dir, "ensemble"), probeSystems: 0, concurrency: 1 });
      const disk = check(report, "disk");
      expect(disk.status).toBe("fail");
      expect(disk.data).toMatchObject({ mount_point: dir, outputs_bytes: 3 * runBytes(measuredSizeModel("default"), 100) });
      expect(disk.fix).toMatch(new RegExp(`^free \\d+(\\.\\d)? MB on ${dir}, choose another --output-dir`));
      expect(report.ok).toBe(false);
    });
    const s3 = check(await doctor({ compasBinary: fakeCompasPath(), points, nSystems: 100, output: "s3://bucket/ens", probeSystems: 0 }), "disk");
    expect(s3.status).toBe("info");
  }, 60_000);

  it("finds Python with h5py, and only warns (never blocks a run) without it", async () => {
    const h5py = execFileSync("/usr/bin/python3", ["-c", "import h5py; print(h5py.__version__)"], { encoding: "utf8" }).trim();
    const found = check(await doctor({ compasBinary: fakeCompasPath(), points, output: join(work, "out"), probeSystems: 0, python: "/usr/bin/python3" }), "python");
    expect(found).toMatchObject({ status: "ok", data: { python: "/usr/bin/python3", h5py } });
    const none = await doctor({ compasBinary: fakeCompasPath(), points, output: join(work, "out"), probeSystems: 0, python: join(work, "no-python") });
    expect(check(none, "python").status).toBe("warn");
    expect(check(none, "python").fix).toMatch(/pip install h5py/);
    expect(none.ok).toBe(true);
  }, 60_000);

  it("refuses a Node older than 20 with how to get a newer one", () => {
    expect(checkNode("18.19.0")).toMatchObject({ status: "fail", detail: "Node 18.19.0 is older than 20, which compas-ensemble needs" });
    expect(checkNode("20.0.0").status).toBe("ok");
  });
});

describe("compas-ensemble doctor", () => {
  const cli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [builtCli(), "doctor", ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });

  it("prints the report as JSON and exits 0 when a run can start", async () => {
    const r = await cli(["--compas-binary", fakeCompasPath(), "--test-run", "--n-systems", "100", "--output-dir", join(work, "out"), "--probe-systems", "3", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = DoctorReportSchema.parse(JSON.parse(r.stdout));
    expect(report.ok).toBe(true);
  }, 120_000);

  it("prints one line per check and exits 1 when one fails", async () => {
    const r = await cli(["--compas-binary", withoutFlag("--evolve-unbound-systems"), "--test-run", "--output-dir", join(work, "out"), "--probe-systems", "0"]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(9);
    expect(lines.find((l) => l.startsWith("FAIL  flags"))).toMatch(/does not list --evolve-unbound-systems, .*; fix: use a COMPAS that knows these options/);
    expect(lines.at(-1)).toBe("a run cannot start: 1 check failed");
  }, 120_000);

  it("exits 2 with one sentence for a bad flag", async () => {
    const r = await cli(["--concurrency", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe('error: --concurrency "0" is below 1, the smallest value it takes.');
  });
});
