import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, type Llama } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelFunction } from "../../src/llm/engine.ts";
import { LlamaCppEngine } from "../../src/llm/llamaCppEngine.ts";
import { createHomeTools } from "../../src/home/homeTools.ts";
import { writeTestModel } from "../fixtures/gguf/writeTestModel.ts";
import { startHaEmulator, type HaEmulator } from "./haEmulator.ts";
import { ann, canaryToken, homeHarness, vaultLikeAuthorize, type HomeHarness } from "./homeFixtures.ts";

/**
 * The home tools through the REAL node-llama-cpp engine: a generated "script player" model (see
 * writeTestModel.ts) emits a getState call; the engine's function-call grammar, built from our
 * parameter schemas, must accept it and the handler's answer must come from Home Assistant.
 */

// Distinct pieces; the model plays them in order after the assistant header.
const SCRIPT = ["||call: ", "getState", "(", '{"entity":', '"light.kitchen"', "}", ")"];

const token = canaryToken();
let dir: string;
let llama: Llama;
let scriptPath: string;
let randomPath: string;
let ha: HaEmulator;
let h: HomeHarness;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hearth-home-llm-"));
  scriptPath = (await writeTestModel(join(dir, "home-script.gguf"), { seed: 21, script: SCRIPT })).path;
  randomPath = (await writeTestModel(join(dir, "home-random.gguf"), { seed: 22 })).path;
  llama = await getLlama({ gpu: false, build: "never" });
  ha = await startHaEmulator({ token });
  h = homeHarness(ha.url, vaultLikeAuthorize(token, new URL(ha.url).host));
}, 120_000);

afterAll(async () => {
  h?.dispose();
  await ha?.close();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** Wraps tools so the test sees every call and result the engine made. */
function recording(tools: Record<string, ModelFunction>, log: Array<{ name: string; params: unknown; result: string }>): Record<string, ModelFunction> {
  return Object.fromEntries(
    Object.entries(tools).map(([name, fn]) => [
      name,
      {
        ...fn,
        handler: async (params: unknown, signal?: AbortSignal) => {
          const result = await fn.handler(params, signal);
          log.push({ name, params, result });
          return result;
        },
      },
    ]),
  );
}

describe("home tools with node-llama-cpp", { timeout: 120_000 }, () => {
  it("parses a model's getState call against our schemas and feeds back HA's answer", async () => {
    const engine = await LlamaCppEngine.create({ modelPath: scriptPath, llama, gpu: false, contextSize: 4096, maxSequences: 1, threads: 1, temperature: 0, maxFunctionRounds: 1 });
    try {
      const log: Array<{ name: string; params: unknown; result: string }> = [];
      const prompts: string[] = [];
      engine.onPrompt((e) => prompts.push(e.prompt));
      const res = await engine.chat({
        sessionKey: "home",
        systemPrompt: "You help the family with the house.",
        history: [{ role: "user", text: "is the kitchen light on?" }],
        maxTokens: 200,
        functions: recording(createHomeTools(h.ctx(ann)), log),
      });
      expect(log.length).toBeGreaterThanOrEqual(1);
      expect(log[0]?.name).toBe("getState");
      expect(log[0]?.params).toEqual({ entity: "light.kitchen" });
      expect(log[0]?.result).toContain(`Kitchen Light (light.kitchen, Kitchen): ${ha.state("light.kitchen")}`);
      // Every tool was offered to the model, and none of it carries the token.
      for (const name of ["findEntities", "getState", "getHistory", "callService", "askHomeAssistant"]) expect(prompts[0]).toContain(name);
      expect(prompts.join("\n")).not.toContain(token);
      expect(res.stopReason).not.toBe("abort");
    } finally {
      await engine.dispose();
    }
  });

  it("accepts every tool schema in a free-running chat", async () => {
    const engine = await LlamaCppEngine.create({ modelPath: randomPath, llama, gpu: false, contextSize: 4096, maxSequences: 1, threads: 1, temperature: 0, maxFunctionRounds: 1 });
    try {
      const res = await engine.chat({
        sessionKey: "free",
        systemPrompt: "s",
        history: [{ role: "user", text: "turn off the kitchen light" }],
        maxTokens: 16,
        functions: createHomeTools(h.ctx(ann)),
      });
      expect(res.generatedTokens).toBeGreaterThan(0);
    } finally {
      await engine.dispose();
    }
  });
});
