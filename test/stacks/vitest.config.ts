/**
 * Stand-alone config for the infrastructure tests: they synthesize the SST app
 * offline and need none of the local services the root config's global setup
 * starts. `npx vitest run --config test/stacks/vitest.config.ts`
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export default defineConfig({
  root,
  test: {
    include: ["test/stacks/**/*.test.ts"],
    testTimeout: 60_000,
    pool: "forks",
  },
});
