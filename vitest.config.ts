import { defineConfig } from "vitest/config";

// Native addons (node-llama-cpp, better-sqlite3, keytar, sharp) are safest in forked processes.
// Two workers match the 2-core CI machine; the heavy suites (OCR, LLM, Synapse) set their own
// timeouts, generous enough for a loaded box.
export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    globalSetup: ["tests/bots/matrix/globalSetup.ts"],
    // The JSON report lets .ci/run print a one-line "N passed, N failed" summary.
    reporters: ["default", ["json", { outputFile: ".cache/test-results.json" }]],
  },
});
