import type { Context } from "../core/context.ts";
import type { SentReply } from "../core/transport.ts";

/** Options for {@link StreamingReply}. */
export interface StreamingReplyOptions {
  /** Edit the sent message as text arrives (where the transport can edit). */
  stream: boolean;
  /** Minimum milliseconds between edits (platform rate limits). */
  intervalMs: number;
}

/**
 * Sends a model answer as it is generated: the first chunk creates the message and later chunks
 * edit it at most once per interval; transports that cannot edit (or with streaming off) get the
 * whole answer once.
 */
export class StreamingReply {
  readonly #ctx: Context;
  readonly #options: StreamingReplyOptions;
  #text = "";
  #sent: SentReply | undefined;
  #shown = "";
  #lastEdit = 0;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(ctx: Context, options: StreamingReplyOptions) {
    this.#ctx = ctx;
    this.#options = options;
  }

  /** Add generated text. */
  push(chunk: string): void {
    this.#text += chunk;
    if (!this.#options.stream || this.#text.trim() === "") return;
    const now = Date.now();
    if (this.#sent && now - this.#lastEdit < this.#options.intervalMs) return;
    this.#lastEdit = now;
    this.#inFlight = this.#inFlight.then(() => this.#flush()).catch((err: unknown) => {
      this.#ctx.log.warn({ err: String(err) }, "streaming edit failed; the full answer follows at the end");
    });
  }

  async #flush(): Promise<void> {
    const text = this.#text;
    if (text === this.#shown) return;
    if (!this.#sent) {
      this.#sent = await this.#ctx.reply({ text, markdown: true });
      if (!this.#sent.edit) this.#options.stream = false;
    } else if (this.#sent.edit) {
      await this.#sent.edit(text);
    }
    this.#shown = text;
  }

  /** Deliver the final text (replacing what was streamed). */
  async finish(finalText: string): Promise<void> {
    await this.#inFlight;
    this.#text = finalText;
    if (this.#sent?.edit) {
      if (this.#shown !== finalText) await this.#sent.edit(finalText);
    } else if (!this.#sent || this.#shown !== finalText) {
      // Not sent yet, or sent by a transport that cannot edit: the whole answer goes out once more.
      await this.#ctx.reply({ text: finalText, markdown: true });
    }
    this.#shown = finalText;
  }
}
