import { defineConfig } from "tsup";

// The package's entry points: the root (what a script needs to run locally and build a
// dataset) and one subpath per part that brings heavy dependencies or is for specialists.
// package.json "exports" and "typesVersions" and typedoc.json list the same names.
export const ENTRIES = ["ssh", "batch", "slurm", "store", "manifest", "sbi", "estimate", "compas", "worker", "report", "doctor"] as const;

export default defineConfig([
  {
    entry: { index: "src/index.ts", ...Object.fromEntries(ENTRIES.map((name) => [name, `src/entry/${name}.ts`])) },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    // Shared modules go to shared chunks in the CJS build too, so that every entry point sees
    // the same classes: an error thrown under compas-ensemble/ssh is a CompasEnsembleError of
    // the root, and a LocalStore from compas-ensemble/store is one to runEnsemble.
    splitting: true,
    // import.meta.url in the CJS build too: src/util/require-cjs.ts resolves from it.
    shims: true,
    // h5wasm is ESM-only; keeping it external lets the CJS build load it with a dynamic import.
    external: ["h5wasm", "h5wasm/node"],
  },
  {
    entry: { cli: "src/cli.ts" },
    format: ["esm"],
    sourcemap: true,
    target: "node20",
    banner: { js: "#!/usr/bin/env node" },
    external: ["h5wasm", "h5wasm/node"],
    // zod is 235 ES modules; read as one bundled file they cost the CLI's start a third less
    // (bench/startup.ts). The library build keeps it an ordinary dependency.
    noExternal: ["zod"],
  },
]);
