import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, readGgufFileInfo, type Llama } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTestModel } from "../fixtures/gguf/writeTestModel.ts";

// The fixture generator is test infrastructure the engine tests rely on, so it is tested too.

let dir: string;
let llama: Llama;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hearth-gguf-"));
  llama = await getLlama({ gpu: false, build: "never" });
}, 60_000);

afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("writeTestModel", { timeout: 60_000 }, () => {
  it("is deterministic in the seed", async () => {
    const a = await writeTestModel(join(dir, "a.gguf"), { seed: 7 });
    const b = await writeTestModel(join(dir, "b.gguf"), { seed: 7 });
    const c = await writeTestModel(join(dir, "c.gguf"), { seed: 8 });
    const [ba, bb, bc] = await Promise.all([readFile(a.path), readFile(b.path), readFile(c.path)]);
    expect(ba.equals(bb)).toBe(true);
    expect(ba.equals(bc)).toBe(false);
    expect(ba.length).toBe(a.fileBytes);
  });

  it("writes the metadata node-llama-cpp reads", async () => {
    const info = await writeTestModel(join(dir, "meta.gguf"), { seed: 1, embeddingDim: 96, layers: 3, contextLength: 2048, tensorType: "f16" });
    const gguf = await readGgufFileInfo(info.path);
    const meta = gguf.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(meta.general!.architecture).toBe("llama");
    expect(meta.llama!.embedding_length).toBe(96);
    expect(meta.llama!.block_count).toBe(3);
    expect(meta.llama!.context_length).toBe(2048);
    const tok = meta.tokenizer as { ggml: { model: string; tokens: string[] }; chat_template: string };
    expect(tok.ggml.model).toBe("llama");
    expect(tok.ggml.tokens.length).toBe(info.vocabSize);
    expect(tok.ggml.tokens).toContain("<0x0A>");
    expect(tok.chat_template).toContain("<|im_start|>");
    expect(gguf.tensorInfo?.length).toBe(2 + 3 * 9 + 1);
  });

  it("loads and tokenizes byte-level text round-trip", async () => {
    const info = await writeTestModel(join(dir, "load.gguf"), { seed: 3 });
    const model = await llama.loadModel({ modelPath: info.path });
    try {
      const text = "Hello, kitchen light! Ünïcödé ✓ 12.30$";
      const tokens = model.tokenize(text);
      expect(model.detokenize(tokens)).toBe(text);
      // Common pieces merge: "the kitchen light" takes far fewer tokens than its bytes.
      expect(model.tokenize(" the kitchen light").length).toBeLessThan(6);
      expect(model.tokens.bos).toBe(info.bosId);
      expect(model.tokens.eos).toBe(info.eosId);
    } finally {
      await model.dispose();
    }
  });

  it("rejects a script with repeated pieces", async () => {
    await expect(writeTestModel(join(dir, "bad.gguf"), { script: ["a", "a"] })).rejects.toThrow(/distinct/);
  });
});
