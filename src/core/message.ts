/**
 * The one message model every transport maps into and out of. Core code only ever sees these
 * types; platform SDK objects stay inside `src/bots/<platform>`.
 */

/** Which transport a message came through. */
export type TransportKind = "console" | "matrix" | "telegram" | "test";

/** An image or file attached to a message. Bytes are fetched lazily so size limits apply first. */
export interface Attachment {
  kind: "image" | "file";
  /** MIME type as claimed by the platform (not trusted: content is sniffed before use). */
  mimeType?: string;
  fileName?: string;
  /** Size in bytes when the platform says it before download. */
  size?: number;
  /** Download the content. Implementations must enforce `maxBytes` and honour `signal`. */
  fetch(options: { maxBytes: number; signal?: AbortSignal }): Promise<Uint8Array>;
}

/** Who sent a message, as the platform identifies them. */
export interface Sender {
  /** Platform-qualified id, e.g. `matrix:@ann:example.org`, `telegram:12345`, `console:ann`. */
  id: string;
  displayName: string;
}

/** A message that arrived from a person. */
export interface InboundMessage {
  /** Platform-unique event id (used for de-duplication and reply threading). */
  id: string;
  transport: TransportKind;
  /** Platform-qualified chat id, e.g. `matrix:!room:example.org`. */
  chatId: string;
  /** `direct` is one-to-one with the bot; `group` is a shared room. */
  chatType: "direct" | "group";
  /** True when the chat is end-to-end encrypted (Matrix rooms with m.room.encryption). */
  encrypted: boolean;
  sender: Sender;
  text: string;
  attachments: Attachment[];
  /** True when the bot was mentioned (by name, @-mention or pill). */
  mentionsBot: boolean;
  /** Id of the message this one replies to, if any. */
  replyToId?: string;
  /** True when the replied-to message was sent by the bot. */
  replyToBot?: boolean;
  /** Milliseconds since epoch. */
  timestamp: number;
}

/** A button offered with a reply (inline keyboards on Telegram; numbered options elsewhere). */
export interface ReplyButton {
  label: string;
  /** Text sent back as a command when pressed, e.g. `/confirm 12`. */
  command: string;
}

/** Something Hearth says back. */
export interface OutboundReply {
  text: string;
  /** Render `text` as Markdown where the platform supports it. */
  markdown?: boolean;
  /** Id of the inbound message this answers (for threading/quoting). */
  replyToId?: string;
  buttons?: ReplyButton[];
}
