import type { Command, CommandRegistry } from "../core/commands.ts";
import type { LlmEngine } from "../llm/engine.ts";
import type { ConversationStore } from "../memory/conversationStore.ts";

/** Dependencies of the built-in commands. */
export interface BuiltinCommandDeps {
  registry: CommandRegistry;
  store: ConversationStore;
  engine: () => LlmEngine | undefined;
}

/** `/help`, `/reset`, `/whoami`: available on every transport. */
export function builtinCommands(deps: BuiltinCommandDeps): Command[] {
  return [
    {
      name: "help",
      description: "What I can do",
      async run(ctx) {
        const cmds = deps.registry.list(ctx.person?.role === "admin");
        const lines = cmds.map((c) => `/${c.name}${c.usage ? ` ${c.usage}` : ""} — ${c.description}`);
        await ctx.reply(
          [
            "Talk to me in plain words" + (ctx.msg.chatType === "group" ? " (mention me in group chats)" : "") + ", send a photo of a receipt to file it, or use a command:",
            ...lines,
          ].join("\n"),
        );
      },
    },
    {
      name: "reset",
      description: "Forget this chat's conversation history",
      async run(ctx) {
        const n = deps.store.reset(ctx.msg.chatId);
        await deps.engine()?.forgetSession(ctx.msg.chatId);
        await ctx.reply(n ? `Done: I forgot ${n} message${n === 1 ? "" : "s"} of this chat.` : "There was nothing to forget in this chat.");
      },
    },
    {
      name: "whoami",
      description: "Who I think you are, and your role",
      async run(ctx) {
        const p = ctx.person;
        await ctx.reply(
          p
            ? `You are ${p.displayName} (${p.name}), role ${p.role}, writing as ${ctx.msg.sender.id} in the ${ctx.msg.chatType} chat ${ctx.msg.chatId}${ctx.msg.encrypted ? " (end-to-end encrypted)" : ""}.`
            : `You are ${ctx.msg.sender.id}, not in the family list.`,
        );
      },
    },
  ];
}
