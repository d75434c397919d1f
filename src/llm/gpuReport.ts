import { GgufInsights, getLlama, readGgufFileInfo, type Llama } from "node-llama-cpp";
import { AbortedError, ModelError } from "../core/errors.ts";
import { checkModelFile } from "./modelSource.ts";

/**
 * Hardware facts for `hearth doctor`: which llama.cpp backend would be used, the GPUs, memory,
 * and whether the configured model fits with the configured context size and GPU layers.
 * Returns plain data; the CLI formats it.
 */

/** Options of {@link gpuReport}. */
export interface GpuReportOptions {
  /** Backend as configured (same meaning as the engine option). Default "auto". */
  gpu?: "auto" | "cuda" | "vulkan" | "metal" | false;
  /** A local GGUF file to check (resolve `hf:` URIs first). */
  modelPath?: string;
  /** Context size per conversation, as configured. Default 4096. */
  contextSize?: number;
  /** Conversations kept warm (sequences). Default 2. */
  maxSequences?: number;
  /** GPU layers as configured. Default "auto". */
  gpuLayers?: "auto" | "max" | number;
  /** Reuse a node-llama-cpp instance (not disposed). */
  llama?: Llama;
  signal?: AbortSignal;
}

/** Memory amounts in bytes. */
export interface MemoryState {
  totalBytes: number;
  freeBytes: number;
}

/** Whether and how a model fits. */
export interface ModelFit {
  path: string;
  fileBytes: number;
  architecture: string | undefined;
  /** Layers of the model (plus the output layer, as llama.cpp counts for offloading). */
  totalLayers: number;
  trainContextSize: number | undefined;
  parameters: number;
  /** GPU layers the configuration resolves to on this machine. */
  gpuLayers: number;
  contextSize: number;
  sequences: number;
  /** node-llama-cpp's GgufInsights estimates. */
  estimate: { modelRamBytes: number; modelVramBytes: number; contextRamBytes: number; contextVramBytes: number };
  fitsVram: boolean;
  fitsRam: boolean;
  /** What to change when it does not fit (empty when it fits). */
  advice: string[];
  warnings: string[];
}

/** Everything `hearth doctor` shows about the LLM hardware. */
export interface GpuReport {
  /** Backend node-llama-cpp picked: "cuda", "vulkan", "metal" or "cpu". */
  backend: "cuda" | "vulkan" | "metal" | "cpu";
  supportsGpuOffloading: boolean;
  deviceNames: string[];
  /** undefined on CPU-only. */
  vram: MemoryState | undefined;
  ram: MemoryState;
  cpuMathCores: number;
  llamaCppRelease: string;
  model: ModelFit | undefined;
}

/** Gather the report. Throws ModelError when the backend or the model file cannot be inspected. */
export async function gpuReport(options: GpuReportOptions = {}): Promise<GpuReport> {
  const owns = options.llama === undefined;
  let llama = options.llama;
  if (!llama) {
    try {
      llama = await getLlama({ gpu: options.gpu ?? "auto", build: "never", progressLogs: false });
    } catch (err) {
      throw new ModelError("LLM_BACKEND_UNAVAILABLE", `The ${options.gpu === false ? "CPU" : (options.gpu ?? "auto")} llama.cpp backend is not available here. Set the GPU option to "auto" or false.`, { cause: err });
    }
  }
  try {
    const backend = llama.gpu === false ? "cpu" : llama.gpu;
    const ramState = await llama.getRamState();
    const ram = { totalBytes: ramState.total, freeBytes: ramState.free };
    let vram: MemoryState | undefined;
    let deviceNames: string[] = [];
    if (llama.gpu !== false) {
      const v = await llama.getVramState();
      vram = { totalBytes: v.total, freeBytes: v.free };
      deviceNames = await llama.getGpuDeviceNames();
    }
    const model = options.modelPath ? await modelFit(llama, options, vram, ram) : undefined;
    return {
      backend,
      supportsGpuOffloading: llama.supportsGpuOffloading,
      deviceNames,
      vram,
      ram,
      cpuMathCores: llama.cpuMathCores,
      llamaCppRelease: `${llama.llamaCppRelease.repo}@${llama.llamaCppRelease.release}`,
      model,
    };
  } finally {
    if (owns) await llama.dispose();
  }
}

