import { AbortedError, HearthError, InputError, ModelError, ServiceError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";
import type { ChatRequest, ChatResult, ChatTurn, JsonRequest, LlmEngine, ModelFunction, PromptTraceEntry } from "./engine.ts";
import { fitTurns, type TrimPoint } from "./fitTurns.ts";
import { checkJsonSchema } from "./jsonSchemaCheck.ts";

/**
 * {@link LlmEngine} for any OpenAI-compatible `/v1/chat/completions` server (llama-server, vLLM,
 * Ollama, LocalAI…). Streams with server-sent events, calls tools in the OpenAI tools format and
 * asks for structured output with `response_format: json_schema`, falling back to `json_object`
 * and then to plain instructions for servers that support less (the answer is checked against
 * the schema either way).
 *
 * The API key is a value handed in by the caller (resolved from the vault); it only ever goes
 * into the Authorization header and is never logged or traced.
 */

const log = getLogger("llm");

/** Options of {@link OpenAiEngine}. */
export interface OpenAiEngineOptions {
  /** Base URL including `/v1`, e.g. `http://127.0.0.1:8080/v1`. */
  baseUrl: string;
  /** Model name the server expects. */
  model: string;
  /** Bearer token, if the server wants one (a resolved value, never a vault handle). */
  apiKey?: string;
  /** Context window of the served model, for trimming history. Default 8192. */
  contextSize?: number;
  /** Sampling temperature when the request gives none. Default 0.7. */
  temperature?: number;
  /** Generated tokens per answer when the request gives none. Default 1024. */
  maxTokens?: number;
  /** Give up when the server has not started answering after this long. Default 120000 ms. */
  timeoutMs?: number;
  /** Most tool-call rounds per answer. Default 8. */
  maxFunctionRounds?: number;
}

type JsonMode = "json_schema" | "json_object" | "prompt";

interface WireToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

type WireMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string | null; tool_calls?: WireToolCall[] }
  | { role: "tool"; tool_call_id: string; content: string };

interface StreamOutcome {
  text: string;
  toolCalls: WireToolCall[];
  finishReason: string | undefined;
  completionTokens: number | undefined;
  promptTokensEvaluated: number | undefined;
  chunks: number;
}

/** LlmEngine talking to an OpenAI-compatible HTTP server. */
export class OpenAiEngine implements LlmEngine {
  readonly description: string;
  readonly contextSize: number;
  private readonly endpoint: string;
  private readonly model: string;
  private readonly apiKey: string | undefined;
  private readonly temperature: number;
  private readonly maxTokens: number;
  private readonly timeoutMs: number;
  private readonly maxFunctionRounds: number;
  private readonly listeners: Array<(entry: PromptTraceEntry) => void> = [];
  private readonly trims = new Map<string, TrimPoint>();
  private jsonMode: JsonMode = "json_schema";
  private readonly inflight = new Set<AbortController>();

  constructor(options: OpenAiEngineOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch (err) {
      throw new ModelError("LLM_BAD_OPTION", `The model server URL "${options.baseUrl}" is not a valid URL. Use something like http://127.0.0.1:8080/v1.`, { cause: err });
    }
    if (url.username || url.password) {
      throw new ModelError("LLM_BAD_OPTION", "Put the model server's credentials in the API key setting (a vault handle), not in the URL.");
    }
    this.endpoint = `${url.href.replace(/\/+$/, "")}/chat/completions`;
    this.model = options.model;
    this.apiKey = options.apiKey;
    this.contextSize = options.contextSize ?? 8192;
    this.temperature = options.temperature ?? 0.7;
    this.maxTokens = options.maxTokens ?? 1024;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.maxFunctionRounds = options.maxFunctionRounds ?? 8;
    this.description = `OpenAI-compatible · ${options.model} @ ${url.host} · ctx ${this.contextSize}`;
  }

