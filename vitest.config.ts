import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/support/cache-home.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests spawn real processes; two cores are shared between workers and children.
    maxWorkers: 2,
  },
});
