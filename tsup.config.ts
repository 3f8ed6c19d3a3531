import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: { index: "src/index.ts" },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
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
  },
]);
