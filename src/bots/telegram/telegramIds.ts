import { InputError } from "../../core/errors.ts";

/**
 * How Telegram identities are written in Hearth's platform-qualified ids. Telegram message ids are
 * only unique within a chat, so an InboundMessage id carries both: `<chat id>:<message id>`.
 */

/** `telegram:<user id>` for a sender. */
export function telegramSenderId(userId: number): string {
  return `telegram:${userId}`;
}

/** `telegram:<chat id>` for a chat (negative for groups). */
export function telegramChatId(chatId: number): string {
  return `telegram:${chatId}`;
}

/** `<chat id>:<message id>`, unique across chats (used for de-duplication). */
export function telegramMessageKey(chatId: number, messageId: number): string {
  return `${chatId}:${messageId}`;
}

/** The numeric Telegram chat id inside `telegram:<chat id>`. */
export function parseTelegramChatId(chatId: string): number {
  const m = /^telegram:(-?\d{1,20})$/.exec(chatId);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new InputError("TELEGRAM_BAD_CHAT_ID", `"${chatId}" is not a Telegram chat id; expected telegram:<number>, e.g. telegram:123456789.`);
  }
  return n;
}

/**
 * The numeric Telegram message id from an id this transport produced (`<chat>:<message>`), or a
 * bare message number.
 */
export function parseTelegramMessageId(messageId: string): number {
  const m = /^(?:-?\d{1,20}:)?(\d{1,15})$/.exec(messageId);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new InputError("TELEGRAM_BAD_MESSAGE_ID", `"${messageId}" is not a Telegram message id.`);
  }
  return n;
}
