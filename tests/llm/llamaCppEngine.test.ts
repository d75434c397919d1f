import { mkdtemp, rm, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, type Llama } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortedError, InputError, ModelError } from "../../src/core/errors.ts";
import type { ChatTurn } from "../../src/llm/engine.ts";
import { LlamaCppEngine } from "../../src/llm/llamaCppEngine.ts";
import { writeTestModel } from "../fixtures/gguf/writeTestModel.ts";

// Real node-llama-cpp on CPU with generated random-weight models (see writeTestModel.ts).
// threads: 1 — on small shared CI boxes ggml's multi-thread barriers cost more than they gain
// for a 64-dim model.

let dir: string;
let llama: Llama;
let modelPath: string;
let scriptPath: string;
let engine: LlamaCppEngine;

const SCRIPT = ["||call: ", "lightOff", "(", '{"room":', '"kitchen"', "}", ")"];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hearth-llm-"));
  modelPath = (await writeTestModel(join(dir, "random.gguf"), { seed: 11 })).path;
  scriptPath = (await writeTestModel(join(dir, "script.gguf"), { seed: 12, script: SCRIPT })).path;
  llama = await getLlama({ gpu: false, build: "never" });
  engine = await LlamaCppEngine.create({ modelPath, llama, gpu: false, contextSize: 1024, maxSequences: 2, threads: 1, temperature: 0 });
}, 120_000);

