import { GrammyError, type Api } from "grammy";
import type { InlineKeyboardMarkup } from "grammy/types";
import { ServiceError, isAbortError, AbortedError } from "../../core/errors.ts";
import { getLogger } from "../../core/logger.ts";
import { markdownToTelegramHtml } from "./telegramHtml.ts";

const log = getLogger("telegram");

/** The AbortSignal type grammY's Node build declares (from the `abort-controller` polyfill). */
export type GrammySignal = NonNullable<Parameters<Api["getMe"]>[0]>;

/**
 * Pass a native AbortSignal to grammY. Its Node typings name the polyfill's class, but at run time
 * grammY hands the signal to node-fetch, which accepts native signals.
 */
export function grammySignal(signal: AbortSignal): GrammySignal {
  return signal as unknown as GrammySignal;
}

/** How one chunk of text should be shown. */
export interface ChunkFormat {
  /** Render as Markdown (→ Telegram HTML); otherwise sent as plain text. */
  markdown: boolean;
  /** Inline keyboard to attach; absent removes any keyboard on edit. */
  keyboard?: InlineKeyboardMarkup;
}

/**
 * True for a Bot API refusal of the *formatting* (not of the chat or the bot), after which the
 * same text is worth resending as plain text: "can't parse entities", and "message is too long",
 * which can only happen when rendering made the text longer than we measured.
 */
function isFormattingRejection(err: unknown): boolean {
  return err instanceof GrammyError && err.error_code === 400 && /can't parse entities|message is too long|text must be non-empty/i.test(err.description);
}

/** Turn a Bot API failure into a HearthError users can act on (no payload, no token). */
export function toServiceError(err: unknown, action: string): Error {
  if (err instanceof ServiceError || err instanceof AbortedError) return err;
  if (isAbortError(err)) return new AbortedError({ cause: err });
  if (err instanceof GrammyError) {
    if (err.error_code === 403) {
      return new ServiceError(
        "TELEGRAM_FORBIDDEN",
        `Telegram refused to let me ${action}: ${err.description}. If I was blocked or removed, unblock me or add me back to the chat.`,
        { cause: err },
      );
    }
    if (err.error_code === 401) {
      return new ServiceError("TELEGRAM_UNAUTHORIZED", "Telegram rejected my bot token. Ask an admin to store a fresh one with `hearth vault add telegram_token`.", { cause: err });
    }
    return new ServiceError("TELEGRAM_REQUEST_FAILED", `Telegram refused to let me ${action} (${err.error_code}: ${err.description}).`, { cause: err });
  }
  return new ServiceError("TELEGRAM_UNREACHABLE", `I could not reach Telegram to ${action}; check the server's internet connection.`, { cause: err });
}

/**
 * Sends and edits single Telegram messages (one chunk each) with our formatting rules: Markdown is
 * rendered to HTML, and if Telegram still rejects the entities the raw text is sent instead, so a
 * formatting problem never loses an answer.
 */
export class TelegramSender {
  readonly #api: Api;
  readonly #signal: GrammySignal;

  /**
   * @param api grammY API object (with retry and throttling transformers installed).
   * @param signal Aborted when the transport is disposed; cancels waits between retries.
   */
  constructor(api: Api, signal: AbortSignal) {
    this.#api = api;
    this.#signal = grammySignal(signal);
  }

  /** Send one chunk; returns the Telegram message id. */
  async send(chatId: number, text: string, format: ChunkFormat, replyToMessageId?: number): Promise<number> {
    const common = {
      ...(format.keyboard && { reply_markup: format.keyboard }),
      ...(replyToMessageId !== undefined && { reply_parameters: { message_id: replyToMessageId, allow_sending_without_reply: true } }),
      link_preview_options: { is_disabled: true },
    };
    try {
      if (format.markdown) {
        try {
          const html = markdownToTelegramHtml(text);
          return (await this.#api.sendMessage(chatId, html, { ...common, parse_mode: "HTML" }, this.#signal)).message_id;
        } catch (err) {
          if (!isFormattingRejection(err)) throw err;
          log.warn({ err: describe(err) }, "Telegram rejected formatted text; resending as plain text");
        }
      }
      return (await this.#api.sendMessage(chatId, text, common, this.#signal)).message_id;
    } catch (err) {
      throw toServiceError(err, "send a message");
    }
  }

  /** Replace the text (and keyboard) of a message the bot sent. */
  async edit(chatId: number, messageId: number, text: string, format: ChunkFormat): Promise<void> {
    const common = { ...(format.keyboard && { reply_markup: format.keyboard }), link_preview_options: { is_disabled: true } };
    try {
      if (format.markdown) {
        try {
          await this.#api.editMessageText(chatId, messageId, markdownToTelegramHtml(text), { ...common, parse_mode: "HTML" }, this.#signal);
          return;
        } catch (err) {
          if (isNotModified(err)) return;
          if (!isFormattingRejection(err)) throw err;
          log.warn({ err: describe(err) }, "Telegram rejected formatted edit; editing as plain text");
        }
      }
      await this.#api.editMessageText(chatId, messageId, text, common, this.#signal);
    } catch (err) {
      if (isNotModified(err)) return; // the same text again: nothing to do
      throw toServiceError(err, "update a message");
    }
  }

  /** Delete a message; false (not an error) when Telegram does not permit it. */
  async delete(chatId: number, messageId: number): Promise<boolean> {
    try {
      return await this.#api.deleteMessage(chatId, messageId, this.#signal);
    } catch (err) {
      if (err instanceof GrammyError && (err.error_code === 400 || err.error_code === 403)) {
        log.info({ err: describe(err) }, "Telegram did not permit deleting a message");
        return false;
      }
      throw toServiceError(err, "delete a message");
    }
  }
}

function isNotModified(err: unknown): boolean {
  return err instanceof GrammyError && err.error_code === 400 && /message is not modified/i.test(err.description);
}

/** Log-safe summary of a Bot API error: never the payload (message text) or URL (token). */
export function describe(err: unknown): { method?: string; code?: number; description?: string; name?: string } {
  if (err instanceof GrammyError) return { method: err.method, code: err.error_code, description: err.description };
  return { name: (err as Error)?.name ?? typeof err };
}
