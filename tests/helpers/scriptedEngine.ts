import type { ChatRequest, ChatResult, JsonRequest, LlmEngine, PromptTraceEntry } from "../../src/llm/engine.ts";

/**
 * A scripted model for pipeline flow tests (the real engine is tested in tests/llm). It records
 * every request and answers from a function, streaming the answer in small chunks.
 */
export class ScriptedEngine implements LlmEngine {
  readonly description = "scripted test engine";
  readonly contextSize: number;
  readonly requests: ChatRequest[] = [];
  readonly jsonRequests: JsonRequest[] = [];
  readonly forgotten: string[] = [];
  #listeners: Array<(e: PromptTraceEntry) => void> = [];
  answer: (req: ChatRequest) => string | Promise<string>;
  jsonAnswer: (req: JsonRequest) => unknown = () => ({});

  constructor(answer: (req: ChatRequest) => string | Promise<string> = (r) => `echo: ${r.history.at(-1)?.text ?? ""}`, contextSize = 4096) {
    this.answer = answer;
    this.contextSize = contextSize;
  }

  async chat(req: ChatRequest): Promise<ChatResult> {
    this.requests.push(req);
    const prompt = [req.systemPrompt, ...req.history.map((t) => `${t.role}: ${t.text}`)].join("\n");
    for (const l of this.#listeners) l({ sessionKey: req.sessionKey, prompt });
    const text = await this.answer(req);
    for (let i = 0; i < text.length; i += 4) {
      if (req.signal?.aborted) return { text: text.slice(0, i), generatedTokens: i, stopReason: "abort" };
      req.onTextChunk?.(text.slice(i, i + 4));
    }
    return { text, generatedTokens: Math.ceil(text.length / 4), stopReason: "eos" };
  }

  async json(req: JsonRequest): Promise<unknown> {
    this.jsonRequests.push(req);
    for (const l of this.#listeners) l({ sessionKey: "json", prompt: `${req.systemPrompt}\n${req.prompt}` });
    return this.jsonAnswer(req);
  }

  countTokens(text: string): number {
    return Math.ceil(text.length / 4);
  }

  async forgetSession(key: string): Promise<void> {
    this.forgotten.push(key);
  }

  onPrompt(listener: (e: PromptTraceEntry) => void): void {
    this.#listeners.push(listener);
  }

  async dispose(): Promise<void> {}
}
