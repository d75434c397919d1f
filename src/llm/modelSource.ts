import { open, stat } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import { resolveModelFile } from "node-llama-cpp";
import { AbortedError, ModelError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";

/**
 * Turns the configured model (a local GGUF path or a remote `hf:` / `https:` URI) into a local file
 * that llama.cpp can load, downloading it into the models directory when allowed.
 */

const log = getLogger("llm");

/** Download progress, reported while a remote model is fetched (the CLI draws a bar from it). */
export interface ModelDownloadProgress {
  downloadedBytes: number;
  totalBytes: number;
}

/** Options of {@link resolveModelSource}. */
export interface ModelSourceOptions {
  /** Directory remote models are cached in (and relative local paths are NOT resolved against). */
  modelsDir: string;
  /** Never go to the network: a remote model must already be in `modelsDir`. */
  noDownload?: boolean;
  /** Hugging Face token for gated models (a value resolved from the vault by the caller; never logged). */
  huggingFaceToken?: string;
  onProgress?: (progress: ModelDownloadProgress) => void;
  signal?: AbortSignal;
}

/** True if `source` names a remote model (hf: URI or URL) rather than a local file. */
export function isRemoteModelSource(source: string): boolean {
  return /^(hf:|huggingface:|https?:\/\/)/i.test(source.trim());
}

/**
 * Check that `path` is a readable GGUF file and return its absolute path and size.
 * Throws a ModelError that names the path and says what to do when it is not.
 */
export async function checkModelFile(path: string): Promise<{ path: string; sizeBytes: number }> {
  const absolute = resolvePath(path);
  let size: number;
  try {
    const st = await stat(absolute);
    if (!st.isFile()) {
      throw new ModelError("MODEL_NOT_A_FILE", `The model path ${absolute} is not a file. Set the model setting to a .gguf file (or an hf: URI).`);
    }
    size = st.size;
  } catch (err) {
    if (err instanceof ModelError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new ModelError(
        "MODEL_NOT_FOUND",
        `Model file not found: ${absolute}. Check the model path in the configuration, or set it to an hf: URI (e.g. "hf:user/repo:Q4_K_M") to download one.`,
        { cause: err },
      );
    }
    throw new ModelError("MODEL_UNREADABLE", `Cannot read the model file ${absolute} (${code ?? "error"}). Check that the file exists and that Hearth's user may read it.`, { cause: err });
  }
  const magic = Buffer.alloc(4);
  try {
    const fh = await open(absolute, "r");
    try {
      await fh.read(magic, 0, 4, 0);
    } finally {
      await fh.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelError("MODEL_UNREADABLE", `Cannot read the model file ${absolute} (${code ?? "error"}). Check its permissions (Hearth's user needs read access).`, { cause: err });
  }
  if (magic.toString("latin1") !== "GGUF") {
    throw new ModelError(
      "MODEL_NOT_GGUF",
      `${absolute} is not a GGUF model file (it does not start with "GGUF"). Hearth needs a llama.cpp GGUF model; download a .gguf file or use an hf: URI. An incomplete download also looks like this: delete it and download again.`,
    );
  }
  return { path: absolute, sizeBytes: size };
}

/**
 * Resolve the configured model to a checked local GGUF file, downloading an `hf:` URI into
 * `modelsDir` unless `noDownload` is set.
 */
export async function resolveModelSource(source: string, options: ModelSourceOptions): Promise<string> {
  const trimmed = source.trim();
  if (trimmed === "") throw new ModelError("MODEL_NOT_CONFIGURED", "No model is configured. Set the model to a .gguf file path or an hf: URI.");
  if (!isRemoteModelSource(trimmed)) return (await checkModelFile(trimmed)).path;
  if (options.signal?.aborted) throw new AbortedError({ cause: options.signal.reason });
  let path: string;
  try {
    path = await resolveModelFile(trimmed, {
      directory: options.modelsDir,
      download: options.noDownload ? false : "auto",
      cli: false,
      signal: options.signal,
      ...(options.huggingFaceToken ? { tokens: { huggingFace: options.huggingFaceToken } } : {}),
      onProgress: options.onProgress
        ? ({ totalSize, downloadedSize }) => options.onProgress?.({ totalBytes: totalSize, downloadedBytes: downloadedSize })
        : undefined,
    });
  } catch (err) {
    if (options.signal?.aborted) throw new AbortedError({ cause: err });
    if (options.noDownload) {
      throw new ModelError(
        "MODEL_NOT_DOWNLOADED",
        `The model ${trimmed} is not in ${options.modelsDir} and downloads are turned off. Download it once with network access (run Hearth without the offline/no-download option), or point the model setting at a local .gguf file.`,
        { cause: err },
      );
    }
    throw new ModelError(
      "MODEL_DOWNLOAD_FAILED",
      `Could not download the model ${trimmed}: ${err instanceof Error ? err.message : String(err)}. Check the URI and the network connection (gated models need a Hugging Face token).`,
      { cause: err },
    );
  }
  log.info({ source: trimmed, path }, "model resolved");
  return (await checkModelFile(path)).path;
}
