import type { Middleware } from "../context.ts";
import { HearthError, isAbortError, newErrorRef } from "../errors.ts";
import { redactForLog } from "../logger.ts";

/**
 * Outermost middleware. A known {@link HearthError} becomes its short user message; anything else
 * becomes "something went wrong (ref abc123)" with the same ref in the log, and the bot keeps
 * serving. Replying can itself fail (transport down): that is logged, never rethrown.
 */
export function errorBoundary(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (isAbortError(err) && ctx.signal.aborted) return; // shutting down: nobody to answer
      let text: string;
      if (err instanceof HearthError) {
        ctx.log.warn({ code: err.code, err: redactForLog(String(err.message)) }, "request failed");
        text = err.userMessage;
      } else {
        const ref = newErrorRef();
        ctx.log.error({ ref, err: redactForLog(err instanceof Error ? (err.stack ?? err.message) : String(err)) }, "unexpected error");
        text = `Sorry, something went wrong (ref ${ref}). The details are in Hearth's log under that ref.`;
      }
      try {
        await ctx.reply(text);
      } catch (replyErr) {
        ctx.log.error({ err: redactForLog(String(replyErr)) }, "could not send the error reply");
      }
    }
  };
}
