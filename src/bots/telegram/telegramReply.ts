import type { InlineKeyboardMarkup } from "grammy/types";
import { AbortedError } from "../../core/errors.ts";
import type { SentReply } from "../../core/transport.ts";
import { splitMarkdown, splitMessage } from "./splitMessage.ts";
import { telegramMessageKey } from "./telegramIds.ts";
import type { TelegramSender } from "./telegramSender.ts";

/** One Telegram message that is part of a reply, as it currently reads. */
interface SentChunk {
  messageId: number;
  text: string;
  hasKeyboard: boolean;
}

/** Split a reply's text into the chunks that become separate Telegram messages. */
export function chunkReply(text: string, markdown: boolean, limit: number): string[] {
  return markdown ? splitMarkdown(text, limit) : splitMessage(text, limit);
}

/**
 * A reply already sent to a Telegram chat, possibly spanning several messages. `edit()` streams a
 * growing answer into it: edits are coalesced so at most one `editMessageText` round goes out per
 * `intervalMs` (Telegram rate-limits edits, and every intermediate token does not need showing),
 * the latest text always wins, and the promise of each `edit()` resolves once that text — or a
 * newer one — is on screen. Text that outgrows 4,096 characters continues in new messages; the
 * keyboard always stays on the last one.
 */
export class TelegramReply implements SentReply {
  readonly id: string;
  readonly #sender: TelegramSender;
  readonly #chatId: number;
  readonly #markdown: boolean;
  readonly #keyboard: InlineKeyboardMarkup | undefined;
  readonly #intervalMs: number;
  readonly #limit: number;
  readonly #onBusy: (reply: TelegramReply, busy: boolean) => void;
  readonly #chunks: SentChunk[];

  #pending: string | undefined;
  #waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing = false;
  #lastEditAt = 0;
  #cancelled = false;

  /**
   * @param options.onBusy Told when the reply has (or no longer has) edits queued, so the
   *   transport can cancel them on dispose without holding every reply ever sent.
   */
  constructor(options: {
    sender: TelegramSender;
    chatId: number;
    chunks: SentChunk[];
    markdown: boolean;
    keyboard?: InlineKeyboardMarkup;
    intervalMs: number;
    limit: number;
    onBusy: (reply: TelegramReply, busy: boolean) => void;
  }) {
    this.#sender = options.sender;
    this.#chatId = options.chatId;
    this.#chunks = options.chunks;
    this.#markdown = options.markdown;
    this.#keyboard = options.keyboard;
    this.#intervalMs = options.intervalMs;
    this.#limit = options.limit;
    this.#onBusy = options.onBusy;
    this.#lastEditAt = Date.now();
    this.id = telegramMessageKey(options.chatId, options.chunks[0]!.messageId);
  }

  /** Ids (`<chat>:<message>`) of the Telegram messages that make up this reply, in order. */
  get messageIds(): string[] {
    return this.#chunks.map((c) => telegramMessageKey(this.#chatId, c.messageId));
  }

  /** Replace the whole reply's text. Resolves when this text (or a later one) is shown. */
  edit(text: string): Promise<void> {
    if (this.#cancelled) return Promise.reject(new AbortedError());
    this.#pending = text;
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#schedule();
    return done;
  }

  /** Drop queued edits (transport disposal); their promises reject with AbortedError. */
  cancel(): void {
    this.#cancelled = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = undefined;
    for (const w of this.#waiters.splice(0)) w.reject(new AbortedError());
    this.#onBusy(this, false);
  }

  #schedule(): void {
    if (this.#flushing || this.#timer || this.#pending === undefined) return;
    this.#onBusy(this, true);
    const wait = Math.max(0, this.#lastEditAt + this.#intervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#flush();
    }, wait);
  }

  async #flush(): Promise<void> {
    const text = this.#pending;
    if (text === undefined || this.#cancelled) return;
    this.#pending = undefined;
    const waiters = this.#waiters.splice(0);
    this.#flushing = true;
    try {
      await this.#apply(text);
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(err);
    } finally {
      this.#flushing = false;
      this.#lastEditAt = Date.now();
      if (this.#pending !== undefined && !this.#cancelled) this.#schedule();
      else this.#onBusy(this, false);
    }
  }

  /** Bring the Telegram messages in line with `text`: edit changed ones, add or remove the rest. */
  async #apply(text: string): Promise<void> {
    const wanted = chunkReply(text, this.#markdown, this.#limit);
    if (wanted.length === 0) wanted.push("…"); // Telegram has no empty messages
    for (let i = 0; i < wanted.length; i++) {
      const chunkText = wanted[i]!;
      const isLast = i === wanted.length - 1;
      const withKeyboard = isLast && this.#keyboard !== undefined;
      const format = { markdown: this.#markdown, ...(withKeyboard && { keyboard: this.#keyboard }) };
      const existing = this.#chunks[i];
      if (existing) {
        if (existing.text === chunkText && existing.hasKeyboard === withKeyboard) continue;
        await this.#sender.edit(this.#chatId, existing.messageId, chunkText, format);
        existing.text = chunkText;
        existing.hasKeyboard = withKeyboard;
      } else {
        const messageId = await this.#sender.send(this.#chatId, chunkText, format);
        this.#chunks.push({ messageId, text: chunkText, hasKeyboard: withKeyboard });
      }
    }
    // The answer got shorter (rare: a model retracting text): remove messages now unused.
    while (this.#chunks.length > wanted.length) {
      const extra = this.#chunks.pop()!;
      await this.#sender.delete(this.#chatId, extra.messageId);
    }
  }
}
