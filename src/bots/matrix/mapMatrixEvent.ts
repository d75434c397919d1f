import type { Attachment, InboundMessage } from "../../core/message.ts";

/**
 * Pure mapping from a (decrypted) Matrix room event to Hearth's {@link InboundMessage}. No I/O:
 * everything that needs the server (room kind, who sent the replied-to event, media download) is
 * resolved by the transport first and passed in through {@link MapContext}, so this file can be
 * unit-tested with plain objects.
 */

/** The fields of a Matrix event this mapping reads (clear-text type/content after decryption). */
export interface MatrixEventLike {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
}

/** Media content of an `m.image` / `m.file` event, handed to {@link MapContext.makeAttachment}. */
export interface MatrixMediaContent {
  kind: "image" | "file";
  /** `mxc://` URI of plain (unencrypted) media. */
  url?: string;
  /** Encrypted-file descriptor (`file` with key/iv/hashes) for media in encrypted rooms. */
  file?: EncryptedFileInfo;
  mimeType?: string;
  fileName?: string;
  size?: number;
}

/** The `EncryptedFile` object of the Matrix spec (attachment encryption v2). */
export interface EncryptedFileInfo {
  url: string;
  key: { kty: string; alg: string; k: string; key_ops?: string[]; ext?: boolean };
  iv: string;
  hashes: Record<string, string>;
  v: string;
}

/** What the transport knows about the event's surroundings. */
export interface MapContext {
  botUserId: string;
  /** Names people use for the bot in plain text (display name, nicknames). Case-insensitive. */
  mentionNames: string[];
  /** `direct` when the room is in m.direct or has exactly two members. */
  chatType: "direct" | "group";
  encrypted: boolean;
  /** Sender's display name in this room, when known. */
  senderDisplayName?: string;
  /** Sender (user id) of the event this one replies to, when the transport could look it up. */
  repliedToSender?: string;
  /** Build a lazy attachment for media content (the transport binds download + decryption). */
  makeAttachment(media: MatrixMediaContent): Attachment;
}

const HANDLED_MSGTYPES = new Set(["m.text", "m.emote", "m.image", "m.file"]);

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Remove the legacy reply fallback (`> <@user> quoted…` lines and the blank line after them) that
 * older clients prepend to replies. It quotes the bot's own text and user id, so leaving it in
 * would make every reply look like a fresh mention and feed old text back to the model.
 */
export function stripReplyFallback(body: string): string {
  const lines = body.split("\n");
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith(">")) i++;
  if (i === 0) return body;
  if (i < lines.length && lines[i] === "") i++;
  return lines.slice(i).join("\n");
}

/** True when `text` names the bot: full user id, localpart, or one of `names`, as whole words. */
export function textMentions(text: string, botUserId: string, names: string[]): boolean {
  if (text.includes(botUserId)) return true;
  const localpart = botUserId.replace(/^@/, "").split(":")[0] ?? "";
  const candidates = [...names, localpart].map((n) => n.trim()).filter((n) => n.length > 0);
  return candidates.some((n) => new RegExp(`(^|[^\\p{L}\\p{N}_])@?${escapeRegExp(n)}($|[^\\p{L}\\p{N}_])`, "iu").test(text));
}

/** True when formatted HTML contains a matrix.to pill/link to the bot (raw or percent-encoded). */
export function htmlPillsBot(html: string, botUserId: string): boolean {
  const variants = [botUserId, encodeURIComponent(botUserId), botUserId.replace("@", "%40")];
  return variants.some((v) => html.includes(`matrix.to/#/${v}`));
}

function mediaFrom(content: Record<string, unknown>, msgtype: string): MatrixMediaContent | undefined {
  const info = obj(content.info) ?? {};
  const mimeType = str(info.mimetype);
  const isImage = msgtype === "m.image" || (mimeType?.startsWith("image/") ?? false);
  const file = obj(content.file);
  const url = str(content.url);
  const fileDesc =
    file && str(file.url) && obj(file.key) && str(file.iv) && obj(file.hashes) ? (file as unknown as EncryptedFileInfo) : undefined;
  if (!url && !fileDesc) return undefined;
  const size = typeof info.size === "number" && Number.isFinite(info.size) && info.size >= 0 ? info.size : undefined;
  const fileName = str(content.filename) ?? str(content.body);
  return {
    kind: isImage ? "image" : "file",
    ...(fileDesc ? { file: fileDesc } : { url: url! }),
    ...(mimeType !== undefined ? { mimeType } : {}),
    ...(fileName !== undefined ? { fileName } : {}),
    ...(size !== undefined ? { size } : {}),
  };
}

/**
 * Map a Matrix event to an {@link InboundMessage}, or `null` when it is not something a person
 * said to the bot: non-message events, the bot's own events, `m.notice` (bots' output; answering
 * it invites bot-to-bot loops), edits (`m.replace`, handled as "no new message"), and events
 * without usable content.
 */
export function mapMatrixEvent(event: MatrixEventLike, ctx: MapContext): InboundMessage | null {
  if (event.type !== "m.room.message") return null;
  if (event.sender === ctx.botUserId) return null;
  const content = event.content;
  const msgtype = str(content.msgtype);
  if (!msgtype || !HANDLED_MSGTYPES.has(msgtype)) return null;
  const relates = obj(content["m.relates_to"]);
  if (relates && relates.rel_type === "m.replace") return null;

  const replyToId = str(obj(relates?.["m.in_reply_to"])?.event_id);
  const rawBody = str(content.body) ?? "";
  const body = replyToId ? stripReplyFallback(rawBody) : rawBody;

  const attachments: Attachment[] = [];
  let text = body;
  if (msgtype === "m.image" || msgtype === "m.file") {
    const media = mediaFrom(content, msgtype);
    if (!media) return null;
    attachments.push(ctx.makeAttachment(media));
    // With MSC2530 captions `body` is the caption when `filename` is set; otherwise it is just the
    // file name and not something the person "said".
    const filename = str(content.filename);
    text = filename !== undefined && filename !== body ? body : "";
  }

  const mentionIds = obj(content["m.mentions"])?.user_ids;
  const formatted = str(content.format) === "org.matrix.custom.html" ? (str(content.formatted_body) ?? "") : "";
  const mentionsBot =
    (Array.isArray(mentionIds) && mentionIds.includes(ctx.botUserId)) ||
    htmlPillsBot(formatted, ctx.botUserId) ||
    textMentions(text, ctx.botUserId, ctx.mentionNames);

  if (msgtype === "m.emote") text = `* ${ctx.senderDisplayName ?? event.sender} ${text}`;

  return {
    id: event.event_id,
    transport: "matrix",
    chatId: `matrix:${event.room_id}`,
    chatType: ctx.chatType,
    encrypted: ctx.encrypted,
    sender: { id: `matrix:${event.sender}`, displayName: ctx.senderDisplayName ?? event.sender },
    text,
    attachments,
    mentionsBot,
    ...(replyToId !== undefined
      ? { replyToId, ...(ctx.repliedToSender !== undefined ? { replyToBot: ctx.repliedToSender === ctx.botUserId } : {}) }
      : {}),
    timestamp: event.origin_server_ts,
  };
}
