import pkg from "../package.json" with { type: "json" };

/** The version of compas-ensemble, recorded in every plan, fragment and manifest. */
export const LIBRARY_VERSION: string = pkg.version;
