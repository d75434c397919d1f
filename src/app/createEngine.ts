import type { HearthConfig, HearthPaths } from "../core/config.ts";
import type { LlmEngine } from "../llm/engine.ts";
import type { ModelDownloadProgress } from "../llm/modelSource.ts";

/** Options for {@link createEngine}. */
export interface CreateEngineOptions {
  config: HearthConfig;
  paths: HearthPaths;
  /** Resolves a vault handle to its value (API keys for the OpenAI-compatible backend). */
  secret?: (handle: string) => Promise<string>;
  onDownloadProgress?: (p: ModelDownloadProgress) => void;
  /** Never download: a remote model must already be cached. */
  noDownload?: boolean;
  signal?: AbortSignal;
}

/**
 * Build the configured language model backend: the embedded node-llama-cpp engine (downloading an
 * `hf:` model on first run) or the OpenAI-compatible client.
 */
export async function createEngine(options: CreateEngineOptions): Promise<LlmEngine> {
  const { config, paths } = options;
  const llm = config.llm;
  if (llm.backend === "openai") {
    const { OpenAiEngine } = await import("../llm/openAiEngine.ts");
    const apiKey = llm.openai.apiKeyHandle && options.secret ? await options.secret(llm.openai.apiKeyHandle) : undefined;
    return new OpenAiEngine({
      baseUrl: llm.openai.baseUrl,
      model: llm.openai.model,
      ...(apiKey ? { apiKey } : {}),
      contextSize: llm.contextSize === "auto" ? 8192 : llm.contextSize,
      temperature: llm.temperature,
      maxTokens: llm.maxTokens,
    });
  }
  const { resolveModelSource } = await import("../llm/modelSource.ts");
  const { LlamaCppEngine } = await import("../llm/llamaCppEngine.ts");
  const modelPath = await resolveModelSource(llm.model, {
    modelsDir: paths.models,
    ...(options.noDownload ? { noDownload: true } : {}),
    ...(options.onDownloadProgress ? { onProgress: options.onDownloadProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return LlamaCppEngine.create(
    {
      modelPath,
      gpu: llm.gpu,
      gpuLayers: llm.gpuLayers,
      contextSize: llm.contextSize,
      maxSequences: llm.warmChats,
      ...(llm.threads > 0 ? { threads: llm.threads } : {}),
      ...(llm.tensorSplit.length ? { tensorSplit: llm.tensorSplit } : {}),
      temperature: llm.temperature,
      maxTokens: llm.maxTokens,
    },
    options.signal,
  );
}
