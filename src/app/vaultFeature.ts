import type { Feature } from "./hearthApp.ts";
import type { HearthConfig } from "../core/config.ts";
import type { SecretGuard } from "../core/middleware/vaultRedaction.ts";
import type { RedactText } from "../core/modelGateway.ts";
import { captureSecrets } from "../vault/secretDetector.ts";
import { handleVaultCommand } from "../vault/vaultChatCommand.ts";
import type { Vault } from "../vault/vault.ts";

/** The vault's part of the app: the pipeline guard, the model redactor and `/vault`. */
export interface VaultWiring {
  feature: Feature;
  secrets: { guard: SecretGuard; redact: RedactText };
}

/** Connect an unlocked vault to the pipeline. */
export function vaultWiring(vault: Vault, config: HearthConfig): VaultWiring {
  const guard: SecretGuard = {
    async scrub(text) {
      const r = await captureSecrets(text, vault);
      return { text: r.text, captured: r.handles.map((h) => h.replace(/^\{\{secret:|\}\}$/g, "")) };
    },
  };
  const feature: Feature = {
    name: "vault",
    commands: [
      {
        name: "vault",
        description: "Manage secrets (admins, direct chats only)",
        usage: "list | add NAME VALUE [host…] | rm NAME",
        adminOnly: true,
        async run(ctx, args) {
          if (ctx.msg.transport === "telegram" && !config.telegram.allowVault) {
            await ctx.reply("Vault commands are turned off on Telegram (it is not end-to-end encrypted). Use the console or an encrypted Matrix room.");
            return;
          }
          const reply = await handleVaultCommand(args, {
            isAdmin: ctx.person?.role === "admin",
            chatType: ctx.msg.chatType,
            transport: ctx.msg.transport,
            encrypted: ctx.msg.encrypted,
            vault,
          });
          // A message carrying a value must not stay in the chat history.
          if (args[0] === "add" && args.length >= 3) await ctx.transport.redact?.(ctx.msg.chatId, ctx.msg.id, "contained a secret").catch(() => false);
          await ctx.reply(reply);
        },
      },
    ],
  };
  return { feature, secrets: { guard, redact: (text) => vault.redactor().redact(text).text } };
}
