import { basename } from "node:path";
import {
  getLlama,
  LlamaChat,
  resolveChatWrapper,
  type ChatWrapper,
  SpecialToken,
  SpecialTokensText,
  type LlamaText,
  type ChatHistoryItem,
  type ChatModelFunctions,
  type ChatModelResponse,
  type Llama,
  type LlamaChatResponseFunctionCall,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaJsonSchemaGrammar,
  type LlamaTextJSON,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { AbortedError, HearthError, InputError, ModelError, isAbortError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";
import type { ChatRequest, ChatResult, ChatTurn, JsonRequest, LlmEngine, ModelFunction, PromptTraceEntry } from "./engine.ts";
import { fitTurns, type TrimPoint } from "./fitTurns.ts";
import { checkModelFile } from "./modelSource.ts";
import { WarmSlotPool } from "./warmSlotPool.ts";

/**
 * {@link LlmEngine} running a GGUF model in-process through node-llama-cpp (llama.cpp).
 *
 * Warm sequences: the context is created with `maxSequences` sequences and every conversation
 * (`sessionKey`) keeps one of them. A follow-up turn sends the full history again; node-llama-cpp
 * compares it token by token with what the sequence already holds and evaluates only the new
 * suffix, so the time to first token stays small however long the chat is. When every sequence is
 * busy, requests wait in FIFO order (abortable); a new conversation takes the least recently used
 * idle sequence, which is cleared first.
 *
 * Context overflow policy: the system prompt (with tool descriptions) and the newest turns are
 * kept; whole oldest turns are dropped. The budget is 90 % of the context minus room for the
 * answer (`min(maxTokens, context/4)`). When trimming is needed it trims down to 60 % of that
 * budget and remembers where it cut, so the next few turns start at the same turn and keep
 * their warm prefix instead of shifting (and re-evaluating) every turn. A newest user message
 * that cannot fit on its own is refused with an InputError rather than silently cut.
 * node-llama-cpp's own context shift remains as the fallback when a long answer overflows
 * mid-generation.
 */

const log = getLogger("llm");

/** Options of {@link LlamaCppEngine.create}. */
export interface LlamaCppEngineOptions {
  /** Local GGUF file (resolve `hf:` URIs first with `resolveModelSource`). */
  modelPath: string;
  /** Compute backend; `"auto"` picks CUDA/Vulkan/Metal when available, `false` forces CPU. Default "auto". */
  gpu?: "auto" | "cuda" | "vulkan" | "metal" | false;
  /** Layers to offload to the GPU. Default "auto" (as many as fit with the context). */
  gpuLayers?: "auto" | "max" | number;
  /** Context window per conversation, in tokens. Default 4096. `"auto"` = as large as memory allows. */
  contextSize?: "auto" | number;
  /** Conversations kept warm at once (= sequences of the context). Default 2. */
  maxSequences?: number;
  /** Tokens evaluated per batch. Default node-llama-cpp's (512). */
  batchSize?: number;
  /** CPU threads for evaluation. Default node-llama-cpp's (all math cores). */
  threads?: number;
  /**
   * Split of the model across several GPUs, e.g. `[1, 1]` for two equal cards. node-llama-cpp 3.22
   * does not expose llama.cpp's `tensor_split`, so this is currently only logged: llama.cpp then
   * spreads layers over all visible GPUs by their free memory (restrict with CUDA_VISIBLE_DEVICES).
   */
  tensorSplit?: number[];
  /** Flash attention. Default "auto" (on when model and backend support it). */
  flashAttention?: boolean | "auto";
  /** Sampling temperature when the request gives none. Default 0.7. */
  temperature?: number;
  /** Generated tokens per answer when the request gives none. Default 1024. */
  maxTokens?: number;
  /** Most function-call rounds per answer before the model must reply in text. Default 8. */
  maxFunctionRounds?: number;
  /** Share an existing node-llama-cpp instance (it is not disposed with the engine). */
  llama?: Llama;
}

interface SlotState {
  chat: LlamaChat;
  sequence: LlamaContextSequence;
  /** Index and text of the first turn kept after the last trim (see the overflow policy). */
  trim?: TrimPoint;
  /** What node-llama-cpp reported after this slot's last answer, to carry the window forward. */
  last?: { cleanHistory: ChatHistoryItem[]; contextWindow: ChatHistoryItem[]; shiftMetadata: unknown };
}

// Runtime schemas are not statically known, so the grammar's parse result is `unknown`-ish.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type SchemaGrammar = LlamaJsonSchemaGrammar<any>;

const JSON_SESSION = "\u0000json";

/** LlmEngine backed by node-llama-cpp; create with {@link LlamaCppEngine.create}. */
export class LlamaCppEngine implements LlmEngine {
  readonly description: string;
  readonly contextSize: number;
  private readonly llama: Llama;
  private readonly ownsLlama: boolean;
  private readonly model: LlamaModel;
  private readonly context: LlamaContext;
  private readonly pool: WarmSlotPool<SlotState>;
  private readonly listeners: Array<(entry: PromptTraceEntry) => void> = [];
  private readonly grammars = new Map<string, SchemaGrammar>();
  private readonly temperature: number;
  private readonly maxTokens: number;
  private readonly maxFunctionRounds: number;
  private disposed = false;
  /** Aborted by dispose() so running generations stop before the context goes away. */
  private readonly shutdown = new AbortController();
  private readonly running = new Set<Promise<unknown>>();

  private constructor(init: {
    llama: Llama;
    ownsLlama: boolean;
    model: LlamaModel;
    context: LlamaContext;
    options: LlamaCppEngineOptions;
  }) {
    this.llama = init.llama;
    this.ownsLlama = init.ownsLlama;
    this.model = init.model;
    this.context = init.context;
    this.contextSize = init.context.contextSize;
    this.temperature = init.options.temperature ?? 0.7;
    this.maxTokens = init.options.maxTokens ?? 1024;
    this.maxFunctionRounds = init.options.maxFunctionRounds ?? 8;
    const backend = init.llama.gpu === false ? "CPU" : init.llama.gpu;
    this.description = `llama.cpp (${backend}) · ${basename(init.options.modelPath)} · ctx ${this.contextSize} × ${init.context.totalSequences}`;
    // Resolving the wrapper renders the model's Jinja template against known formats (~100 ms);
    // do it once, not per sequence.
    const chatWrapper: ChatWrapper = resolveChatWrapper(init.model);
    this.pool = new WarmSlotPool<SlotState>({
      capacity: init.context.totalSequences,
      create: () => {
        const sequence = this.context.getSequence();
        return { sequence, chat: new LlamaChat({ contextSequence: sequence, chatWrapper }) };
      },
    });
  }

  /**
   * Load the model and create the shared context. Throws ModelError with a fix-it message when
   * the file is missing, unreadable, not GGUF, or cannot be loaded on the chosen backend.
   */
  static async create(options: LlamaCppEngineOptions, signal?: AbortSignal): Promise<LlamaCppEngine> {
    const file = await checkModelFile(options.modelPath);
    if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
    const maxSequences = options.maxSequences ?? 2;
    if (!Number.isInteger(maxSequences) || maxSequences < 1) {
      throw new ModelError("LLM_BAD_OPTION", `maxSequences must be a whole number ≥ 1 (got ${maxSequences}).`);
    }
    if (options.tensorSplit && options.tensorSplit.length > 0) {
      log.warn({ tensorSplit: options.tensorSplit }, "tensorSplit is not supported by node-llama-cpp 3.22; llama.cpp splits layers across visible GPUs by free memory");
    }

    let llama = options.llama;
    const ownsLlama = llama === undefined;
    if (!llama) {
      const gpu = options.gpu ?? "auto";
      try {
        // "never": use the prebuilt or a locally built binary; compiling llama.cpp at bot start-up
        // would take minutes and need a toolchain, so it is an explicit admin step instead.
        llama = await getLlama({ gpu, build: "never", progressLogs: false });
      } catch (err) {
        throw new ModelError(
          "LLM_BACKEND_UNAVAILABLE",
          `The ${gpu === false ? "CPU" : gpu} llama.cpp backend is not available on this machine. Set the GPU option to "auto" or false, or build it with "npx --no node-llama-cpp source download --gpu ${gpu === false ? "false" : gpu}".`,
          { cause: err },
        );
      }
    }

    let model: LlamaModel | undefined;
    try {
      model = await llama.loadModel({
        modelPath: file.path,
        gpuLayers: options.gpuLayers ?? "auto",
        ...(options.flashAttention !== undefined ? { defaultContextFlashAttention: options.flashAttention } : {}),
        loadSignal: signal,
      });
      const context = await model.createContext({
        contextSize: options.contextSize ?? 4096,
        sequences: maxSequences,
        ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        ...(options.flashAttention !== undefined ? { flashAttention: options.flashAttention } : {}),
        createSignal: signal,
      });
      const engine = new LlamaCppEngine({ llama, ownsLlama, model, context, options });
      log.info({ model: file.path, sizeBytes: file.sizeBytes, contextSize: engine.contextSize, sequences: maxSequences, gpu: llama.gpu }, "llm engine ready");
      return engine;
    } catch (err) {
      await model?.dispose().catch(() => undefined);
      if (ownsLlama) await llama.dispose().catch(() => undefined);
      if (signal?.aborted) throw new AbortedError({ cause: err });
      const detail = err instanceof Error ? err.message : String(err);
      throw new ModelError(
        "MODEL_LOAD_FAILED",
        `Could not load the model ${file.path}: ${detail}. If memory is short, lower the context size, the number of warm chats or gpuLayers; if the file is damaged, download it again.`,
        { cause: err },
      );
    }
  }

  /** The underlying node-llama-cpp model (for benchmarks and diagnostics). */
  get llamaModel(): LlamaModel {
    return this.model;
  }

  onPrompt(listener: (entry: PromptTraceEntry) => void): void {
    this.listeners.push(listener);
  }

  countTokens(text: string): number {
    return this.model.tokenize(text).length;
  }

  async forgetSession(sessionKey: string): Promise<void> {
    const slot = this.pool.forget(sessionKey);
    if (slot) await this.resetSlot(slot);
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    this.assertUsable();
    const last = request.history.at(-1);
    if (!last || last.role !== "user") {
      throw new InputError("LLM_BAD_REQUEST", "There is nothing to answer: the conversation must end with a message from the user.");
    }
    this.assertFits(request.systemPrompt, last.text, request.maxTokens ?? this.maxTokens);
    return this.track(async () => {
      const signal = this.linkedSignal(request.signal);
      const lease = await this.pool.acquire(request.sessionKey, signal);
      try {
        const slot = lease.value;
        if (lease.reassigned) await this.resetSlot(slot);
        return await this.answer(slot, { ...request, signal });
      } finally {
        lease.release();
      }
    });
  }

  /** Run `work` as an in-flight operation that dispose() waits for. */
  private async track<T>(work: () => Promise<T>): Promise<T> {
    const promise = work();
    this.running.add(promise);
    try {
      return await promise;
    } finally {
      this.running.delete(promise);
    }
  }

  /** The caller's signal combined with the engine's shutdown signal. */
  private linkedSignal(signal: AbortSignal | undefined): AbortSignal {
    return signal ? AbortSignal.any([signal, this.shutdown.signal]) : this.shutdown.signal;
  }

  async json(request: JsonRequest): Promise<unknown> {
    this.assertUsable();
    this.assertFits(request.systemPrompt, request.prompt, request.maxTokens ?? this.maxTokens);
    const grammar = await this.grammarFor(request.schema);
    return this.track(() => this.jsonOnSlot({ ...request, signal: this.linkedSignal(request.signal) }, grammar));
  }

  private async jsonOnSlot(request: JsonRequest, grammar: SchemaGrammar): Promise<unknown> {
    const lease = await this.pool.acquire(JSON_SESSION, request.signal);
    try {
      const slot = lease.value;
      if (lease.reassigned) await this.resetSlot(slot);
      // A fresh history each time; the shared system prompt prefix still stays warm in this slot.
      const history: ChatHistoryItem[] = [
        { type: "system", text: request.systemPrompt },
        { type: "user", text: request.prompt },
        { type: "model", response: [] },
      ];
      this.emitPrompt("json", slot.chat, history, undefined);
      let res;
      try {
        res = await slot.chat.generateResponse(history, {
          grammar,
          maxTokens: request.maxTokens ?? this.maxTokens,
          temperature: 0,
          signal: request.signal,
        });
      } catch (err) {
        throw await this.generationFailure(slot, err, request.signal);
      }
      if (res.metadata.stopReason === "maxTokens") {
        throw new ModelError("MODEL_JSON_INCOMPLETE", "The model's structured answer was cut off before it was complete. Raise the token limit for this request or simplify the schema.");
      }
      try {
        return grammar.parse(res.response);
      } catch (err) {
        throw new ModelError("MODEL_JSON_INVALID", "The model's structured answer was not valid JSON for the requested schema. Try again.", { cause: err });
      }
    } finally {
      lease.release();
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const reason = new ModelError("LLM_DISPOSED", "The language model was shut down.");
    this.pool.close(reason);
    this.shutdown.abort(reason);
    await Promise.allSettled([...this.running]);
    await this.context.dispose();
    await this.model.dispose();
    if (this.ownsLlama) await this.llama.dispose();
  }

  /**
   * Old turns can be dropped to fit, but the newest message cannot: node-llama-cpp's context
   * shift would silently cut or drop it. Refuse that case with a message the user can act on.
   */
  private assertFits(systemPrompt: string, lastUserText: string, maxTokens: number): void {
    // Room for the answer (up to a quarter of the context) and node-llama-cpp's 10 % shift margin.
    const budget = Math.floor(this.contextSize * 0.9) - Math.min(maxTokens, Math.floor(this.contextSize / 4));
    const system = this.countTokens(systemPrompt);
    const message = this.countTokens(lastUserText);
    if (system + message + 16 > budget) {
      if (system + 16 > budget / 2) {
        throw new ModelError("LLM_CONTEXT_TOO_SMALL", `The system prompt (${system} tokens) leaves too little room in the model's context window (${this.contextSize} tokens). Raise the context size or shorten the system prompt.`);
      }
      throw new InputError("LLM_MESSAGE_TOO_LONG", `That message is too long for the language model (about ${message} tokens; at most ${Math.max(0, budget - system - 16)} fit). Please send a shorter message or split it into parts.`);
    }
  }

  private assertUsable(): void {
    if (this.disposed) throw new ModelError("LLM_DISPOSED", "The language model was shut down.");
  }

  private async resetSlot(slot: SlotState): Promise<void> {
    slot.last = undefined;
    slot.trim = undefined;
    await slot.sequence.clearHistory();
  }

  private async answer(slot: SlotState, request: ChatRequest): Promise<ChatResult> {
    const { signal } = request;
    const functions = request.functions ? toModelFunctions(request.functions) : undefined;
    const turns = this.fitTurns(slot, request, functions);
    let history = toChatHistory(request.systemPrompt, turns);
    let window = carriedWindow(slot.last, history);
    let shiftMetadata = window ? slot.last?.shiftMetadata : undefined;
    const tokensBefore = slot.sequence.contextTokens;
    let remaining = request.maxTokens ?? this.maxTokens;
    // The sequence's meter also counts function-call tokens, which onToken does not report.
    const outputBefore = slot.sequence.tokenMeter.usedOutputTokens;
    let evaluatedPromptTokens: number | undefined;
    let stopReason: ChatResult["stopReason"] = "other";

    for (let round = 0; ; round++) {
      const calls: Array<LlamaChatResponseFunctionCall<ChatModelFunctions>> = [];
      const allowFunctions = functions !== undefined && round < this.maxFunctionRounds;
      let res;
      try {
        res = await slot.chat.generateResponse(history, {
          onTextChunk: guardCallback(request.onTextChunk),
          signal,
          stopOnAbortSignal: true,
          maxTokens: Math.max(1, remaining),
          temperature: request.temperature ?? this.temperature,
          contextShift: { lastEvaluationMetadata: shiftMetadata as object | null | undefined },
          lastEvaluationContextWindow: { history: window, minimumOverlapPercentageToPreventContextShift: 0.5 },
          ...(allowFunctions ? { functions, onFunctionCall: (call: LlamaChatResponseFunctionCall<ChatModelFunctions>) => void calls.push(call) } : {}),
        });
      } catch (err) {
        throw await this.generationFailure(slot, err, signal);
      }
      remaining = (request.maxTokens ?? this.maxTokens) - (slot.sequence.tokenMeter.usedOutputTokens - outputBefore);
      const { cleanHistory, contextWindow, contextShiftMetadata } = res.lastEvaluation;
      if (round === 0) {
        // The window node-llama-cpp actually evaluated, with the answer removed, is the prompt.
        const promptTokens = this.emitPrompt(request.sessionKey, slot.chat, withEmptyAnswer(contextWindow), functions);
        evaluatedPromptTokens = promptTokens.length - commonPrefixLength(tokensBefore, promptTokens);
      }
      slot.last = { cleanHistory, contextWindow, shiftMetadata: contextShiftMetadata };
      stopReason = mapStopReason(res.metadata.stopReason);

      if (calls.length === 0 || signal?.aborted) break;
      history = cleanHistory;
      window = contextWindow;
      shiftMetadata = contextShiftMetadata;
      const definitions = request.functions ?? {};
      let first = true;
      for (const call of calls) {
        const result = await runFunction(definitions, call, signal);
        if (signal?.aborted) break;
        const item = { name: call.functionName, description: definitions[call.functionName]?.description, params: call.params, result, rawCall: call.raw, startsNewChunk: first };
        history = appendFunctionCall(history, item);
        window = appendFunctionCall(window, item);
        first = false;
      }
      if (signal?.aborted) {
        stopReason = "abort";
        break;
      }
      if (remaining <= 0) {
        stopReason = "maxTokens";
        break;
      }
      slot.last = { cleanHistory: history, contextWindow: window, shiftMetadata };
    }

    const lastItem = slot.last?.cleanHistory.at(-1);
    const text = lastItem?.type === "model" ? lastItem.response.filter((r): r is string => typeof r === "string").join("") : "";
    if (signal?.aborted) stopReason = "abort";
    return { text, generatedTokens: slot.sequence.tokenMeter.usedOutputTokens - outputBefore, evaluatedPromptTokens, stopReason };
  }

  /** The newest turns that fit the context (see the overflow policy in the class comment). */
  private fitTurns(slot: SlotState, request: ChatRequest, functions: ChatModelFunctions | undefined): ChatTurn[] {
    const turns = request.history;
    const maxTokens = request.maxTokens ?? this.maxTokens;
    const budget = Math.floor(this.contextSize * 0.9) - Math.min(maxTokens, Math.floor(this.contextSize / 4));
    const systemItems: ChatHistoryItem[] = request.systemPrompt === "" ? [] : [{ type: "system", text: request.systemPrompt }];
    const fixed = slot.chat.chatWrapper
      .generateContextState({ chatHistory: [...systemItems, { type: "model", response: [] }], availableFunctions: functions })
      .contextText.tokenize(this.model.tokenizer).length;
    // Per-turn template overhead (role markers, newlines) is small; 8 tokens covers ChatML-likes.
    const fit = fitTurns(turns, { fixedTokens: fixed, budget, cost: (t) => this.countTokens(t.text) + 8, previous: slot.trim });
    if (fit.dropped > 0 && fit.trim?.start !== slot.trim?.start) {
      log.debug({ sessionKey: request.sessionKey, dropped: fit.dropped }, "dropped oldest turns to fit the context");
    }
    slot.trim = fit.trim;
    return fit.turns;
  }

  /** Render `history` exactly as the chat wrapper evaluates it and hand it to the listeners. */
  private emitPrompt(sessionKey: string, chat: LlamaChat, history: ChatHistoryItem[], functions: ChatModelFunctions | undefined) {
    const { contextText } = chat.chatWrapper.generateContextState({ chatHistory: history, availableFunctions: functions });
    const tokens = contextText.tokenize(this.model.tokenizer);
    if (this.listeners.length > 0) {
      const prompt = this.renderText(contextText);
      for (const listener of this.listeners) {
        try {
          listener({ sessionKey, prompt });
        } catch (err) {
          log.warn({ err }, "prompt listener failed");
        }
      }
    }
    return tokens;
  }

  /**
   * LlamaText as the model sees it: special tokens written as their vocabulary text ("<s>",
   * "<|im_start|>") rather than LlamaText's placeholder names, so that tokenizing the result with
   * special tokens enabled gives back the evaluated tokens.
   */
  private renderText(text: LlamaText): string {
    let out = "";
    for (const value of text.values) {
      if (typeof value === "string") out += value;
      else if (value instanceof SpecialTokensText) out += value.value;
      else if (value instanceof SpecialToken) out += this.model.detokenize(value.tokenize(this.model.tokenizer), true);
    }
    return out;
  }

  private async grammarFor(schema: Record<string, unknown>): Promise<SchemaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.grammars.get(key);
    if (!grammar) {
      try {
        // The cast: node-llama-cpp types the schema statically; ours arrives as runtime data.
        grammar = await this.llama.createGrammarForJsonSchema(schema as Parameters<Llama["createGrammarForJsonSchema"]>[0]);
      } catch (err) {
        throw new ModelError("LLM_SCHEMA_UNSUPPORTED", `The JSON schema cannot be turned into a grammar: ${err instanceof Error ? err.message : String(err)}. Simplify the schema (node-llama-cpp supports a subset of JSON schema).`, { cause: err });
      }
      // Few distinct schemas exist (receipts, commands); the cap only guards against misuse.
      if (this.grammars.size >= 32) this.grammars.delete(this.grammars.keys().next().value!);
      this.grammars.set(key, grammar);
    }
    return grammar;
  }

  /** Turn a failure inside node-llama-cpp into a HearthError, dropping the slot's possibly inconsistent state. */
  private async generationFailure(slot: SlotState, err: unknown, signal: AbortSignal | undefined): Promise<HearthError> {
    slot.last = undefined;
    if (this.shutdown.signal.aborted) return new ModelError("LLM_DISPOSED", "The language model was shut down.", { cause: err });
    if (signal?.aborted || isAbortError(err)) return new AbortedError({ cause: err });
    if (err instanceof HearthError) return err;
    if (err instanceof Error && /does not fit|fits the context size|context size is too small|too long/i.test(err.message)) {
      return new ModelError(
        "LLM_CONTEXT_TOO_SMALL",
        `The system prompt, tools and latest message do not fit in the model's context window (${this.contextSize} tokens). Raise the context size or shorten the system prompt.`,
        { cause: err },
      );
    }
    await slot.sequence.clearHistory().catch(() => undefined);
    log.error({ err }, "generation failed");
    return new ModelError("MODEL_GENERATION_FAILED", "The language model failed while answering. Try again; if it keeps failing, check the logs and the model settings.", { cause: err });
  }
}

/** A throwing stream listener must not break generation (and leave the sequence half-evaluated). */
function guardCallback(fn: ((chunk: string) => void) | undefined): ((chunk: string) => void) | undefined {
  if (!fn) return undefined;
  return (chunk) => {
    try {
      fn(chunk);
    } catch (err) {
      log.warn({ err }, "onTextChunk listener failed");
    }
  };
}

function toChatHistory(systemPrompt: string, turns: ChatTurn[]): ChatHistoryItem[] {
  const items: ChatHistoryItem[] = [];
  if (systemPrompt !== "") items.push({ type: "system", text: systemPrompt });
  for (const turn of turns) {
    if (turn.role === "system") items.push({ type: "system", text: turn.text });
    else if (turn.role === "user") items.push({ type: "user", text: turn.text });
    else items.push({ type: "model", response: [turn.text] });
  }
  items.push({ type: "model", response: [] });
  return items;
}

function toModelFunctions(functions: Record<string, ModelFunction>): ChatModelFunctions {
  const out: Record<string, { description?: string; params?: unknown }> = {};
  for (const [name, fn] of Object.entries(functions)) out[name] = { description: fn.description, params: fn.parameters };
  return out as ChatModelFunctions;
}

/** Text-only view of a history item, to compare what we sent last time with what arrives now. */
function itemKey(item: ChatHistoryItem): string {
  if (item.type === "model") return "m:" + JSON.stringify(item.response.map((r) => (typeof r === "string" ? r : r.type === "functionCall" ? { f: r.name } : { s: r.text })));
  return item.type[0] + ":" + item.text;
}

/**
 * When the new history is the previous one plus new turns, continue from the previous (possibly
 * shifted) context window so the warm tokens match; otherwise let node-llama-cpp start over.
 */
function carriedWindow(last: SlotState["last"], history: ChatHistoryItem[]): ChatHistoryItem[] | undefined {
  if (!last || last.cleanHistory.length >= history.length) return undefined;
  for (let i = 0; i < last.cleanHistory.length; i++) {
    if (itemKey(last.cleanHistory[i]!) !== itemKey(history[i]!)) return undefined;
  }
  return [...last.contextWindow, ...history.slice(last.cleanHistory.length)];
}

function withEmptyAnswer(window: ChatHistoryItem[]): ChatHistoryItem[] {
  const copy = window.slice();
  if (copy.at(-1)?.type === "model") copy[copy.length - 1] = { type: "model", response: [] };
  return copy;
}

function appendFunctionCall(
  history: ChatHistoryItem[],
  call: { name: string; description: string | undefined; params: unknown; result: string; rawCall: unknown; startsNewChunk: boolean },
): ChatHistoryItem[] {
  const copy = history.slice();
  const lastItem = copy.at(-1);
  const model: ChatModelResponse = lastItem?.type === "model" ? { ...lastItem, response: lastItem.response.slice() } : { type: "model", response: [] };
  if (lastItem?.type === "model") copy[copy.length - 1] = model;
  else copy.push(model);
  model.response.push({
    type: "functionCall",
    name: call.name,
    description: call.description,
    params: call.params,
    result: call.result,
    rawCall: call.rawCall as LlamaTextJSON,
    ...(call.startsNewChunk ? { startsNewChunk: true } : {}),
  });
  return copy;
}

/** Run a model-requested function; failures are reported back to the model as text, not thrown. */
async function runFunction(definitions: Record<string, ModelFunction>, call: LlamaChatResponseFunctionCall<ChatModelFunctions>, signal: AbortSignal | undefined): Promise<string> {
  const fn = definitions[call.functionName];
  if (!fn) return `Error: there is no function named "${call.functionName}".`;
  try {
    return await fn.handler(call.params, signal);
  } catch (err) {
    if (signal?.aborted) return "Error: cancelled.";
    const message = err instanceof HearthError ? err.userMessage : "the function failed";
    log.warn({ err, function: call.functionName }, "model function failed");
    return `Error: ${message}`;
  }
}

function mapStopReason(reason: string): ChatResult["stopReason"] {
  switch (reason) {
    case "eogToken":
    case "stopGenerationTrigger":
    case "customStopTrigger":
      return "eos";
    case "maxTokens":
      return "maxTokens";
    case "abort":
      return "abort";
    case "functionCalls":
      return "functionCalls";
    default:
      return "other";
  }
}

function commonPrefixLength(a: readonly Token[], b: readonly Token[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
