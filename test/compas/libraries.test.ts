import { execFileSync, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { installCommand, missingLibrariesFix, osFamily, packagesFor, parseLdd } from "../../src/compas/libraries.js";

// COMPAS v03.07.00 built on Debian 12 needs these (ldd of the real build, as in examples/batch/Dockerfile).
const COMPAS_DEBIAN12 = ["libhdf5_serial.so.103", "libgsl.so.27", "libgslcblas.so.0", "libboost_program_options.so.1.74.0", "libboost_filesystem.so.1.74.0", "libstdc++.so.6", "libz.so.1"];

describe("parseLdd", () => {
  it("lists found and missing libraries, without the vDSO and the loader", () => {
    const text = [
      "\tlinux-vdso.so.1 (0x00007ffd3b5f2000)",
      "\tlibgsl.so.27 => not found",
      "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f0c1e200000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f0c1e6a1000)",
    ].join("\n");
    expect(parseLdd(text)).toEqual([
      { name: "libgsl.so.27", found: false },
      { name: "libstdc++.so.6", path: "/lib/x86_64-linux-gnu/libstdc++.so.6", found: true },
    ]);
  });

  it("reads this machine's ldd", () => {
    const entries = parseLdd(execFileSync("ldd", ["/bin/sh"], { encoding: "utf8" }));
    expect(entries.find((e) => e.name === "libc.so.6")?.found).toBe(true);
  });
});

describe("packagesFor", () => {
  it("names real Debian 12 packages for every library COMPAS needs there", () => {
    const { debian, unknown } = packagesFor(COMPAS_DEBIAN12);
    expect(unknown).toEqual([]);
    expect(debian).toEqual(["libhdf5-103-1", "libgsl27", "libgslcblas0", "libboost-program-options1.74.0", "libboost-filesystem1.74.0", "libstdc++6", "zlib1g"]);
    // Independent check: apt knows each of them on this Debian 12 machine.
    for (const p of debian) expect(spawnSync("apt-cache", ["show", "--no-all-versions", p], { encoding: "utf8" }).status, p).toBe(0);
  });

  it("names the RHEL-family packages, with EPEL for HDF5, and leaves unknown libraries to the user", () => {
    const p = packagesFor([...COMPAS_DEBIAN12, "libfoo.so.3"]);
    expect(p.rhel).toEqual(["hdf5", "gsl", "boost-program-options", "boost-filesystem", "libstdc++", "zlib"]);
    expect(p.rhelNotes).toEqual(["hdf5 is in EPEL on RHEL/Rocky/Alma (sudo dnf install -y epel-release first)"]);
    expect(p.unknown).toEqual(["libfoo.so.3"]);
  });
});

describe("install commands", () => {
  it("builds apt and dnf commands, sudo unless root", () => {
    expect(installCommand("debian", ["libgsl27"])).toBe("sudo apt-get update && sudo apt-get install -y libgsl27");
    expect(installCommand("debian", ["libgsl27"], { asRoot: true })).toBe("apt-get update && apt-get install -y libgsl27");
    expect(installCommand("rhel", ["gsl"])).toBe("sudo dnf install -y gsl");
    expect(installCommand("rhel", ["gsl"], { dnf: false })).toBe("sudo yum install -y gsl");
  });

  it("puts the system's own family first, and says how to find a package nobody knows", () => {
    expect(missingLibrariesFix(["libgsl.so.27"], "rhel")).toBe(
      "sudo dnf install -y gsl (RHEL family) or sudo apt-get update && sudo apt-get install -y libgsl27 (Debian/Ubuntu); if the package installs another version, rebuild COMPAS on this system",
    );
    expect(missingLibrariesFix(["libfoo.so.3"])).toBe("find the package that provides libfoo.so.3 (apt-file search <name>, or dnf provides '*/<name>')");
  });

  it("tells distribution families from /etc/os-release", () => {
    expect(osFamily('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\n')).toEqual({ family: "debian", id: "ubuntu", name: "Ubuntu 22.04.4 LTS" });
    expect(osFamily('ID="amzn"\nID_LIKE="fedora"\nPRETTY_NAME="Amazon Linux 2023"\n').family).toBe("rhel");
    expect(osFamily('ID="rocky"\nID_LIKE="rhel centos fedora"\n').family).toBe("rhel");
    expect(osFamily("ID=alpine\n").family).toBe("other");
    expect(osFamily("").family).toBe("other");
  });
});
