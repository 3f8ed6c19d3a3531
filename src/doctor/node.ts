import { MIN_NODE_MAJOR } from "../version.js";
import type { DoctorCheck } from "./types.js";

/**
 * Node's version against the one compas-ensemble needs.
 * @param version - e.g. "20.19.2" (default: this process's)
 */
export function checkNode(version: string = process.versions.node): DoctorCheck {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  const data = { version, required_major: MIN_NODE_MAJOR };
  if (major >= MIN_NODE_MAJOR) return { name: "node", status: "ok", detail: `Node ${version} (compas-ensemble needs >= ${MIN_NODE_MAJOR})`, data };
  return {
    name: "node",
    status: "fail",
    detail: `Node ${version} is older than ${MIN_NODE_MAJOR}, which compas-ensemble needs`,
    fix: `install Node ${MIN_NODE_MAJOR} or newer (https://nodejs.org, or your distribution's nodejs package, or nvm install ${MIN_NODE_MAJOR})`,
    data,
  };
}
