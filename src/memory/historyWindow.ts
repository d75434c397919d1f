import type { ChatTurn } from "../llm/engine.ts";
import type { ConversationStore, StoredMessage } from "./conversationStore.ts";

/** Options for {@link fitHistory}. */
export interface HistoryWindowOptions {
  /** Tokens the history may use (context size × memory.historyBudget). */
  budgetTokens: number;
  countTokens: (text: string) => number;
  policy: "trim" | "summarize";
  /** Produces a new summary from the previous one and the turns being folded (summarize policy). */
  summarize?: (previous: string, turns: StoredMessage[], signal?: AbortSignal) => Promise<string>;
  signal?: AbortSignal;
}

/**
 * The documented memory policy. When the active turns of a chat exceed the budget, the oldest
 * turns are folded until the history fits in **half** the budget. Folding in large steps (rather
 * than one turn per message) keeps the start of the prompt stable between turns, so the warm
 * context sequence can be reused instead of re-evaluating the whole history each time.
 * With `trim` the folded turns are simply no longer sent; with `summarize` the model folds them
 * into a running summary that is sent as part of the system prompt. Stored turns are never
 * deleted by this (only `/reset` deletes).
 */
export async function fitHistory(
  store: ConversationStore,
  chatId: string,
  options: HistoryWindowOptions,
): Promise<{ turns: StoredMessage[]; summary: string; folded: number }> {
  const turns = store.activeTurns(chatId);
  let { summary } = store.state(chatId);
  const cost = turns.map((t) => options.countTokens(t.text) + 8);
  let total = cost.reduce((a, b) => a + b, 0) + options.countTokens(summary);
  if (total <= options.budgetTokens) return { turns, summary, folded: 0 };
  const target = options.budgetTokens / 2;
  let cut = 0;
  // Always keep the newest turn (the message being answered), even if alone it exceeds the budget.
  while (cut < turns.length - 1 && total > target) {
    total -= cost[cut]!;
    cut++;
  }
  if (cut === 0) return { turns, summary, folded: 0 };
  const foldedTurns = turns.slice(0, cut);
  if (options.policy === "summarize" && options.summarize && foldedTurns.length) {
    summary = await options.summarize(summary, foldedTurns, options.signal);
  }
  store.fold(chatId, foldedTurns[foldedTurns.length - 1]!.id, summary);
  return { turns: turns.slice(cut), summary, folded: foldedTurns.length };
}

/** Stored turns as model turns; in group chats each user turn is prefixed with the speaker. */
export function toChatTurns(turns: StoredMessage[], group: boolean): ChatTurn[] {
  return turns.map((t) => ({
    role: t.role,
    text: group && t.role === "user" && t.sender ? `${t.sender}: ${t.text}` : t.text,
  }));
}
