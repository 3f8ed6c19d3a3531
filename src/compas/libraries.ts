// Shared libraries of a COMPAS binary: what `ldd` says, and which distribution packages
// provide the ones COMPAS is known to need (HDF5, GSL, Boost program_options/filesystem, the
// C++ runtime and what HDF5 pulls in). Package names checked with apt-cache on Debian 12;
// Ubuntu uses the same names. The RHEL family (RHEL, Rocky, Alma, Fedora, Amazon Linux)
// names packages by project, not by soname.

/** One line of `ldd` output. */
export interface LddEntry {
  /** The soname asked for, e.g. `libgsl.so.27`. */
  name: string;
  /** Where the loader found it; absent when not found. */
  path?: string;
  found: boolean;
}

/**
 * Parses `ldd` output. The vDSO and the loader itself (lines without `=>`) are left out.
 * @param text - stdout of `ldd <binary>`
 */
export function parseLdd(text: string): LddEntry[] {
  const out: LddEntry[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(\S+)\s+=>\s+(.*?)\s*$/.exec(line);
    if (!m) continue;
    const where = m[2]!;
    if (/^not found/.test(where)) out.push({ name: m[1]!, found: false });
    else out.push({ name: m[1]!, path: where.replace(/\s*\(0x[0-9a-f]+\)$/i, ""), found: true });
  }
  return out;
}

/** A distribution family, by how it names and installs packages. */
export type OsFamily = "debian" | "rhel" | "other";

interface Rule {
  soname: RegExp;
  debian: (m: RegExpExecArray) => string;
  rhel: (m: RegExpExecArray) => string;
  /** Shown with the RHEL command when the package is not in the base repositories. */
  rhelNote?: string;
}

const HDF5_DEBIAN: Record<string, string> = { "103": "libhdf5-103-1", "310": "libhdf5-310" };
const HDF5_HL_DEBIAN: Record<string, string> = { "100": "libhdf5-hl-100", "310": "libhdf5-hl-310" };
const HDF5_CPP_DEBIAN: Record<string, string> = { "103": "libhdf5-cpp-103-1", "310": "libhdf5-cpp-310" };
const EPEL = "hdf5 is in EPEL on RHEL/Rocky/Alma (sudo dnf install -y epel-release first)";

const RULES: readonly Rule[] = [
  { soname: /^libhdf5(?:_serial)?_hl\.so\.(\d+)/, debian: (m) => HDF5_HL_DEBIAN[m[1]!] ?? "libhdf5-dev", rhel: () => "hdf5", rhelNote: EPEL },
  { soname: /^libhdf5(?:_serial)?_cpp\.so\.(\d+)/, debian: (m) => HDF5_CPP_DEBIAN[m[1]!] ?? "libhdf5-dev", rhel: () => "hdf5", rhelNote: EPEL },
  { soname: /^libhdf5(?:_serial)?\.so\.(\d+)/, debian: (m) => HDF5_DEBIAN[m[1]!] ?? "libhdf5-dev", rhel: () => "hdf5", rhelNote: EPEL },
  { soname: /^libgslcblas\.so\.(\d+)/, debian: (m) => `libgslcblas${m[1]}`, rhel: () => "gsl" },
  { soname: /^libgsl\.so\.(\d+)/, debian: (m) => `libgsl${m[1]}`, rhel: () => "gsl" },
  { soname: /^libboost_([a-z0-9_]+)\.so\.(\d+\.\d+\.\d+)/, debian: (m) => `libboost-${m[1]!.replaceAll("_", "-")}${m[2]}`, rhel: (m) => `boost-${m[1]!.replaceAll("_", "-")}` },
  { soname: /^libstdc\+\+\.so\.6/, debian: () => "libstdc++6", rhel: () => "libstdc++" },
  { soname: /^libgcc_s\.so\.1/, debian: () => "libgcc-s1", rhel: () => "libgcc" },
  { soname: /^libgomp\.so\.1/, debian: () => "libgomp1", rhel: () => "libgomp" },
  { soname: /^libz\.so\.1/, debian: () => "zlib1g", rhel: () => "zlib" },
  { soname: /^libsz\.so\.2/, debian: () => "libsz2", rhel: () => "libaec" },
  { soname: /^libaec\.so\.0/, debian: () => "libaec0", rhel: () => "libaec" },
  { soname: /^libcurl\.so\.4/, debian: () => "libcurl4", rhel: () => "libcurl" },
  { soname: /^libcurl-gnutls\.so\.4/, debian: () => "libcurl3-gnutls", rhel: () => "libcurl" },
  { soname: /^lib(c|m|dl|pthread|rt)\.so\.\d+/, debian: () => "libc6", rhel: () => "glibc" },
];

