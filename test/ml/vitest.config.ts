// Stand-alone config for the ML tests (no global dev-runtime setup):
//   npx vitest run --config test/ml/vitest.config.ts
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/ml/**/*.test.ts"],
    testTimeout: 120_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
