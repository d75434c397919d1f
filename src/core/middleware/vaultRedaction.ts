import type { Middleware } from "../context.ts";

/** What the vault offers the pipeline (implemented in `src/vault`, injected by the app). */
export interface SecretGuard {
  /**
   * Replace known secret values with handles, and capture unknown secrets a user pasted: store
   * them under generated names and replace them with their handles.
   */
  scrub(text: string): Promise<{ text: string; captured: string[] }>;
}

/**
 * Third middleware: nothing after this point — the per-chat queue, the router, the conversation
 * store, the model — ever sees a secret value from the message text. When a pasted secret is
 * captured, the original message is deleted/redacted on the platform where the bot may, and the
 * sender is told the handle.
 *
 * `/vault add NAME VALUE` is passed through unscrubbed to its command (which stores the value and
 * asks the platform to delete the message); commands are never stored or shown to the model.
 */
export function vaultRedaction(guard: () => SecretGuard | undefined): Middleware {
  return async (ctx, next) => {
    const g = guard();
    if (!g || /^\/vault\s+add\s/i.test(ctx.msg.text.trimStart())) return next();
    const { text, captured } = await g.scrub(ctx.msg.text);
    ctx.msg = { ...ctx.msg, text };
    if (captured.length) {
      ctx.capturedHandles.push(...captured);
      let deleted = false;
      try {
        deleted = (await ctx.transport.redact?.(ctx.msg.chatId, ctx.msg.id, "contained a secret")) ?? false;
      } catch (err) {
        ctx.log.warn({ err: String(err) }, "could not delete the message that contained a secret");
      }
      const handles = captured.map((h) => `{{secret:${h}}}`).join(", ");
      await ctx.reply(
        `That looked like a secret, so I locked it in the vault as ${handles}${deleted ? " and deleted your message" : ""}. ` +
          `I only ever see the handle.${deleted ? "" : " You may want to delete your message yourself."}` +
          ` An admin can allow it for a host with: hearth vault add … --allow-host HOST.`,
      );
    }
    await next();
  };
}