afterAll(async () => {
  await engine?.dispose();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const user = (text: string): ChatTurn => ({ role: "user", text });

describe("LlamaCppEngine", { timeout: 60_000 }, () => {
  it("loads the model and describes itself", () => {
    expect(engine.description).toContain("random.gguf");
    expect(engine.description).toContain("CPU");
    expect(engine.contextSize).toBeGreaterThanOrEqual(1024);
  });

  it("streams chunks that add up to the answer", async () => {
    const chunks: string[] = [];
    const res = await engine.chat({
      sessionKey: "stream",
      systemPrompt: "You are a helpful family assistant.",
      history: [user("hello, is the kitchen light on?")],
      maxTokens: 24,
      onTextChunk: (c) => chunks.push(c),
    });
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.join("")).toBe(res.text);
    expect(res.generatedTokens).toBe(24);
    expect(res.stopReason).toBe("maxTokens");
  });

  it("counts tokens with the model tokenizer", () => {
    expect(engine.countTokens("")).toBe(0);
    const short = engine.countTokens("the kitchen light");
    expect(short).toBeGreaterThan(0);
    expect(engine.countTokens("the kitchen light ".repeat(10))).toBeGreaterThan(short * 5);
  });

  it("stops promptly on abort mid-generation and stays usable", async () => {
    const ac = new AbortController();
    let chunks = 0;
    const res = await engine.chat({
      sessionKey: "abort",
      systemPrompt: "s",
      history: [user("tell me a long story")],
      maxTokens: 500,
      signal: ac.signal,
      onTextChunk: () => {
        if (++chunks === 3) ac.abort();
      },
    });
    expect(res.stopReason).toBe("abort");
    expect(res.generatedTokens).toBeLessThan(50);
    const again = await engine.chat({ sessionKey: "abort", systemPrompt: "s", history: [user("again")], maxTokens: 5 });
    expect(again.generatedTokens).toBe(5);
  });

  it("rejects an already aborted request with AbortedError", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(engine.chat({ sessionKey: "x", systemPrompt: "s", history: [user("hi")], signal: ac.signal })).rejects.toBeInstanceOf(AbortedError);
  });

  it("answers JSON that parses and matches the schema", async () => {
    const schema = {
      type: "object",
      properties: {
        merchant: { type: "string", maxLength: 20 },
        eligible: { type: "boolean" },
        category: { enum: ["pharmacy", "doctor", "other"] },
      },
      required: ["merchant", "eligible", "category"],
    };
    const out = (await engine.json({ systemPrompt: "Extract receipt fields.", prompt: "CVS Pharmacy total 12.30", schema, maxTokens: 200 })) as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(["category", "eligible", "merchant"]);
    expect(typeof out.merchant).toBe("string");
    expect((out.merchant as string).length).toBeLessThanOrEqual(20);
    expect(typeof out.eligible).toBe("boolean");
    expect(["pharmacy", "doctor", "other"]).toContain(out.category);
  });

  it("reports a JSON answer cut off by maxTokens clearly", async () => {
    const schema = { type: "object", properties: { note: { type: "string" } }, required: ["note"] };
    await expect(engine.json({ systemPrompt: "x", prompt: "y", schema, maxTokens: 3 })).rejects.toMatchObject({ code: "MODEL_JSON_INCOMPLETE" });
  });

  it("keeps a conversation warm: the follow-up evaluates far fewer prompt tokens", async () => {
    const system = "You are Hearth, the family assistant. Be brief and kind.";
    const first: ChatTurn[] = [user("please tell me about the kitchen light and the family home ".repeat(12))];
    const cold = await engine.chat({ sessionKey: "warm", systemPrompt: system, history: first, maxTokens: 10 });
    const history = [...first, { role: "assistant" as const, text: cold.text }, user("and the hall?")];
    const warm = await engine.chat({ sessionKey: "warm", systemPrompt: system, history, maxTokens: 10 });
    expect(cold.evaluatedPromptTokens).toBeGreaterThan(100);
    expect(warm.evaluatedPromptTokens).toBeDefined();
    expect(warm.evaluatedPromptTokens!).toBeLessThan(cold.evaluatedPromptTokens! / 3);

    // forgetSession drops the warm state: the same follow-up is evaluated cold again.
    await engine.forgetSession("warm");
    const afterForget = await engine.chat({ sessionKey: "warm", systemPrompt: system, history, maxTokens: 10 });
    expect(afterForget.evaluatedPromptTokens!).toBeGreaterThan(cold.evaluatedPromptTokens!);
  });

  it("gives the prompt trace exactly the evaluated prompt, once per turn", async () => {
    const seen: Array<{ sessionKey: string; prompt: string }> = [];
    const local = await LlamaCppEngine.create({ modelPath, llama, contextSize: 512, maxSequences: 1, threads: 1, temperature: 0 });
    try {
      local.onPrompt((e) => seen.push(e));
      const res = await local.chat({ sessionKey: "trace", systemPrompt: "SYSTEM-MARK", history: [user("USER-MARK")], maxTokens: 4 });
      expect(seen).toHaveLength(1);
      expect(seen[0]!.sessionKey).toBe("trace");
      const prompt = seen[0]!.prompt;
      expect(prompt).toContain("SYSTEM-MARK");
      expect(prompt).toContain("USER-MARK");
      expect(prompt.indexOf("SYSTEM-MARK")).toBeLessThan(prompt.indexOf("USER-MARK"));
      expect(prompt).toMatch(/<\|im_start\|>\s*assistant\n$/);
      // On a cold sequence every prompt token had to be evaluated.
      expect(res.evaluatedPromptTokens).toBe(local.llamaModel.tokenize(prompt, true).length);
    } finally {
      await local.dispose();
    }
  });

  it("handles history longer than the context: keeps the system prompt and the latest turn", async () => {
    const seen: string[] = [];
    const small = await LlamaCppEngine.create({ modelPath, llama, contextSize: 512, maxSequences: 1, threads: 1, temperature: 0 });
    try {
      small.onPrompt((e) => seen.push(e.prompt));
      const history: ChatTurn[] = [];
      for (let i = 0; i < 60; i++) {
        history.push(user(`question number ${i} about the kitchen light`), { role: "assistant", text: `answer number ${i} the light is on` });
      }
      history.push(user("LATEST-QUESTION"));
      const total = small.countTokens(history.map((t) => t.text).join("\n"));
      expect(total).toBeGreaterThan(small.contextSize);
      const res = await small.chat({ sessionKey: "long", systemPrompt: "SYSTEM-KEPT", history, maxTokens: 40 });
      expect(res.generatedTokens).toBe(40);
      const prompt = seen.at(-1)!;
      expect(prompt).toContain("SYSTEM-KEPT");
      expect(prompt).toContain("LATEST-QUESTION");
      expect(prompt).not.toContain("question number 0 ");
      expect(small.llamaModel.tokenize(prompt, true).length).toBeLessThan(small.contextSize);

      // The next turn continues from the shortened window and stays warm.
      history.push({ role: "assistant", text: res.text }, user("FOLLOW-UP"));
      const next = await small.chat({ sessionKey: "long", systemPrompt: "SYSTEM-KEPT", history, maxTokens: 10 });
      expect(seen.at(-1)).toContain("FOLLOW-UP");
      expect(next.generatedTokens).toBe(10);
      const nextPromptTokens = small.llamaModel.tokenize(seen.at(-1)!, true).length;
      expect(next.evaluatedPromptTokens!).toBeLessThan(nextPromptTokens / 2);
    } finally {
      await small.dispose();
    }
  });

  it("refuses a single message that cannot fit, saying what to do", async () => {
    const err = await engine.chat({ sessionKey: "huge", systemPrompt: "s", history: [user("word ".repeat(3000))] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe("LLM_MESSAGE_TOO_LONG");
    expect((err as InputError).userMessage).toMatch(/shorter message/);
  });

  it("queues when all sequences are busy and serves requests in order", async () => {
    const one = await LlamaCppEngine.create({ modelPath, llama, contextSize: 512, maxSequences: 1, threads: 1, temperature: 0 });
    try {
      const order: string[] = [];
      const run = (key: string) =>
        one.chat({ sessionKey: key, systemPrompt: "s", history: [user(`hi from ${key}`)], maxTokens: 12 }).then((r) => {
          order.push(key);
          return r;
        });
      const [a, b, c] = await Promise.all([run("a"), run("b"), run("c")]);
      expect(order).toEqual(["a", "b", "c"]);
      for (const r of [a, b, c]) expect(r.generatedTokens).toBe(12);
      // b and c took the only sequence from the previous chat, so each was evaluated cold.
      expect(b.evaluatedPromptTokens).toBe(a.evaluatedPromptTokens);
    } finally {
      await one.dispose();
    }
  });

  it("lets a queued request be aborted without disturbing the others", async () => {
    const one = await LlamaCppEngine.create({ modelPath, llama, contextSize: 512, maxSequences: 1, threads: 1, temperature: 0 });
    try {
      const ac = new AbortController();
      const first = one.chat({ sessionKey: "a", systemPrompt: "s", history: [user("first")], maxTokens: 30 });
      const queued = one.chat({ sessionKey: "b", systemPrompt: "s", history: [user("second")], maxTokens: 30, signal: ac.signal });
      const third = one.chat({ sessionKey: "c", systemPrompt: "s", history: [user("third")], maxTokens: 5 });
      ac.abort();
      await expect(queued).rejects.toBeInstanceOf(AbortedError);
      expect((await first).generatedTokens).toBe(30);
      expect((await third).generatedTokens).toBe(5);
    } finally {
      await one.dispose();
    }
  });

  it("calls functions the model asks for and feeds the result back", async () => {
    const scripted = await LlamaCppEngine.create({ modelPath: scriptPath, llama, contextSize: 2048, maxSequences: 1, threads: 1, temperature: 0, maxFunctionRounds: 2 });
    try {
      const prompts: string[] = [];
      scripted.onPrompt((e) => prompts.push(e.prompt));
      const calls: unknown[] = [];
      const res = await scripted.chat({
        sessionKey: "fn",
        systemPrompt: "You control the house.",
        history: [user("turn off the kitchen light")],
        maxTokens: 200,
        functions: {
          lightOff: {
            description: "Turn off the light in a room",
            parameters: { type: "object", properties: { room: { enum: ["kitchen", "hall"] } }, required: ["room"] },
            handler: async (params) => {
              calls.push(params);
              return "RESULT-LIGHT-OFF";
            },
          },
        },
      });
      // The scripted model always calls again after a result; maxFunctionRounds (2) bounds it.
      expect(calls).toEqual([{ room: "kitchen" }, { room: "kitchen" }]);
      expect(prompts).toHaveLength(1);
      expect(prompts[0]).toContain("lightOff");
      expect(res.stopReason).toBe("eos");
      expect(res.generatedTokens).toBeGreaterThan(SCRIPT.length * 2);
    } finally {
      await scripted.dispose();
    }
  });

  it("keeps generating when a stream listener throws", async () => {
    const res = await engine.chat({
      sessionKey: "throwing",
      systemPrompt: "s",
      history: [user("hi")],
      maxTokens: 8,
      onTextChunk: () => {
        throw new Error("listener bug");
      },
    });
    expect(res.generatedTokens).toBe(8);
  });

  it("aborts a JSON request with AbortedError and stays usable", async () => {
    const schema = { type: "object", properties: { note: { type: "string" } }, required: ["note"] };
    const ac = new AbortController();
    const p = engine.json({ systemPrompt: "x", prompt: "y", schema, maxTokens: 2000, signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    const ok = await engine.json({ systemPrompt: "x", prompt: "y", schema: { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] }, maxTokens: 50 });
    expect(typeof (ok as { ok: unknown }).ok).toBe("boolean");
  });

  it("rejects queued requests on dispose and refuses new ones", async () => {
    const one = await LlamaCppEngine.create({ modelPath, llama, contextSize: 512, maxSequences: 1, threads: 1 });
    const running = one.chat({ sessionKey: "a", systemPrompt: "s", history: [user("one")], maxTokens: 200 });
    const queued = one.chat({ sessionKey: "b", systemPrompt: "s", history: [user("two")], maxTokens: 5 }).catch((e: unknown) => e);
    const first = running.catch((e: unknown) => e);
    await one.dispose();
    expect(await queued).toMatchObject({ code: "LLM_DISPOSED" });
    // The running answer is stopped (returned as aborted) rather than crashing on a disposed context.
    const r = await first;
    if (r instanceof Error) expect(r).toMatchObject({ code: "LLM_DISPOSED" });
    else expect((r as { stopReason: string }).stopReason).toBe("abort");
    await expect(one.chat({ sessionKey: "c", systemPrompt: "s", history: [user("x")] })).rejects.toMatchObject({ code: "LLM_DISPOSED" });
  });

  it("rejects a conversation that does not end with the user", async () => {
    await expect(engine.chat({ sessionKey: "x", systemPrompt: "s", history: [{ role: "assistant", text: "hi" }] })).rejects.toBeInstanceOf(InputError);
  });
});

describe("LlamaCppEngine.create errors", { timeout: 60_000 }, () => {
  it("names a missing model file and says what to do", async () => {
    const missing = join(dir, "nope", "model.gguf");
    const err = await LlamaCppEngine.create({ modelPath: missing, llama }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).code).toBe("MODEL_NOT_FOUND");
    expect((err as ModelError).userMessage).toContain(missing);
    expect((err as ModelError).userMessage).toMatch(/hf:/);
  });

  it("says so when the file is not GGUF", async () => {
    const bogus = join(dir, "notes.gguf");
    await writeFile(bogus, "this is not a model\n");
    const err = await LlamaCppEngine.create({ modelPath: bogus, llama }).catch((e: unknown) => e);
    expect((err as ModelError).code).toBe("MODEL_NOT_GGUF");
    expect((err as ModelError).userMessage).toContain(bogus);
  });

  it("names an unreadable model file", async () => {
    if (process.getuid?.() === 0) {
      // root reads files regardless of mode bits; a directory is unreadable as a model instead.
      const err = await LlamaCppEngine.create({ modelPath: dir, llama }).catch((e: unknown) => e);
      expect((err as ModelError).code).toBe("MODEL_NOT_A_FILE");
      expect((err as ModelError).userMessage).toContain(dir);
      return;
    }
    const locked = join(dir, "locked.gguf");
    await writeFile(locked, "GGUF");
    await chmod(locked, 0o000);
    const err = await LlamaCppEngine.create({ modelPath: locked, llama }).catch((e: unknown) => e);
    expect((err as ModelError).code).toBe("MODEL_UNREADABLE");
    expect((err as ModelError).userMessage).toContain(locked);
  });

  it("explains a truncated GGUF file", async () => {
    const truncated = join(dir, "truncated.gguf");
    const { readFile } = await import("node:fs/promises");
    await writeFile(truncated, (await readFile(modelPath)).subarray(0, 4000));
    const err = await LlamaCppEngine.create({ modelPath: truncated, llama, threads: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).code).toBe("MODEL_LOAD_FAILED");
    expect((err as ModelError).userMessage).toContain(truncated);
  });
});