/** Packages that provide a set of missing libraries, per family. */
export interface LibraryPackages {
  /** Debian/Ubuntu package names, in the order of the libraries. */
  debian: string[];
  /** RHEL-family package names. */
  rhel: string[];
  /** Notes for the RHEL command (e.g. EPEL). */
  rhelNotes: string[];
  /** Libraries no rule knows: the user has to look them up. */
  unknown: string[];
}

/**
 * Maps sonames to the packages that provide them.
 * @param sonames - missing libraries from {@link parseLdd}
 */
export function packagesFor(sonames: readonly string[]): LibraryPackages {
  const debian: string[] = [];
  const rhel: string[] = [];
  const rhelNotes: string[] = [];
  const unknown: string[] = [];
  const add = (list: string[], p: string): void => {
    if (p && !list.includes(p)) list.push(p);
  };
  for (const name of sonames) {
    let matched = false;
    for (const rule of RULES) {
      const m = rule.soname.exec(name);
      if (!m) continue;
      matched = true;
      add(debian, rule.debian(m));
      add(rhel, rule.rhel(m));
      if (rule.rhelNote) add(rhelNotes, rule.rhelNote);
      break;
    }
    if (!matched) unknown.push(name);
  }
  return { debian, rhel, rhelNotes, unknown };
}

/**
 * The command that installs packages on a family, as a person would type it (with sudo
 * unless `asRoot`). Apt's lists are refreshed first: fresh cloud images often have none.
 * @param family - debian or rhel
 * @param packages - package names
 * @param options - `asRoot` drops sudo; `dnf` false uses yum (Amazon Linux 2)
 */
export function installCommand(family: "debian" | "rhel", packages: readonly string[], options: { asRoot?: boolean; dnf?: boolean } = {}): string {
  const sudo = options.asRoot ? "" : "sudo ";
  if (family === "debian") return `${sudo}apt-get update && ${sudo}apt-get install -y ${packages.join(" ")}`;
  return `${sudo}${options.dnf === false ? "yum" : "dnf"} install -y ${packages.join(" ")}`;
}

/**
 * The family of a system from its /etc/os-release (ID and ID_LIKE).
 * @param osRelease - the file's content
 */
export function osFamily(osRelease: string): { family: OsFamily; id: string; name: string } {
  const field = (key: string): string => {
    const m = new RegExp(`^${key}=(.*)$`, "m").exec(osRelease);
    return (m?.[1] ?? "").trim().replace(/^["']|["']$/g, "");
  };
  const id = field("ID").toLowerCase();
  const like = field("ID_LIKE").toLowerCase().split(/\s+/);
  const ids = [id, ...like];
  const family: OsFamily = ids.some((x) => x === "debian" || x === "ubuntu")
    ? "debian"
    : ids.some((x) => ["rhel", "fedora", "centos", "rocky", "almalinux", "amzn", "ol"].includes(x))
      ? "rhel"
      : "other";
  return { family, id: id || "unknown", name: field("PRETTY_NAME") || id || "unknown" };
}

/**
 * One sentence that says how to get missing libraries: the Debian/Ubuntu and RHEL commands
 * (the host's own family first when known), and how to find packages for unknown sonames.
 * @param missing - missing sonames
 * @param family - the system's family, to put its command first
 */
export function missingLibrariesFix(missing: readonly string[], family: OsFamily = "other"): string {
  const p = packagesFor(missing);
  const parts: string[] = [];
  const deb = p.debian.length ? `${installCommand("debian", p.debian)} (Debian/Ubuntu)` : "";
  const rh = p.rhel.length ? `${installCommand("rhel", p.rhel)} (RHEL family${p.rhelNotes.length ? `; ${p.rhelNotes.join("; ")}` : ""})` : "";
  if (family === "rhel") parts.push(rh, deb);
  else parts.push(deb, rh);
  const known = parts.filter(Boolean).join(" or ");
  const unknown = p.unknown.length
    ? `find the package that provides ${p.unknown.join(", ")} (apt-file search <name>, or dnf provides '*/<name>')`
    : "";
  const tail = "; if the package installs another version, rebuild COMPAS on this system";
  return [known, unknown].filter(Boolean).join("; ") + (p.debian.length || p.rhel.length ? tail : "");
}
