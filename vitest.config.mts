import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/soak/**", "node_modules/**"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    setupFiles: ["test/support/quiet-warnings.ts"],
    globalSetup: ["test/support/temp-root.ts"],
    // Two cores: sharp, exiftool and the emulators already use both.
    maxWorkers: 2,
    // A preview that fails on a quota (components/account-quotas.ts) throws in an apply; Pulumi's
    // Output also rejects promises nobody awaits with the same error. The test that provokes it
    // awaits the dry run's own rejection, so those copies are not news.
    onUnhandledError: (error) => !/^stack "[^"]+" needs [\d,]+ of "/.test((error as Error)?.message ?? ""),
  },
});
