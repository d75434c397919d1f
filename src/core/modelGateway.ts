import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { ChatRequest, ChatResult, JsonRequest, LlmEngine, ModelFunction } from "../llm/engine.ts";
import { redactForLog } from "./logger.ts";

/** Replaces known secret values with their `{{secret:NAME}}` handles. */
export type RedactText = (text: string) => string;

/** Options for {@link ModelGateway}. */
export interface ModelGatewayOptions {
  engine: LlmEngine;
  /** The vault's redactor; identity when no vault is open. */
  redact: () => RedactText;
  /** Append every prompt, as sent, to this file (the prompt trace). */
  traceFile?: string | null;
}

/**
 * The one door to the model. Everything the model reads — system prompt, history, summaries,
 * the new message, OCR text, tool results — passes the vault redactor here, so no other code
 * path can hand it a secret value. Tool results are redacted before the model sees them.
 * The model's own output is never expanded: a handle it writes stays a handle.
 */
export class ModelGateway {
  readonly #engine: LlmEngine;
  readonly #redact: () => RedactText;

  constructor(options: ModelGatewayOptions) {
    this.#engine = options.engine;
    this.#redact = options.redact;
    const traceFile = options.traceFile;
    if (traceFile) {
      mkdirSync(dirname(traceFile), { recursive: true });
      options.engine.onPrompt((entry) => {
        // Redacted again as defence in depth: the trace is exactly what the model saw, which
        // already contains only handles.
        const line = JSON.stringify({ at: new Date().toISOString(), session: entry.sessionKey, prompt: redactForLog(entry.prompt) });
        appendFileSync(traceFile, `${line}\n`, { mode: 0o600 });
      });
    }
  }

  /** The engine underneath (for sizes and token counting). */
  get engine(): LlmEngine {
    return this.#engine;
  }

  /** Answer a conversation; every input is redacted first. */
  chat(request: ChatRequest): Promise<ChatResult> {
    const redact = this.#redact();
    const functions = request.functions ? this.#wrapFunctions(request.functions) : undefined;
    return this.#engine.chat({
      ...request,
      systemPrompt: redact(request.systemPrompt),
      history: request.history.map((t) => ({ role: t.role, text: redact(t.text) })),
      ...(functions ? { functions } : {}),
    });
  }

  /** Grammar-constrained JSON; the prompt is redacted first. */
  json(request: JsonRequest): Promise<unknown> {
    const redact = this.#redact();
    return this.#engine.json({ ...request, systemPrompt: redact(request.systemPrompt), prompt: redact(request.prompt) });
  }

  #wrapFunctions(functions: Record<string, ModelFunction>): Record<string, ModelFunction> {
    const out: Record<string, ModelFunction> = {};
    for (const [name, fn] of Object.entries(functions)) {
      out[name] = {
        ...fn,
        handler: async (params, signal) => this.#redact()(await fn.handler(params, signal)),
      };
    }
    return out;
  }
}
