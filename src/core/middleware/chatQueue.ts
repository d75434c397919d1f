import type { Middleware } from "../context.ts";

/** Options for {@link chatQueue}. */
export interface ChatQueueOptions {
  /** Messages allowed to wait per chat (not counting the one being handled). */
  limit: number;
}

/**
 * Per-chat ordering with a bounded queue. Messages of one chat are handled one at a time in
 * arrival order; different chats proceed independently, so a flood in one chat never starves
 * another. When a chat's queue is full the newcomer gets a polite "busy" reply instead of being
 * dropped silently.
 */
export function chatQueue(options: ChatQueueOptions): Middleware & { pending(chatId: string): number } {
  const tails = new Map<string, Promise<void>>();
  const counts = new Map<string, number>();
  const mw = async (ctx: Parameters<Middleware>[0], next: () => Promise<void>): Promise<void> => {
    const chat = ctx.msg.chatId;
    const inChat = counts.get(chat) ?? 0;
    if (inChat > options.limit) {
      await ctx.reply(`I'm still working through ${inChat} earlier messages in this chat. Please send that again in a moment.`);
      return;
    }
    counts.set(chat, inChat + 1);
    const previous = tails.get(chat) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => mine);
    tails.set(chat, tail);
    try {
      await previous;
      await next();
    } finally {
      release();
      const left = (counts.get(chat) ?? 1) - 1;
      if (left === 0) counts.delete(chat);
      else counts.set(chat, left);
      if (tails.get(chat) === tail) tails.delete(chat);
    }
  };
  return Object.assign(mw, { pending: (chatId: string) => counts.get(chatId) ?? 0 });
}
