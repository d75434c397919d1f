/**
 * The interface every language-model backend implements: the embedded node-llama-cpp engine and
 * the OpenAI-compatible HTTP client. Core code talks only to this.
 *
 * Everything passed in here has already been through the vault redactor (see
 * `src/core/modelGateway.ts`); backends never see secret values.
 */

/** One turn of a conversation. */
export interface ChatTurn {
  role: "system" | "user" | "assistant";
  text: string;
}

/** A function the model may call (node-llama-cpp function calling / OpenAI tools). */
export interface ModelFunction {
  description: string;
  /** JSON schema of the parameters object (type "object"). */
  parameters?: Record<string, unknown>;
  /** Runs the function; its return text is given back to the model. */
  handler(params: unknown, signal?: AbortSignal): Promise<string>;
}

/** A request to answer the last user turn of a conversation. */
export interface ChatRequest {
  /**
   * Stable key of the conversation (usually the chat id). Backends that can keep state keep the
   * evaluated context of this conversation warm so follow-up turns are cheap.
   */
  sessionKey: string;
  systemPrompt: string;
  /** Earlier turns followed by the new user turn (last element, role "user"). */
  history: ChatTurn[];
  maxTokens?: number;
  temperature?: number;
  /** Called with each piece of generated text as it arrives. */
  onTextChunk?: (chunk: string) => void;
  functions?: Record<string, ModelFunction>;
  signal?: AbortSignal;
}

/** What came back. */
export interface ChatResult {
  text: string;
  /** Tokens generated. */
  generatedTokens: number;
  /** Tokens of the prompt that had to be evaluated (not reused from a warm sequence), if known. */
  evaluatedPromptTokens?: number;
  /** Why generation stopped. */
  stopReason: "eos" | "maxTokens" | "abort" | "functionCalls" | "other";
}

/** A one-shot structured request: answer must match a JSON schema (grammar-constrained). */
export interface JsonRequest {
  systemPrompt: string;
  prompt: string;
  schema: Record<string, unknown>;
  maxTokens?: number;
  signal?: AbortSignal;
}

/** The text exactly as sent to the model, for the prompt trace. */
export interface PromptTraceEntry {
  sessionKey: string;
  /** The rendered prompt (chat template applied) or the JSON request body for HTTP backends. */
  prompt: string;
}

/** A language model backend. */
export interface LlmEngine {
  /** Human-readable description, e.g. "llama.cpp (CPU) · model.gguf · ctx 4096". */
  readonly description: string;
  /** Context window in tokens (per sequence). */
  readonly contextSize: number;
  /** Answer a conversation, streaming text through `onTextChunk`. */
  chat(request: ChatRequest): Promise<ChatResult>;
  /** Grammar-constrained JSON answer, already parsed. */
  json(request: JsonRequest): Promise<unknown>;
  /** Number of tokens `text` takes in this model (estimated for HTTP backends). */
  countTokens(text: string): number;
  /** Drop the warm state kept for a conversation (after /reset). */
  forgetSession(sessionKey: string): Promise<void>;
  /** Register a listener that receives exactly what is sent to the model. */
  onPrompt(listener: (entry: PromptTraceEntry) => void): void;
  dispose(): Promise<void>;
}
