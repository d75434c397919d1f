import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getLlama, type Llama } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelError } from "../../src/core/errors.ts";
import { gpuReport } from "../../src/llm/gpuReport.ts";
import { writeTestModel } from "../fixtures/gguf/writeTestModel.ts";

let dir: string;
let llama: Llama;
let small: string;
let big: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hearth-gpureport-"));
  small = (await writeTestModel(join(dir, "small.gguf"), { seed: 1 })).path;
  big = (await writeTestModel(join(dir, "big.gguf"), { seed: 2, embeddingDim: 128, layers: 4, contextLength: 8192 })).path;
  llama = await getLlama({ gpu: false, build: "never" });
}, 60_000);

afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("gpuReport", { timeout: 60_000 }, () => {
  it("describes a CPU-only machine", async () => {
    const r = await gpuReport({ llama });
    expect(r.backend).toBe("cpu");
    expect(r.vram).toBeUndefined();
    expect(r.deviceNames).toEqual([]);
    expect(r.ram.totalBytes).toBeGreaterThan(0);
    expect(r.ram.freeBytes).toBeLessThanOrEqual(r.ram.totalBytes);
    expect(r.cpuMathCores).toBeGreaterThan(0);
    expect(r.llamaCppRelease).toContain("llama.cpp");
    expect(r.model).toBeUndefined();
  });

  it("estimates whether a model fits, growing with context and model size", async () => {
    const a = (await gpuReport({ llama, modelPath: small, contextSize: 1024, maxSequences: 1 })).model!;
    expect(a.architecture).toBe("llama");
    expect(a.totalLayers).toBeGreaterThanOrEqual(2);
    expect(a.gpuLayers).toBe(0);
    expect(a.trainContextSize).toBe(4096);
    expect(a.fitsRam).toBe(true);
    expect(a.fitsVram).toBe(true);
    expect(a.advice).toEqual([]);
    const longer = (await gpuReport({ llama, modelPath: small, contextSize: 4096, maxSequences: 4 })).model!;
    expect(longer.estimate.contextRamBytes).toBeGreaterThan(a.estimate.contextRamBytes);
    const b = (await gpuReport({ llama, modelPath: big, contextSize: 1024, maxSequences: 1 })).model!;
    expect(b.parameters).toBeGreaterThan(a.parameters);
    expect(b.estimate.modelRamBytes).toBeGreaterThan(a.estimate.modelRamBytes);
  });

  it("warns when the context is larger than the model was trained for", async () => {
    const r = (await gpuReport({ llama, modelPath: small, contextSize: 16384 })).model!;
    expect(r.advice.join(" ")).toMatch(/trained for \(4096\)/);
  });

  it("names a missing or non-GGUF model file", async () => {
    const missing = join(dir, "missing.gguf");
    await expect(gpuReport({ llama, modelPath: missing })).rejects.toMatchObject({ code: "MODEL_NOT_FOUND" });
    const junk = join(dir, "junk.gguf");
    await writeFile(junk, "nope");
    const err = await gpuReport({ llama, modelPath: junk }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).userMessage).toContain(junk);
  });
});
