import { AccessDeniedError, HearthError } from "../core/errors.ts";
import { formatHandle } from "./handles.ts";
import type { Vault } from "./vault.ts";

/** Who sent `/vault …` and where. */
export interface VaultChatContext {
  isAdmin: boolean;
  chatType: "direct" | "group";
  /** e.g. "matrix", "telegram", "console". */
  transport: string;
  /** End-to-end encrypted room (meaningful on Matrix). */
  encrypted: boolean;
  vault: Pick<Vault, "list" | "add" | "remove" | "allowedHosts">;
}

const USAGE = "Usage: /vault list | /vault add NAME VALUE [host…] | /vault rm NAME";

/**
 * Handle `/vault …` from chat (args exclude the `/vault` itself) and return the reply text.
 * Only admins, only in direct chats, and on Matrix only in end-to-end encrypted rooms. The
 * message carrying a value is redacted by the pipeline before anything else sees it; the reply
 * never contains a value.
 */
export async function handleVaultCommand(args: string[], ctx: VaultChatContext): Promise<string> {
  if (!ctx.isAdmin) throw new AccessDeniedError("Only a Hearth admin can manage the vault.");
  if (ctx.chatType !== "direct") throw new AccessDeniedError("Vault commands only work in a direct (1:1) chat with Hearth, never in a group.");
  if (ctx.transport === "matrix" && !ctx.encrypted) {
    throw new AccessDeniedError("Vault commands need an end-to-end encrypted room. Enable encryption in this DM and try again.");
  }
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case "list": {
        const entries = ctx.vault.list();
        if (entries.length === 0) return "The vault is empty.";
        return entries
          .map((e) => `• ${e.handle}${e.damaged ? " ⚠ damaged" : ""} — hosts: ${e.allowHosts.join(", ") || "none"}`)
          .join("\n");
      }
      case "add": {
        const [name, value, ...hosts] = rest;
        if (name === undefined || value === undefined) return USAGE;
        await ctx.vault.add(name, value, { allowHosts: hosts });
        const allowed = ctx.vault.allowedHosts(name);
        const tail = ctx.transport === "telegram" ? " Telegram keeps chat history on its servers: delete your message there too." : " Please delete your message.";
        return `Stored as ${formatHandle(name)} (hosts: ${allowed.join(", ") || "none"}).${tail}`;
      }
      case "rm":
      case "remove": {
        const [name] = rest;
        if (name === undefined) return USAGE;
        return (await ctx.vault.remove(name)) ? `Removed ${name}.` : `There is no secret named ${name}.`;
      }
      default:
        return USAGE;
    }
  } catch (err) {
    if (err instanceof HearthError) return err.userMessage;
    throw err;
  }
}
