import type { CommandRegistry } from "../commands.ts";
import type { Context, Middleware } from "../context.ts";
import { InputError } from "../errors.ts";

/** Handlers the router sends messages to. */
export interface RouterHandlers {
  commands: CommandRegistry;
  /** Messages with image attachments (receipts). */
  image?: (ctx: Context) => Promise<void>;
  /** Everything else: conversation with the model. */
  chat: (ctx: Context) => Promise<void>;
  /** Longest text accepted. */
  maxMessageChars: number;
}

/**
 * Last middleware: commands, then images, then chat. Empty and oversized messages are answered
 * here so no handler has to think about them.
 */
export function router(h: RouterHandlers): Middleware {
  return async (ctx) => {
    const text = ctx.msg.text;
    if (text.length > h.maxMessageChars) {
      throw new InputError(
        "MESSAGE_TOO_LONG",
        `That message is ${text.length.toLocaleString("en-US")} characters; I read at most ${h.maxMessageChars.toLocaleString("en-US")}. Please send a shorter one or split it.`,
      );
    }
    if (text.trimStart().startsWith("/")) return h.commands.dispatch(ctx, text);
    if (ctx.msg.attachments.length > 0) {
      if (!h.image) throw new InputError("IMAGES_DISABLED", "I can't take photos here (receipts are turned off for this chat).");
      return h.image(ctx);
    }
    if (text.trim() === "") {
      if (ctx.capturedHandles.length) return; // the vault middleware already answered
      throw new InputError("EMPTY_MESSAGE", "That message was empty. Say something, or send /help.");
    }
    return h.chat(ctx);
  };
}