async function modelFit(llama: Llama, options: GpuReportOptions, vram: MemoryState | undefined, ram: MemoryState): Promise<ModelFit> {
  const file = await checkModelFile(options.modelPath!);
  if (options.signal?.aborted) throw new AbortedError({ cause: options.signal.reason });
  let insights: GgufInsights;
  try {
    insights = await GgufInsights.from(await readGgufFileInfo(file.path, { signal: options.signal }), llama);
  } catch (err) {
    if (options.signal?.aborted) throw new AbortedError({ cause: err });
    throw new ModelError("MODEL_NOT_GGUF", `Cannot read the GGUF header of ${file.path}: ${err instanceof Error ? err.message : String(err)}. The file may be damaged or incomplete; download it again.`, { cause: err });
  }
  const contextSize = options.contextSize ?? 4096;
  const sequences = options.maxSequences ?? 2;
  const advice: string[] = [];
  let gpuLayers: number;
  try {
    gpuLayers = await insights.configurationResolver.resolveModelGpuLayers(options.gpuLayers ?? "auto", {
      getVramState: async () => ({ total: vram?.totalBytes ?? 0, free: vram?.freeBytes ?? 0 }),
      llamaGpu: llama.gpu,
      llamaSupportsGpuOffloading: llama.supportsGpuOffloading,
    });
  } catch {
    // A fixed layer count that does not fit makes the resolver throw; report it instead.
    gpuLayers = typeof options.gpuLayers === "number" ? options.gpuLayers : insights.totalLayers;
    advice.push("The configured GPU layers do not fit in free VRAM: lower gpuLayers or use \"auto\".");
  }
  const modelRes = await insights.estimateModelResourceRequirementsV2({ gpuLayers });
  const ctxRes = await insights.estimateContextResourceRequirementsV2({ contextSize, modelGpuLayers: gpuLayers, sequences });
  const vramNeeded = modelRes.gpuVram + ctxRes.gpuVram;
  const ramNeeded = modelRes.cpuRam + ctxRes.cpuRam;
  const fitsVram = vramNeeded === 0 || (vram !== undefined && vramNeeded <= vram.freeBytes);
  // Weights are memory-mapped, so the page cache can hold them; free RAM is the honest bound.
  const fitsRam = ramNeeded <= ram.freeBytes;
  if (!fitsVram) advice.push(`Needs about ${gib(vramNeeded)} of VRAM but ${gib(vram?.freeBytes ?? 0)} is free: lower gpuLayers, the context size or the number of warm chats, or use a smaller quantization.`);
  if (!fitsRam) advice.push(`Needs about ${gib(ramNeeded)} of RAM but ${gib(ram.freeBytes)} is free: use a smaller model or quantization, or lower the context size.`);
  const trainContextSize = insights.trainContextSize;
  if (trainContextSize !== undefined && contextSize > trainContextSize) advice.push(`The context size ${contextSize} is larger than the model was trained for (${trainContextSize}); answers may degrade.`);
  return {
    path: file.path,
    fileBytes: file.sizeBytes,
    architecture: insights.ggufFileInfo.metadata.general?.architecture,
    totalLayers: insights.totalLayers,
    trainContextSize,
    parameters: insights.totalParameters,
    gpuLayers,
    contextSize,
    sequences,
    estimate: { modelRamBytes: modelRes.cpuRam, modelVramBytes: modelRes.gpuVram, contextRamBytes: ctxRes.cpuRam, contextVramBytes: ctxRes.gpuVram },
    fitsVram,
    fitsRam,
    advice,
    warnings: insights.getWarnings(file.path),
  };
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(bytes < 1024 ** 3 ? 2 : 1)} GiB`;
}
