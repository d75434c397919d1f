import type { Logger } from "pino";
import { createContext, type Context, type Middleware } from "./context.ts";
import type { InboundMessage } from "./message.ts";
import type { Transport } from "./transport.ts";

/** Run middlewares in order; each decides whether to call the next. */
export function compose(middlewares: readonly Middleware[]): (ctx: Context) => Promise<void> {
  return (ctx) => {
    const dispatch = async (i: number): Promise<void> => {
      const mw = middlewares[i];
      if (!mw) return;
      let called = false;
      await mw(ctx, () => {
        if (called) throw new Error("next() called twice by one middleware");
        called = true;
        return dispatch(i + 1);
      });
    };
    return dispatch(0);
  };
}

/**
 * The one path every inbound message takes, whatever its transport:
 * error boundary → access policy → vault redaction → per-chat ordering → router.
 * (The order is fixed by `src/app/buildPipeline.ts`.)
 */
export class Pipeline {
  readonly #run: (ctx: Context) => Promise<void>;
  readonly #log: Logger;
  readonly #abort = new AbortController();

  constructor(middlewares: readonly Middleware[], log: Logger) {
    this.#run = compose(middlewares);
    this.#log = log;
  }

  /**
   * Handle one message. Resolves when it has been answered (or refused). Transports may call this
   * concurrently; per-chat ordering is the pipeline's job, not theirs.
   */
  handle(msg: InboundMessage, transport: Transport): Promise<void> {
    // Lone surrogates and NULs break tokenizers and SQLite text round-trips: make text well formed once, here.
    msg = { ...msg, text: msg.text.toWellFormed().replace(/\0/g, "") };
    const ctx = createContext(msg, transport, this.#log.child({ chat: msg.chatId, msgId: msg.id }), this.#abort.signal);
    return this.#run(ctx);
  }

  /** Abort work in progress (shutdown). */
  abort(): void {
    this.#abort.abort();
  }

  /** The pipeline's shutdown signal. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }
}
