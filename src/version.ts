import pkg from "../package.json" with { type: "json" };

/** The version of compas-ensemble, recorded in every plan, fragment and manifest. */
export const LIBRARY_VERSION: string = pkg.version;

/** The oldest Node major version compas-ensemble runs on (package.json `engines`), here and on SSH hosts. */
export const MIN_NODE_MAJOR = 20;
