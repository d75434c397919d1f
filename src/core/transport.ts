import type { InboundMessage, OutboundReply } from "./message.ts";

/** Handle to a reply already sent, so a streamed answer can be edited in place. */
export interface SentReply {
  id: string;
  /** Replace the text of the sent message (Matrix `m.replace`, Telegram `editMessageText`). */
  edit?(text: string): Promise<void>;
}

/** What a transport does with messages; one small interface for console, Matrix and Telegram. */
export interface Transport {
  readonly kind: InboundMessage["transport"];
  /** Begin delivering inbound messages to `onMessage`. Resolves once connected. */
  start(onMessage: (msg: InboundMessage) => Promise<void>): Promise<void>;
  /** Send a reply into a chat. */
  send(chatId: string, reply: OutboundReply): Promise<SentReply>;
  /** Show "typing…" while the model works, where supported. */
  setTyping?(chatId: string, typing: boolean): Promise<void>;
  /** Delete or redact an inbound message (e.g. one containing a pasted secret), where permitted. */
  redact?(chatId: string, messageId: string, reason: string): Promise<boolean>;
  /** Disconnect and release resources. */
  dispose(): Promise<void>;
}
