import type { Feature } from "./hearthApp.ts";
import type { Command } from "../core/commands.ts";
import type { HearthConfig } from "../core/config.ts";
import type { Context } from "../core/context.ts";
import { AccessDeniedError } from "../core/errors.ts";
import type { Db } from "../storage/database.ts";
import { HomeAuditLog } from "../home/auditLog.ts";
import { HaClient } from "../home/haClient.ts";
import { runHaCommand } from "../home/haCommands.ts";
import { createHomeTools } from "../home/homeTools.ts";
import { applyHomeMigrations } from "../home/homeMigrations.ts";
import { PendingActions } from "../home/pendingActions.ts";
import { HomePolicy } from "../home/permissions.ts";
import type { ToolRequest } from "../vault/toolRequest.ts";

/** Options for {@link homeFeature}. */
export interface HomeFeatureOptions {
  config: HearthConfig;
  db: Db;
  /** Substitutes vault handles in an outbound request, only for the secret's allowed hosts. */
  authorize: (request: ToolRequest) => Promise<ToolRequest>;
}

/**
 * Home Assistant in the app: `/ha`, `/confirm`, `/cancel`, `/audit` and tools for the model, each
 * limited to what the asking family member may read or control.
 */
export function homeFeature(options: HomeFeatureOptions): Feature {
  const { config, db } = options;
  const url = config.home.url;
  if (!url) throw new Error("home.url must be set when home.enabled is true");
  applyHomeMigrations(db);
  const client = new HaClient({
    url,
    tokenName: config.home.tokenHandle,
    timeoutMs: config.home.timeoutMs,
    authorize: async (r) => {
      const out = await options.authorize({ url: r.url, method: r.method, headers: r.headers, ...(r.body !== undefined ? { body: r.body } : {}) });
      return { url: out.url, method: out.method, headers: out.headers ?? {}, body: out.body };
    },
  });
  const permissions = new HomePolicy({ climateSafeRange: config.home.climateSafeRange });
  const pending = new PendingActions({ ttlMs: config.home.confirmSeconds * 1000 });
  const audit = new HomeAuditLog(db);
  const homeCtx = (ctx: Context) => {
    if (!ctx.person) throw new AccessDeniedError("I don't know who you are, so I can't touch the house.");
    return { person: ctx.person, client, permissions, pending, audit, signal: ctx.signal };
  };
  const command = (name: string, description: string, usage: string, adminOnly = false): Command => ({
    name,
    description,
    usage,
    adminOnly,
    async run(ctx) {
      const reply = (await runHaCommand(ctx.msg.text, homeCtx(ctx))) ?? `Usage: /${name} ${usage}`;
      // A held sensitive action gets Confirm/Cancel buttons (inline keyboard on Telegram, a
      // numbered list elsewhere), so whoever may confirm does not have to type the id.
      const held = /^Needs confirmation, id (\d+)/.exec(reply);
      await ctx.reply(held ? { text: reply, buttons: [{ label: "Confirm", command: `/confirm ${held[1]}` }, { label: "Cancel", command: `/cancel ${held[1]}` }] } : reply);
    },
  });
  return {
    name: "home",
    commands: [
      command("ha", "Home Assistant: state, find, on/off, set", "state|find|on|off|set|history ENTITY…"),
      command("confirm", "Confirm a pending home action", "ID"),
      command("cancel", "Cancel a pending home action", "ID"),
      command("audit", "Recent home actions (admins)", "[N]", true),
    ],
    tools: (ctx) => (ctx.person ? createHomeTools(homeCtx(ctx)) : undefined),
    dispose: async () => {
      pending.dispose();
      client.dispose();
    },
  };
}
