import type { Chat, Message, MessageEntity, PhotoSize, Update, User } from "grammy/types";
import type { Attachment, InboundMessage } from "../../core/message.ts";
import { telegramChatId, telegramMessageKey, telegramSenderId } from "./telegramIds.ts";

/** What mapping needs to know about the bot and how to reach files; no network until `fetch`. */
export interface TelegramMappingContext {
  /** The bot's own user id (from `getMe`). */
  botId: number;
  /** The bot's username without `@` (from `getMe`), compared case-insensitively. */
  botUsername: string;
  /** Download a file by id; `size` is what Telegram reported, checked before any request. */
  fetchFile(
    file: { fileId: string; size?: number; noun: "photo" | "file" },
    options: { maxBytes: number; signal?: AbortSignal },
  ): Promise<Uint8Array>;
  /**
   * Turn a button's `callback_data` back into the command it stands for (long commands are sent
   * as short keys because Telegram allows only 64 bytes); null when the button has expired.
   * Without it the data is the command.
   */
  resolveCallbackData?(data: string): string | null;
}

/**
 * Map one Telegram update to Hearth's {@link InboundMessage}, or null when it is nothing Hearth
 * answers: channel posts, service messages, stickers, messages from other bots, commands addressed
 * to a different bot (`/start@otherbot`), button presses on messages we can no longer see.
 *
 * Pure: reads only `update` and `ctx`; attachments download lazily through `ctx.fetchFile`.
 */
export function mapTelegramUpdate(update: Update, ctx: TelegramMappingContext): InboundMessage | null {
  if (update.message) return mapMessage(update.message, ctx);
  if (update.callback_query) {
    const q = update.callback_query;
    const msg = q.message;
    // Inline-mode buttons have no message; "inaccessible" messages (date 0) have no chat type we trust.
    if (!msg || msg.date === 0 || q.from.is_bot || q.data === undefined) return null;
    const chatType = mapChatType(msg.chat);
    if (!chatType) return null;
    const command = ctx.resolveCallbackData ? ctx.resolveCallbackData(q.data) : q.data;
    if (command === null) return null;
    return {
      id: `callback:${q.id}`,
      transport: "telegram",
      chatId: telegramChatId(msg.chat.id),
      chatType,
      encrypted: false,
      sender: mapSender(q.from),
      text: command,
      attachments: [],
      // Pressing one of the bot's buttons is talking to the bot, even in a group.
      mentionsBot: true,
      replyToId: telegramMessageKey(msg.chat.id, msg.message_id),
      replyToBot: true,
      // Callback queries carry no timestamp of their own; the press is "now" in update order.
      timestamp: Date.now(),
    };
  }
  return null;
}

function mapMessage(msg: Message, ctx: TelegramMappingContext): InboundMessage | null {
  const chatType = mapChatType(msg.chat);
  if (!chatType || !msg.from || msg.from.is_bot) return null;

  const rawText = msg.text ?? msg.caption ?? "";
  const entities = msg.entities ?? msg.caption_entities ?? [];
  const botName = ctx.botUsername.toLowerCase();

  let mentionsBot = false;
  for (const e of entities) {
    if (e.type === "mention" && entityText(rawText, e).toLowerCase() === `@${botName}`) mentionsBot = true;
    if (e.type === "text_mention" && e.user.id === ctx.botId) mentionsBot = true;
  }

  let text = rawText;
  const command = /^\/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{3,64}))?(?=\s|$)/.exec(rawText);
  if (command) {
    const addressee = command[2]?.toLowerCase();
    if (addressee !== undefined && addressee !== botName) return null; // someone else's command
    // A command is addressed to bots; in a group Telegram delivers it even in privacy mode.
    mentionsBot = true;
    text = `/${command[1]}${rawText.slice(command[0].length)}`;
  }

  const attachments: Attachment[] = [];
  if (msg.photo && msg.photo.length > 0) attachments.push(photoAttachment(largestPhoto(msg.photo), ctx));
  if (msg.document) {
    const doc = msg.document;
    const isImage = doc.mime_type?.toLowerCase().startsWith("image/") ?? false;
    const noun = isImage ? "photo" : "file";
    attachments.push({
      kind: isImage ? "image" : "file",
      ...(doc.mime_type !== undefined && { mimeType: doc.mime_type }),
      ...(doc.file_name !== undefined && { fileName: doc.file_name }),
      ...(doc.file_size !== undefined && { size: doc.file_size }),
      fetch: (options) => ctx.fetchFile({ fileId: doc.file_id, noun, ...(doc.file_size !== undefined && { size: doc.file_size }) }, options),
    });
  }
  if (text.trim() === "" && attachments.length === 0) return null;

  const reply = msg.reply_to_message;
  return {
    id: telegramMessageKey(msg.chat.id, msg.message_id),
    transport: "telegram",
    chatId: telegramChatId(msg.chat.id),
    chatType,
    encrypted: false,
    sender: mapSender(msg.from),
    text,
    attachments,
    mentionsBot,
    ...(reply && {
      replyToId: telegramMessageKey(msg.chat.id, reply.message_id),
      replyToBot: reply.from?.id === ctx.botId,
    }),
    timestamp: msg.date * 1000,
  };
}

function mapChatType(chat: Chat): InboundMessage["chatType"] | null {
  if (chat.type === "private") return "direct";
  if (chat.type === "group" || chat.type === "supergroup") return "group";
  return null; // channels: Hearth does not post into broadcast channels
}

function mapSender(user: User): InboundMessage["sender"] {
  const name = [user.first_name, user.last_name].filter(Boolean).join(" ").trim();
  return { id: telegramSenderId(user.id), displayName: name || (user.username ? `@${user.username}` : String(user.id)) };
}

/** Entity offsets are in UTF-16 code units, the same unit JavaScript strings index by. */
function entityText(text: string, e: MessageEntity): string {
  return text.slice(e.offset, e.offset + e.length);
}

/** Telegram sends several sizes of one photo; the largest carries the detail OCR needs. */
function largestPhoto(sizes: readonly PhotoSize[]): PhotoSize {
  let best = sizes[0]!;
  for (const s of sizes) if (s.width * s.height > best.width * best.height) best = s;
  return best;
}

function photoAttachment(photo: PhotoSize, ctx: TelegramMappingContext): Attachment {
  return {
    kind: "image",
    // Telegram re-encodes photos sent "as photo" to JPEG.
    mimeType: "image/jpeg",
    ...(photo.file_size !== undefined && { size: photo.file_size }),
    fetch: (options) => ctx.fetchFile({ fileId: photo.file_id, noun: "photo", ...(photo.file_size !== undefined && { size: photo.file_size }) }, options),
  };
}
