import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { DoctorCheck } from "./types.js";

const PROBE = "import sys, h5py; print(sys.version.split()[0], h5py.__version__)";

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

function run(python: string, env: NodeJS.ProcessEnv): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(python, ["-c", PROBE], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ ok: !err, out: (err ? stderr || (err as Error).message : stdout).trim() });
    });
  });
}

/**
 * Python with h5py, for reading outputs and SBI datasets in Python. Optional: never fails the
 * report. Looks at `python` when given, else python3 and python on PATH, then /usr/bin/python3
 * (a distribution's python3-h5py is visible only to its own python3).
 * @param options - an explicit interpreter, and the environment whose PATH is searched
 */
export async function checkPython(options: { python?: string; env: NodeJS.ProcessEnv }): Promise<DoctorCheck> {
  const candidates = options.python
    ? [options.python]
    : [...new Set([onPath("python3", options.env), onPath("python", options.env), "/usr/bin/python3"].filter((p): p is string => p !== undefined))];
  const tried: string[] = [];
  for (const python of candidates) {
    const r = await run(python, options.env);
    if (r.ok) {
      const [version, h5py] = r.out.split(/\s+/);
      return { name: "python", status: "ok", detail: `${python} (Python ${version}) has h5py ${h5py}, to read outputs and SBI datasets in Python`, data: { python, version, h5py } };
    }
    tried.push(`${python} (${/No module named/.test(r.out) ? "no h5py" : /ENOENT|not found/i.test(r.out) ? "not found" : "does not run"})`);
  }
  return {
    name: "python",
    status: "warn",
    detail: `no Python with h5py (optional, for reading outputs in Python): tried ${tried.join(", ") || "python3 on PATH (none)"}`,
    fix: "pip install h5py numpy (or apt-get install python3-h5py, dnf install python3-h5py); the CLI's inspect and extract need no Python",
    data: { tried },
  };
}
