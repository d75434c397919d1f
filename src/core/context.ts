import type { Logger } from "pino";
import type { InboundMessage, OutboundReply } from "./message.ts";
import type { Person } from "./people.ts";
import type { SentReply, Transport } from "./transport.ts";

/**
 * Everything a middleware or handler knows about one inbound message. Created by the pipeline
 * for each message; handlers reply through `reply` so every transport behaves the same.
 */
export interface Context {
  /** The message; the vault middleware replaces its text with the redacted text. */
  msg: InboundMessage;
  readonly transport: Transport;
  readonly log: Logger;
  /** Aborted when Hearth shuts down. */
  readonly signal: AbortSignal;
  /** The family member who sent it, once the access policy has identified them. */
  person?: Person;
  /** Handles of secrets captured from this message by the vault middleware. */
  capturedHandles: string[];
  /** Send a reply into the message's chat (threaded to it where the platform can). */
  reply(reply: OutboundReply | string): Promise<SentReply>;
}

/** grammY-style middleware: do work, then `await next()` to pass the message on (or don't). */
export type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void>;

/** Build the context for a message. */
export function createContext(msg: InboundMessage, transport: Transport, log: Logger, signal: AbortSignal): Context {
  return {
    msg,
    transport,
    log,
    signal,
    capturedHandles: [],
    reply: (reply) => {
      const r: OutboundReply = typeof reply === "string" ? { text: reply } : reply;
      return transport.send(msg.chatId, { replyToId: msg.id, ...r });
    },
  };
}
