import type { Context } from "../core/context.ts";
import type { ModelGateway } from "../core/modelGateway.ts";
import type { ModelFunction } from "../llm/engine.ts";
import type { ConversationStore, StoredMessage } from "../memory/conversationStore.ts";
import { fitHistory, toChatTurns } from "../memory/historyWindow.ts";
import { StreamingReply } from "./streamingReply.ts";

/** Options for {@link createChatHandler}. */
export interface ChatHandlerOptions {
  model: ModelGateway;
  store: ConversationStore;
  botName: string;
  extraSystemPrompt: string;
  historyBudget: number;
  overflowPolicy: "trim" | "summarize";
  maxTokens: number;
  temperature: number;
  /** Streaming edits per transport kind. */
  streaming: (transport: string) => { stream: boolean; intervalMs: number };
  /** Tools offered to the model for this sender (e.g. Home Assistant), if any. */
  tools?: (ctx: Context) => Record<string, ModelFunction> | undefined;
}

/** Hearth's built-in instructions; what the model must know about handles. */
export function systemPromptFor(botName: string, ctx: Context, extra: string, summary: string): string {
  const who = ctx.person?.displayName ?? ctx.msg.sender.displayName;
  const lines = [
    `You are ${botName}, a friendly, concise family assistant running privately on the family's home server.`,
    ctx.msg.chatType === "group"
      ? `You are in a family group chat; messages are prefixed with the speaker's name. The latest message is from ${who}.`
      : `You are talking with ${who}.`,
    "Secrets appear only as handles like {{secret:name}}. Never ask for, guess or reveal secret values; refer to the handle instead.",
  ];
  if (extra.trim()) lines.push(extra.trim());
  if (summary.trim()) lines.push(`Summary of the earlier conversation: ${summary.trim()}`);
  return lines.join("\n");
}

/**
 * Conversation with the model: store the (already redacted) user turn, fit the history to the
 * budget, stream the answer back, store the answer.
 */
export function createChatHandler(options: ChatHandlerOptions): (ctx: Context) => Promise<void> {
  const { model, store } = options;
  const summarize = async (previous: string, turns: StoredMessage[], signal?: AbortSignal): Promise<string> => {
    const transcript = turns.map((t) => `${t.role === "user" ? (t.sender ?? "user") : options.botName}: ${t.text}`).join("\n");
    const result = (await model.json({
      systemPrompt: "You summarize conversations faithfully and briefly.",
      prompt: `Previous summary: ${previous || "(none)"}\n\nConversation to add:\n${transcript}\n\nWrite an updated summary in at most 120 words.`,
      schema: { type: "object", properties: { summary: { type: "string" } }, required: ["summary"] },
      maxTokens: 300,
      ...(signal ? { signal } : {}),
    })) as { summary?: unknown };
    return typeof result.summary === "string" ? result.summary : previous;
  };

  return async (ctx) => {
    const { msg } = ctx;
    const group = msg.chatType === "group";
    const speaker = ctx.person?.displayName ?? msg.sender.displayName;
    store.append(msg.chatId, "user", msg.text, speaker);
    const engine = model.engine;
    const { turns, summary } = await fitHistory(store, msg.chatId, {
      budgetTokens: Math.floor(engine.contextSize * options.historyBudget),
      countTokens: (t) => engine.countTokens(t),
      policy: options.overflowPolicy,
      summarize,
      signal: ctx.signal,
    });
    const streaming = new StreamingReply(ctx, options.streaming(msg.transport));
    const typing = ctx.transport.setTyping?.(msg.chatId, true).catch(() => undefined);
    const held: string[] = [];
    const tools = watchHeldActions(options.tools?.(ctx), held);
    let text: string;
    try {
      const result = await model.chat({
        sessionKey: msg.chatId,
        systemPrompt: systemPromptFor(options.botName, ctx, options.extraSystemPrompt, summary),
        history: toChatTurns(turns, group),
        maxTokens: options.maxTokens,
        temperature: options.temperature,
        onTextChunk: (chunk) => streaming.push(chunk),
        ...(tools ? { functions: tools } : {}),
        signal: ctx.signal,
      });
      text = result.text.trim() || "(I have no answer to that.)";
    } finally {
      await typing;
      await ctx.transport.setTyping?.(msg.chatId, false).catch(() => undefined);
    }
    store.append(msg.chatId, "assistant", text, null);
    await streaming.finish(text);
    // An action a tool held for confirmation gets buttons, whatever the model wrote about it.
    for (const id of held) {
      await ctx.reply({
        text: `Action ${id} is waiting for confirmation.`,
        buttons: [
          { label: "Confirm", command: `/confirm ${id}` },
          { label: "Cancel", command: `/cancel ${id}` },
        ],
      });
    }
  };
}

/** Wrap tools so results announcing a held action ("Needs confirmation, id N") are noticed. */
function watchHeldActions(tools: Record<string, ModelFunction> | undefined, held: string[]): Record<string, ModelFunction> | undefined {
  if (!tools) return undefined;
  const out: Record<string, ModelFunction> = {};
  for (const [name, fn] of Object.entries(tools)) {
    out[name] = {
      ...fn,
      handler: async (params, signal) => {
        const result = await fn.handler(params, signal);
        const id = /Needs confirmation, id (\d+)/.exec(result)?.[1];
        if (id && !held.includes(id)) held.push(id);
        return result;
      },
    };
  }
  return out;
}
