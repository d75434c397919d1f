import type { Feature } from "./hearthApp.ts";
import type { Command } from "../core/commands.ts";
import { maxImageBytes, type HearthConfig } from "../core/config.ts";
import type { Context } from "../core/context.ts";
import { InputError } from "../core/errors.ts";
import { handleReceiptCommand, RECEIPT_USAGE } from "../receipts/receiptCommands.ts";
import type { ReceiptService } from "../receipts/receiptService.ts";

const DESCRIPTIONS: Record<string, string> = {
  receipts: "List filed HSA receipts",
  edit: "Correct a receipt field",
  ok: "Mark a receipt as read correctly",
  submitted: "Mark a receipt as submitted for reimbursement",
  reimbursed: "Mark a receipt as (partly) reimbursed",
  hsa: "HSA totals for a year by status and person",
  pick: "Pick unclaimed receipts adding up to an amount",
  fileanyway: "File a suspected duplicate anyway",
  skip: "Drop a suspected duplicate",
};

/** Options for {@link receiptsFeature}. */
export interface ReceiptsFeatureOptions {
  config: HearthConfig;
  service: ReceiptService;
  dispose: () => Promise<void>;
}

/** Receipts in the app: photos become ledger entries; `/receipts`, `/edit`, `/hsa`, … */
export function receiptsFeature(options: ReceiptsFeatureOptions): Feature {
  const { config, service } = options;
  const maxBytes = maxImageBytes(config);
  const allowedHere = (ctx: Context) => {
    if (ctx.msg.transport === "telegram" && !config.telegram.allowReceipts) {
      throw new InputError("RECEIPTS_OFF_HERE", "Receipts are kept off Telegram in this household (it is not end-to-end encrypted). Send the photo over Matrix or use `hearth receipts add` at home.");
    }
  };
  const commands: Command[] = Object.keys(RECEIPT_USAGE).map((name) => ({
    name,
    description: DESCRIPTIONS[name] ?? name,
    usage: RECEIPT_USAGE[name]!.replace(/^Usage: \/\S+\s*/, "").split("   ")[0]!,
    async run(ctx) {
      allowedHere(ctx);
      const reply = await handleReceiptCommand(service, ctx.msg.text);
      await ctx.reply(reply ? { text: reply.text, ...(reply.buttons ? { buttons: reply.buttons } : {}) } : RECEIPT_USAGE[name]!);
    },
  }));
  return {
    name: "receipts",
    commands,
    async image(ctx) {
      allowedHere(ctx);
      const images = ctx.msg.attachments.filter((a) => a.kind === "image" || /^image\//.test(a.mimeType ?? ""));
      if (images.length === 0) {
        throw new InputError("NOT_AN_IMAGE", "I can only read photos of receipts (JPEG, PNG or WebP). For a PDF, send a screenshot of it.");
      }
      for (const attachment of images) {
        const bytes = await attachment.fetch({ maxBytes, signal: ctx.signal });
        await ctx.transport.setTyping?.(ctx.msg.chatId, true).catch(() => undefined);
        const reply = await service.handleImage(bytes, {
          patient: ctx.person?.name ?? ctx.msg.sender.displayName,
          source: { transport: ctx.msg.transport, chat: ctx.msg.chatId, message: ctx.msg.id },
          signal: ctx.signal,
        });
        await ctx.reply({ text: reply.text, ...(reply.buttons ? { buttons: reply.buttons } : {}) });
      }
    },
    dispose: options.dispose,
  };
}
