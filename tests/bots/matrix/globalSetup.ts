import type { TestProject } from "vitest/node";
import { startSynapse, type RunningSynapse, type SynapseInfo } from "./synapse.ts";

/**
 * Vitest globalSetup: one Synapse per test run, shared by every Matrix test file through
 * `inject("synapse")`. Started only when the run includes Matrix tests (no CLI filters, or a
 * filter matching `tests/bots/matrix`), so other areas' test runs do not pay for it.
 */

declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL etc. of the run's Synapse, or null when this run did not start one. */
    synapse: SynapseInfo | null;
  }
}

const matrixDir = "tests/bots/matrix/";

/** True when the vitest CLI filters (positional args) could select a Matrix test file. */
function runIncludesMatrixTests(argv: string[]): boolean {
  const runIdx = argv.findIndex((a) => a === "run" || a === "watch" || a === "dev" || a === "related");
  const positional = argv.slice(runIdx >= 0 ? runIdx + 1 : 2).filter((a) => !a.startsWith("-"));
  if (positional.length === 0) return true;
  return positional.some((f) => {
    const norm = f.replace(/^\.\//, "");
    // tests/app/matrixFlow.test.ts runs the whole app against Synapse too.
    return matrixDir.includes(norm) || norm.includes("matrix") || "tests/app/".includes(norm) || norm.includes("tests/app");
  });
}

let running: RunningSynapse | undefined;

/** Start Synapse (when needed) and provide its coordinates to the tests. */
export async function setup(project: TestProject): Promise<void> {
  if (!runIncludesMatrixTests(process.argv)) {
    project.provide("synapse", null);
    return;
  }
  running = await startSynapse();
  project.provide("synapse", { baseUrl: running.baseUrl, serverName: running.serverName, sharedSecret: running.sharedSecret });
}

/** Stop Synapse and delete its data dir. */
export async function teardown(): Promise<void> {
  await running?.stop();
  running = undefined;
}