  onPrompt(listener: (entry: PromptTraceEntry) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Estimate: the server's tokenizer is not available locally. About 3.5 characters per token
   * for English and code errs on the high side, which is the safe side for trimming.
   */
  countTokens(text: string): number {
    return Math.ceil(text.length / 3.5);
  }

  async forgetSession(sessionKey: string): Promise<void> {
    // Servers keep their own prompt caches; all we hold is where we last trimmed.
    this.trims.delete(sessionKey);
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const last = request.history.at(-1);
    if (!last || last.role !== "user") {
      throw new InputError("LLM_BAD_REQUEST", "There is nothing to answer: the conversation must end with a message from the user.");
    }
    if (request.signal?.aborted) throw new AbortedError({ cause: request.signal.reason });
    const maxTokens = request.maxTokens ?? this.maxTokens;
    const tools = request.functions ? toTools(request.functions) : undefined;
    const budget = Math.floor(this.contextSize * 0.9) - Math.min(maxTokens, Math.floor(this.contextSize / 4));
    const fixed = this.countTokens(request.systemPrompt) + (tools ? this.countTokens(JSON.stringify(tools)) : 0) + 8;
    if (fixed + this.countTokens(last.text) + 8 > budget) {
      throw new InputError("LLM_MESSAGE_TOO_LONG", "That message is too long for the language model. Please send a shorter message or split it into parts.");
    }
    const fit = fitTurns(request.history, { fixedTokens: fixed, budget, cost: (t) => this.countTokens(t.text) + 8, previous: this.trims.get(request.sessionKey) });
    if (fit.trim) this.trims.set(request.sessionKey, fit.trim);
    else this.trims.delete(request.sessionKey);

    const messages: WireMessage[] = [];
    if (request.systemPrompt !== "") messages.push({ role: "system", content: request.systemPrompt });
    for (const turn of fit.turns) messages.push(toWire(turn));

    let text = "";
    let generated = 0;
    let evaluated: number | undefined;
    let stopReason: ChatResult["stopReason"] = "other";
    for (let round = 0; ; round++) {
      const body: Record<string, unknown> = {
        model: this.model,
        messages,
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: Math.max(1, maxTokens - generated),
        temperature: request.temperature ?? this.temperature,
      };
      if (tools && round < this.maxFunctionRounds) body.tools = tools;
      if (round === 0) this.emit(request.sessionKey, body);
      let outcome: StreamOutcome;
      try {
        outcome = await this.stream(body, request.onTextChunk, request.signal);
      } catch (err) {
        // Aborted before this round's answer started: earlier rounds' text is still an answer.
        if (err instanceof AbortedError && text !== "") return { text, generatedTokens: generated, evaluatedPromptTokens: evaluated, stopReason: "abort" };
        throw err;
      }
      text += outcome.text;
      generated += outcome.completionTokens ?? outcome.chunks;
      if (round === 0) evaluated = outcome.promptTokensEvaluated;
      if (request.signal?.aborted) return { text, generatedTokens: generated, evaluatedPromptTokens: evaluated, stopReason: "abort" };
      stopReason = outcome.finishReason === "stop" ? "eos" : outcome.finishReason === "length" ? "maxTokens" : outcome.finishReason === "tool_calls" ? "functionCalls" : "other";
      if (outcome.toolCalls.length === 0 || !request.functions) break;

      messages.push({ role: "assistant", content: outcome.text === "" ? null : outcome.text, tool_calls: outcome.toolCalls });
      for (const call of outcome.toolCalls) {
        messages.push({ role: "tool", tool_call_id: call.id, content: await runTool(request.functions, call, request.signal) });
      }
      if (request.signal?.aborted) return { text, generatedTokens: generated, evaluatedPromptTokens: evaluated, stopReason: "abort" };
      if (generated >= maxTokens) {
        stopReason = "maxTokens";
        break;
      }
    }
    return { text, generatedTokens: generated, evaluatedPromptTokens: evaluated, stopReason };
  }

  async json(request: JsonRequest): Promise<unknown> {
    if (request.signal?.aborted) throw new AbortedError({ cause: request.signal.reason });
    for (;;) {
      const mode = this.jsonMode;
      const schemaText = JSON.stringify(request.schema);
      // Servers without schema support still get the schema, as an instruction.
      const system = mode === "json_schema" ? request.systemPrompt : `${request.systemPrompt}\n\nAnswer with only a JSON value matching this JSON schema:\n${schemaText}`;
      const body: Record<string, unknown> = {
        model: this.model,
        messages: [
          { role: "system", content: system },
          { role: "user", content: request.prompt },
        ],
        stream: false,
        max_tokens: request.maxTokens ?? this.maxTokens,
        temperature: 0,
      };
      if (mode === "json_schema") body.response_format = { type: "json_schema", json_schema: { name: "answer", schema: request.schema, strict: true } };
      if (mode === "json_object") body.response_format = { type: "json_object" };
      this.emit("json", body);
      let payload: { choices?: Array<{ message?: { content?: string | null }; finish_reason?: string }> };
      try {
        const { res, done } = await this.post(body, request.signal);
        try {
          payload = (await res.json()) as typeof payload;
        } catch (err) {
          if (request.signal?.aborted) throw new AbortedError({ cause: err });
          throw new ServiceError("LLM_SERVER_ERROR", "The model server sent a response that is not JSON. Check that the base URL points at an OpenAI-compatible API.", { cause: err });
        } finally {
          done();
        }
      } catch (err) {
        // A 400 that mentions response_format means "not supported here": degrade once and retry.
        if (err instanceof ServiceError && err.code === "LLM_SERVER_REJECTED" && mode !== "prompt" && /response_format|json_schema|json_object|grammar/i.test(err.message)) {
          this.jsonMode = mode === "json_schema" ? "json_object" : "prompt";
          log.warn({ from: mode, to: this.jsonMode }, "model server does not support this structured output mode; falling back");
          continue;
        }
        throw err;
      }
      const choice = payload.choices?.[0];
      if (choice?.finish_reason === "length") {
        throw new ModelError("MODEL_JSON_INCOMPLETE", "The model's structured answer was cut off before it was complete. Raise the token limit for this request or simplify the schema.");
      }
      const content = (choice?.message?.content ?? "").trim().replace(/^```(?:json)?\s*|\s*```$/g, "");
      let value: unknown;
      try {
        value = JSON.parse(content);
      } catch (err) {
        throw new ModelError("MODEL_JSON_INVALID", "The model's structured answer was not valid JSON. Try again, or use a model/server that supports JSON schema output.", { cause: err });
      }
      const mismatch = checkJsonSchema(value, request.schema);
      if (mismatch) throw new ModelError("MODEL_JSON_INVALID", `The model's structured answer did not match the expected shape (${mismatch}). Try again, or use a server that supports JSON schema output.`);
      return value;
    }
  }

  async dispose(): Promise<void> {
    for (const ac of this.inflight) ac.abort(new AbortedError());
    this.inflight.clear();
  }

  private emit(sessionKey: string, body: Record<string, unknown>): void {
    if (this.listeners.length === 0) return;
    const prompt = JSON.stringify(body, null, 2);
    for (const listener of this.listeners) {
      try {
        listener({ sessionKey, prompt });
      } catch (err) {
        log.warn({ err }, "prompt listener failed");
      }
    }
  }

  /** POST a request; maps network and HTTP failures to ServiceErrors that say how to fix them. */
  private async post(body: Record<string, unknown>, signal: AbortSignal | undefined): Promise<{ res: Response; done: () => void }> {
    const ac = new AbortController();
    this.inflight.add(ac);
    const onAbort = (): void => ac.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => ac.abort(new Error("timeout")), this.timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.inflight.delete(ac);
    };
    let res: Response;
    try {
      res = await fetch(this.endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: body.stream ? "text/event-stream" : "application/json",
          ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}),
        },
        body: JSON.stringify(body),
        signal: ac.signal,
      });
    } catch (err) {
      cleanup();
      if (signal?.aborted) throw new AbortedError({ cause: err });
      if (ac.signal.aborted) throw new ServiceError("LLM_SERVER_TIMEOUT", `The model server at ${this.endpoint} did not answer within ${Math.round(this.timeoutMs / 1000)} s. Check that it is running and not overloaded.`, { cause: err });
      throw new ServiceError("LLM_SERVER_UNREACHABLE", `Cannot reach the model server at ${this.endpoint}. Check that it is running and that the URL is right.`, { cause: err });
    }
    if (!res.ok) {
      const detail = (await res.text().catch(() => "")).slice(0, 500);
      cleanup();
      if (res.status === 401 || res.status === 403) {
        throw new ServiceError("LLM_SERVER_AUTH", `The model server refused the request (HTTP ${res.status}). Check the API key setting.`);
      }
      if (res.status === 404) {
        throw new ServiceError("LLM_SERVER_NOT_FOUND", `The model server answered 404 for ${this.endpoint}, or does not know the model "${this.model}". Check the base URL (it usually ends in /v1) and the model name.`);
      }
      if (res.status === 400 || res.status === 422) {
        const err = new ServiceError("LLM_SERVER_REJECTED", `The model server rejected the request (HTTP ${res.status}). Check the server log; the conversation may be too long for its context.`);
        // Keep the server's reason in the log message (no secrets in it) for the fallback logic.
        err.message = `HTTP ${res.status}: ${detail}`;
        throw err;
      }
      throw new ServiceError("LLM_SERVER_ERROR", `The model server failed (HTTP ${res.status}). Try again; if it persists, check the server's log.`);
    }
    // The timeout only covers "no answer yet"; a long streamed answer must not be cut.
    clearTimeout(timer);
    return { res, done: cleanup };
  }

  /** Send a streaming request and read the SSE stream to its end. */
  private async stream(body: Record<string, unknown>, onTextChunk: ((chunk: string) => void) | undefined, signal: AbortSignal | undefined): Promise<StreamOutcome> {
    const { res, done: cleanup } = await this.post(body, signal);
    const out: StreamOutcome = { text: "", toolCalls: [], finishReason: undefined, completionTokens: undefined, promptTokensEvaluated: undefined, chunks: 0 };
    const calls = new Map<number, WireToolCall>();
    try {
      if (!res.body) throw new ServiceError("LLM_SERVER_ERROR", "The model server sent an empty response. Check the server's log.");
      const decoder = new TextDecoder();
      let buffer = "";
      let data: string[] = [];
      const handleEvent = (payload: string): boolean => {
        if (payload === "[DONE]") return true;
        let chunk: StreamChunk;
        try {
          chunk = JSON.parse(payload) as StreamChunk;
        } catch {
          log.warn("model server sent an unparseable stream event; skipped");
          return false;
        }
        if (chunk.error) throw new ServiceError("LLM_SERVER_ERROR", `The model server reported an error while answering: ${String(chunk.error.message ?? "unknown")}.`);
        const choice = chunk.choices?.[0];
        const delta = choice?.delta;
        if (delta?.content) {
          out.text += delta.content;
          out.chunks++;
          try {
            onTextChunk?.(delta.content);
          } catch (err) {
            log.warn({ err }, "onTextChunk listener failed");
          }
        }
        for (const tc of delta?.tool_calls ?? []) {
          const index = tc.index ?? 0;
          const call = calls.get(index) ?? { id: tc.id ?? `call_${index}`, type: "function" as const, function: { name: "", arguments: "" } };
          if (tc.id) call.id = tc.id;
          if (tc.function?.name) call.function.name += tc.function.name;
          if (tc.function?.arguments) call.function.arguments += tc.function.arguments;
          calls.set(index, call);
          out.chunks++;
        }
        if (choice?.finish_reason) out.finishReason = choice.finish_reason;
        if (chunk.usage?.completion_tokens !== undefined) out.completionTokens = chunk.usage.completion_tokens;
        // llama-server reports how many prompt tokens it really evaluated (after its cache).
        if (chunk.timings?.prompt_n !== undefined) out.promptTokensEvaluated = chunk.timings.prompt_n;
        else if (chunk.usage?.prompt_tokens !== undefined && out.promptTokensEvaluated === undefined) {
          const cached = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
          out.promptTokensEvaluated = chunk.usage.prompt_tokens - cached;
        }
        return false;
      };
      const reader = res.body.getReader();
      let finished = false;
      while (!finished) {
        let read: Awaited<ReturnType<typeof reader.read>>;
        try {
          read = await reader.read();
        } catch (err) {
          // Aborted mid-answer: keep what arrived; the caller reports stopReason "abort".
          if (signal?.aborted) break;
          throw new ServiceError("LLM_SERVER_ERROR", "The connection to the model server broke while it was answering. Try again.", { cause: err });
        }
        if (read.done) break;
        buffer += decoder.decode(read.value, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, "");
          buffer = buffer.slice(nl + 1);
          if (line === "") {
            if (data.length > 0 && handleEvent(data.join("\n"))) finished = true;
            data = [];
          } else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          if (finished) break;
        }
      }
      if (!finished && data.length > 0) handleEvent(data.join("\n"));
      if (finished) await reader.cancel().catch(() => undefined);
    } finally {
      cleanup();
    }
    out.toolCalls = [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
    return out;
  }
}

