import { HearthError } from "../core/errors.ts";
import type { ReplyButton } from "../core/message.ts";
import type { ReceiptService } from "./receiptService.ts";
import { receiptLine } from "./receiptService.ts";
import { parseUserAmount, formatCents } from "./parseAmount.ts";
import { pickReceipts } from "./pickReceipts.ts";
import { EDITABLE_FIELDS } from "./ledger.ts";

/** Reply to a receipts command. */
export interface CommandReply {
  text: string;
  buttons?: ReplyButton[];
}

/** Usage lines, shown for malformed commands. */
export const RECEIPT_USAGE: Record<string, string> = {
  receipts: "Usage: /receipts [year] [patient]   e.g. /receipts 2024 Ann",
  edit: `Usage: /edit ID FIELD VALUE   e.g. /edit 12 total 23.40   (fields: ${EDITABLE_FIELDS.join(", ")})`,
  ok: "Usage: /ok ID   e.g. /ok 12 (the receipt was read right)",
  submitted: "Usage: /submitted ID   e.g. /submitted 12",
  reimbursed: "Usage: /reimbursed ID [amount]   e.g. /reimbursed 12 or /reimbursed 12 15.00",
  hsa: "Usage: /hsa YEAR   e.g. /hsa 2024",
  pick: "Usage: /pick AMOUNT   e.g. /pick 250.00 (picks unclaimed receipts adding up to at most that)",
  fileanyway: "Usage: /fileanyway CODE",
  skip: "Usage: /skip CODE",
};

const LIST_LIMIT = 30;

function id(s: string | undefined): number | undefined {
  return s !== undefined && /^#?\d{1,9}$/.test(s) ? Number(s.replace("#", "")) : undefined;
}

function year(s: string | undefined): number | undefined {
  return s !== undefined && /^(19|20)\d{2}$/.test(s) ? Number(s) : undefined;
}

/**
 * Handle a receipts chat command. Returns `undefined` when `text` is not one of ours, so the
 * router can try other handlers. Never throws for user mistakes: they become a usage line or the
 * error's user message.
 */
export async function handleReceiptCommand(service: ReceiptService, text: string): Promise<CommandReply | undefined> {
  const parts = text.trim().split(/\s+/);
  const cmd = (parts[0] ?? "").toLowerCase().replace(/^\//, "").replace(/@\S+$/, "");
  if (!text.trim().startsWith("/") || !(cmd in RECEIPT_USAGE)) return undefined;
  const args = parts.slice(1);
  const usage = { text: RECEIPT_USAGE[cmd]! };
  const ledger = service.ledger;
  try {
    switch (cmd) {
      case "receipts": {
        let y: number | undefined;
        let patient: string | undefined;
        for (const a of args) {
          if (year(a) !== undefined && y === undefined) y = year(a);
          else if (patient === undefined && /^[\p{L}][\p{L}' .-]{0,40}$/u.test(a)) patient = a;
          else return usage;
        }
        const list = ledger.list({ ...(y !== undefined ? { year: y } : {}), ...(patient ? { patient } : {}) });
        if (list.length === 0) return { text: `No receipts${y ? ` in ${y}` : ""}${patient ? ` for ${patient}` : ""} yet. Send a photo of a receipt to file one.` };
        const shown = list.slice(-LIST_LIMIT);
        return {
          text: [`${list.length} receipt(s)${y ? ` in ${y}` : ""}${patient ? ` for ${patient}` : ""}${list.length > LIST_LIMIT ? ` (latest ${LIST_LIMIT} shown)` : ""}:`, ...shown.map(receiptLine)].join("\n"),
        };
      }
      case "edit": {
        const rid = id(args[0]);
        const field = args[1];
        const value = args.slice(2).join(" ");
        if (rid === undefined || !field || !value) return usage;
        const r = ledger.edit(rid, field, value);
        return { text: `Updated: ${receiptLine(r)}` };
      }
      case "ok": {
        const rid = id(args[0]);
        if (rid === undefined || args.length !== 1) return usage;
        return { text: `Confirmed: ${receiptLine(ledger.confirm(rid))}` };
      }
      case "submitted": {
        const rid = id(args[0]);
        if (rid === undefined || args.length !== 1) return usage;
        return { text: `Marked as submitted: ${receiptLine(ledger.markSubmitted(rid))}` };
      }
      case "reimbursed": {
        const rid = id(args[0]);
        if (rid === undefined || args.length > 2) return usage;
        let cents: number | undefined;
        if (args[1] !== undefined) {
          cents = parseUserAmount(args[1]);
          if (cents === undefined) return usage;
        }
        return { text: `Marked as reimbursed: ${receiptLine(ledger.markReimbursed(rid, cents))}` };
      }
      case "hsa": {
        const y = year(args[0]);
        if (y === undefined || args.length !== 1) return usage;
        const t = ledger.totals(y);
        if (t.count === 0) return { text: `No receipts dated ${y}.` };
        const lines = [
          `HSA ${y}: ${t.count} receipt(s), ${formatCents(t.totalCents)} total.`,
          `Unclaimed: ${formatCents(t.byStatus.unclaimed.cents)} (${t.byStatus.unclaimed.count}) · Submitted: ${formatCents(t.byStatus.submitted.cents)} (${t.byStatus.submitted.count}) · Reimbursed: ${formatCents(t.reimbursedCents)} (${t.byStatus.reimbursed.count})`,
          ...Object.entries(t.byPatient).map(([p, v]) => `• ${p}: ${formatCents(v.cents)} in ${v.count} receipt(s), ${formatCents(v.reimbursedCents)} reimbursed`),
        ];
        return { text: lines.join("\n") };
      }
      case "pick": {
        const cents = args.length === 1 ? parseUserAmount(args[0]!) : undefined;
        if (cents === undefined || cents <= 0) return usage;
        const unclaimed = ledger.list({ status: "unclaimed" }).filter((r): r is typeof r & { amountCents: number } => r.amountCents !== null && r.amountCents > 0);
        if (unclaimed.length === 0) return { text: "There are no unclaimed receipts with an amount to pick from." };
        const res = pickReceipts(unclaimed, cents);
        if (res.picked.length === 0) return { text: `No unclaimed receipt fits within ${formatCents(cents)}; the smallest is ${formatCents(Math.min(...unclaimed.map((r) => r.amountCents)))}.` };
        return {
          text: [
            `These ${res.picked.length} unclaimed receipt(s) add up to ${formatCents(res.totalCents)} of ${formatCents(cents)}${res.totalCents === cents ? " exactly" : ` (${formatCents(cents - res.totalCents)} short)`}:`,
            ...res.picked.map(receiptLine),
            `After you submit the claim, mark each with /submitted ID.`,
          ].join("\n"),
        };
      }
      case "fileanyway": {
        if (args.length !== 1) return usage;
        const r = service.fileAnyway(args[0]!);
        return { text: r.text, ...(r.buttons ? { buttons: r.buttons } : {}) };
      }
      case "skip": {
        if (args.length !== 1) return usage;
        return { text: service.discard(args[0]!).text };
      }
    }
  } catch (err) {
    if (err instanceof HearthError) return { text: err.userMessage };
    throw err;
  }
  return usage;
}
