import type { Middleware } from "../context.ts";
import type { People } from "../people.ts";
import { RefusalLimiter } from "../refusalLimiter.ts";

/** Options for {@link accessPolicy}. */
export interface AccessPolicyOptions {
  people: People;
  /** Names the bot answers to in groups, lowercase (besides platform mentions). */
  botNames: string[];
  /** Default group behaviour (see config `chat.groupMode`). */
  groupMode?: GroupMode;
  /** Per-chat overrides of the group behaviour. */
  rooms?: Record<string, GroupMode>;
  /** Clock, for tests. */
  now?: () => number;
}

/** How talkative Hearth is in a group chat. */
export type GroupMode = "quiet" | "mention" | "chatty";

/**
 * Who may talk to Hearth, and when it listens in groups. Unknown senders cost no model time: in a
 * direct chat they get one polite refusal per day, in a group they are ignored; in group chats Hearth answers only when mentioned, replied to,
 * or addressed with a command, so family banter never reaches the model.
 */
export function accessPolicy(options: AccessPolicyOptions): Middleware {
  const refusals = new RefusalLimiter(options.now ? { now: options.now } : {});
  const nameRe = options.botNames.length
    ? new RegExp(`(^|[^\\p{L}\\p{N}_])(${options.botNames.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})($|[^\\p{L}\\p{N}_])`, "iu")
    : null;
  return async (ctx, next) => {
    const { msg } = ctx;
    if (msg.chatType === "group") {
      const mode = options.rooms?.[msg.chatId] ?? options.groupMode ?? "mention";
      const command = msg.text.trimStart().startsWith("/");
      const addressed =
        command ||
        mode === "chatty" ||
        (mode === "mention" && (msg.mentionsBot || msg.replyToBot === true || (nameRe !== null && nameRe.test(msg.text))));
      if (!addressed) return;
    }
    const person = options.people.byIdentity(msg.sender.id);
    if (!person) {
      ctx.log.info({ sender: msg.sender.id, chatType: msg.chatType }, "message from someone not in people: ignored");
      // In a shared room a stranger is simply not answered: a refusal would be noise for the family.
      if (msg.chatType === "group") return;
      if (refusals.shouldRefuse(msg.sender.id)) {
        await ctx.reply(
          `Sorry, I only talk with the family members I know. Ask an admin to add "${msg.sender.id}" to the people list in Hearth's config.`,
        );
      }
      return;
    }
    ctx.person = person;
    await next();
  };
}