interface StreamChunk {
  choices?: Array<{
    delta?: { content?: string | null; tool_calls?: Array<{ index?: number; id?: string; function?: { name?: string; arguments?: string } }> };
    finish_reason?: string | null;
  }>;
  usage?: { completion_tokens?: number; prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } };
  timings?: { prompt_n?: number };
  error?: { message?: unknown };
}

function toWire(turn: ChatTurn): WireMessage {
  return turn.role === "assistant" ? { role: "assistant", content: turn.text } : { role: turn.role, content: turn.text };
}

function toTools(functions: Record<string, ModelFunction>): unknown[] {
  return Object.entries(functions).map(([name, fn]) => ({
    type: "function",
    function: { name, description: fn.description, parameters: fn.parameters ?? { type: "object", properties: {} } },
  }));
}

/** Run one tool call; failures go back to the model as text so it can tell the user. */
async function runTool(functions: Record<string, ModelFunction>, call: WireToolCall, signal: AbortSignal | undefined): Promise<string> {
  const fn = functions[call.function.name];
  if (!fn) return `Error: there is no function named "${call.function.name}".`;
  let params: unknown;
  try {
    params = call.function.arguments.trim() === "" ? {} : JSON.parse(call.function.arguments);
  } catch {
    return "Error: the arguments were not valid JSON.";
  }
  try {
    return await fn.handler(params, signal);
  } catch (err) {
    if (signal?.aborted) return "Error: cancelled.";
    log.warn({ err, function: call.function.name }, "model function failed");
    return `Error: ${err instanceof HearthError ? err.userMessage : "the function failed"}`;
  }
}
