import type { InboundMessage, OutboundReply } from "../../src/core/message.ts";
import type { SentReply, Transport } from "../../src/core/transport.ts";

/** A transport that records replies, for flow tests. */
export class MemoryTransport implements Transport {
  readonly kind = "test" as const;
  readonly sent: Array<{ chatId: string; reply: OutboundReply; edits: string[] }> = [];
  readonly redacted: string[] = [];
  canRedact = true;
  #seq = 0;

  async start(): Promise<void> {}

  async send(chatId: string, reply: OutboundReply): Promise<SentReply> {
    const rec = { chatId, reply, edits: [] as string[] };
    this.sent.push(rec);
    return { id: `out-${++this.#seq}`, edit: async (text) => void rec.edits.push(text) };
  }

  async redact(_chatId: string, messageId: string): Promise<boolean> {
    if (!this.canRedact) return false;
    this.redacted.push(messageId);
    return true;
  }

  /** Final text of each reply (after edits). */
  texts(chatId?: string): string[] {
    return this.sent.filter((s) => !chatId || s.chatId === chatId).map((s) => s.edits.at(-1) ?? s.reply.text);
  }

  async dispose(): Promise<void> {}
}

let n = 0;
/** Build an inbound message with sensible defaults. */
export function inbound(partial: Partial<InboundMessage> & { text: string }): InboundMessage {
  n++;
  return {
    id: `in-${n}`,
    transport: "test",
    chatId: "test:chat",
    chatType: "direct",
    encrypted: false,
    sender: { id: "console:ann", displayName: "ann" },
    attachments: [],
    mentionsBot: false,
    timestamp: Date.now(),
    ...partial,
  };
}
