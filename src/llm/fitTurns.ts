import type { ChatTurn } from "./engine.ts";

/**
 * The context-overflow policy shared by the engines: keep the fixed part (system prompt, tool
 * descriptions) and the newest turns, drop whole oldest turns.
 *
 * When trimming is needed it cuts down to `refill` (60 %) of the budget rather than just under
 * it, and the caller passes the previous cut back in: as long as the history still fits from that
 * same turn, the kept prefix does not move, so a warm KV cache (or a server's prompt cache) keeps
 * matching for several turns instead of being invalidated by a one-turn shift every time.
 */

/** Where the previous trim cut (index of the first kept turn and its text, to recognise it). */
export interface TrimPoint {
  start: number;
  text: string;
}

/** Options of {@link fitTurns}. */
export interface FitTurnsOptions {
  /** Tokens that are always sent (system prompt, tools, template overhead). */
  fixedTokens: number;
  /** Most prompt tokens allowed. */
  budget: number;
  /** Token cost of one turn, including its template overhead. */
  cost(turn: ChatTurn): number;
  /** The previous cut for this conversation, if any. */
  previous?: TrimPoint;
  /** Fraction of the budget to trim down to when trimming. Default 0.6. */
  refill?: number;
}

/** Result of {@link fitTurns}. */
export interface FitTurnsResult {
  turns: ChatTurn[];
  /** Number of oldest turns dropped. */
  dropped: number;
  /** Pass back as `previous` next time (undefined when nothing was dropped). */
  trim: TrimPoint | undefined;
}

/** Choose the newest turns of `turns` that fit `budget` (the last turn is always kept). */
export function fitTurns(turns: ChatTurn[], options: FitTurnsOptions): FitTurnsResult {
  const costs = turns.map(options.cost);
  const suffix: number[] = new Array<number>(turns.length + 1).fill(0);
  for (let i = turns.length - 1; i >= 0; i--) suffix[i] = suffix[i + 1]! + costs[i]!;
  const total = (from: number): number => options.fixedTokens + suffix[from]!;

  let start = 0;
  const prev = options.previous;
  if (prev && prev.start < turns.length && turns[prev.start]!.text === prev.text) start = prev.start;
  if (total(start) > options.budget) {
    const target = Math.floor(options.budget * (options.refill ?? 0.6));
    while (start < turns.length - 1 && total(start) > target) start++;
    // Start on a user turn so the kept window reads as a conversation.
    while (start < turns.length - 1 && turns[start]!.role !== "user") start++;
  }
  return {
    turns: start > 0 ? turns.slice(start) : turns,
    dropped: start,
    trim: start > 0 ? { start, text: turns[start]!.text } : undefined,
  };
}
