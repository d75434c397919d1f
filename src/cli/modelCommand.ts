import type { LoadedConfig } from "../core/config.ts";
import { resolveModelSource } from "../llm/modelSource.ts";
import { createProgressBar } from "./progressBar.ts";

/** `hearth model pull`: download (or check) the configured model with a progress bar. */
export async function modelPullCommand(loaded: LoadedConfig): Promise<void> {
  const bar = createProgressBar("Downloading model", { bytes: true });
  try {
    const path = await resolveModelSource(loaded.config.llm.model, {
      modelsDir: loaded.paths.models,
      onProgress: (p) => bar.update(p.downloadedBytes, p.totalBytes),
    });
    bar.stop();
    process.stdout.write(`Model ready: ${path}\n`);
  } finally {
    bar.stop();
  }
}
