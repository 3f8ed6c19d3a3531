import { fileURLToPath } from "node:url";

/**
 * The real COMPAS outputs the tests and benchmarks read, kept in the repository (gzipped, with
 * their provenance README) so that a clone tests on its own. Never modified: tests gunzip
 * copies into temp folders.
 */
export const FIXTURE_ROOT = fileURLToPath(new URL("../fixtures/compas/", import.meta.url));
