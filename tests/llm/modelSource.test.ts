import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelError } from "../../src/core/errors.ts";
import { checkModelFile, isRemoteModelSource, resolveModelSource } from "../../src/llm/modelSource.ts";
import { writeTestModel } from "../fixtures/gguf/writeTestModel.ts";

// Never downloads: hf: URIs are only resolved with noDownload.

let dir: string;
let model: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hearth-modelsource-"));
  model = (await writeTestModel(join(dir, "m.gguf"), { seed: 4 })).path;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("modelSource", () => {
  it("tells remote sources from local paths", () => {
    expect(isRemoteModelSource("hf:user/repo:Q4_K_M")).toBe(true);
    expect(isRemoteModelSource("https://example.org/m.gguf")).toBe(true);
    expect(isRemoteModelSource("/models/m.gguf")).toBe(false);
    expect(isRemoteModelSource("models/hf:odd.gguf")).toBe(false);
  });

  it("resolves a local GGUF file to its absolute path", async () => {
    expect(await resolveModelSource(model, { modelsDir: dir })).toBe(model);
    const info = await checkModelFile(model);
    expect(info.sizeBytes).toBeGreaterThan(1000);
  });

  it("names a missing local file and says how to fix it", async () => {
    const missing = join(dir, "nothing-here.gguf");
    const err = await resolveModelSource(missing, { modelsDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).code).toBe("MODEL_NOT_FOUND");
    expect((err as ModelError).userMessage).toContain(missing);
    expect((err as ModelError).userMessage).toMatch(/hf:/);
  });

  it("refuses a file that is not GGUF", async () => {
    const txt = join(dir, "readme.gguf");
    await writeFile(txt, "<html>404 not found</html>");
    await expect(resolveModelSource(txt, { modelsDir: dir })).rejects.toMatchObject({ code: "MODEL_NOT_GGUF" });
  });

  it("an hf: URI with downloads off gives a clear error and does not touch the network", async () => {
    const err = await resolveModelSource("hf:someone/some-model-GGUF:Q4_K_M", { modelsDir: dir, noDownload: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).code).toBe("MODEL_NOT_DOWNLOADED");
    expect((err as ModelError).userMessage).toContain("hf:someone/some-model-GGUF:Q4_K_M");
    expect((err as ModelError).userMessage).toContain(dir);
    expect((err as ModelError).userMessage).toMatch(/local \.gguf file|network access/);
  });

  it("an hf: URI already in the models dir resolves offline", async () => {
    // node-llama-cpp names downloads "hf_<user>_<file>"; a fully specified file URI maps to one name.
    const { copyFile } = await import("node:fs/promises");
    await copyFile(model, join(dir, "hf_someone_tiny.Q8_0.gguf"));
    const path = await resolveModelSource("hf:someone/tiny-GGUF/tiny.Q8_0.gguf", { modelsDir: dir, noDownload: true });
    expect(path).toBe(join(dir, "hf_someone_tiny.Q8_0.gguf"));
  });

  it("rejects an empty setting", async () => {
    await expect(resolveModelSource("  ", { modelsDir: dir })).rejects.toMatchObject({ code: "MODEL_NOT_CONFIGURED" });
  });
});
