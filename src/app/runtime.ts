import type { LoadedConfig } from "../core/config.ts";
import { getLogger } from "../core/logger.ts";
import type { LlmEngine } from "../llm/engine.ts";
import { createEngine } from "./createEngine.ts";
import { HearthApp, type Feature, type HearthAppOptions } from "./hearthApp.ts";

const log = getLogger("app");

/** Options for {@link buildApp}. */
export interface BuildAppOptions {
  /** Show download progress for a first-run model download. */
  onDownloadProgress?: (p: { downloadedBytes: number; totalBytes: number }) => void;
  /** Use this engine instead of the configured one (tests). */
  engine?: LlmEngine;
  signal?: AbortSignal;
}

/** Assemble a full Hearth: model engine, features and the pipeline. */
export async function buildApp(loaded: LoadedConfig, options: BuildAppOptions = {}): Promise<HearthApp> {
  const engine =
    options.engine ??
    (await createEngine({
      config: loaded.config,
      paths: loaded.paths,
      ...(options.onDownloadProgress ? { onDownloadProgress: options.onDownloadProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }));
  log.info({ engine: engine.description }, "model ready");
  const features: Feature[] = [];
  const appOptions: HearthAppOptions = { loaded, engine, features };
  return new HearthApp(appOptions);
}
