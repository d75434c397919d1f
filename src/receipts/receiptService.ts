import { randomBytes } from "node:crypto";
import type { ReplyButton } from "../core/message.ts";
import { HearthError, AbortedError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";
import type { OcrResult, RecognizeOptions } from "../ocr/ocrEngine.ts";
import { parseReceiptAssisted, type LlmAssist, type ParseOptions, type ParsedReceipt, type Field } from "./parseReceipt.ts";
import type { Ledger, Receipt, ReceiptSource } from "./ledger.ts";
import { formatCents } from "./parseAmount.ts";

const log = getLogger("receipts");

/** A reply for the chat: text plus optional buttons. */
export interface ServiceReply {
  text: string;
  buttons?: ReplyButton[];
  /** What happened, for callers that branch on it (CLI, tests). */
  outcome: "filed" | "duplicate-image" | "suspected-duplicate" | "rejected" | "discarded";
  receiptId?: number;
}

/** Dependencies and settings of {@link ReceiptService}. */
export interface ReceiptServiceOptions {
  ledger: Ledger;
  /** The OCR engine (anything with its `recognize`). */
  ocr: { recognize(bytes: Uint8Array, options?: RecognizeOptions): Promise<OcrResult> };
  parse?: ParseOptions;
  llmAssist?: LlmAssist;
  /** How long a suspected duplicate waits for "file anyway". Default 1 hour. */
  pendingTtlMs?: number;
}

/** What {@link ReceiptService.read} found in a photo. */
export interface ReadReceipt {
  /** The OCR text (already redacted by the OCR wrapper when a vault is in use). */
  text: string;
  parsed: ParsedReceipt;
}

interface Pending {
  bytes: Uint8Array;
  parsed: ParsedReceipt;
  text: string;
  patient: string;
  source: ReceiptSource;
  expires: number;
}

/** Plain-words confidence: people read "sure" more easily than 0.83. */
export function confidenceWords(c: number): string {
  return c >= 0.85 ? "sure" : c >= 0.6 ? "fairly sure" : c > 0 ? "unsure, please check" : "not found";
}

function describe<T>(label: string, f: Field<T>, show: (v: T) => string): string {
  return f.value === null ? `${label}: not found` : `${label}: ${show(f.value)} (${confidenceWords(f.confidence)})`;
}

/** Summary lines of a receipt for chat. */
export function describeParsed(p: ParsedReceipt): string[] {
  return [
    describe("Provider", p.merchant, (v) => v),
    describe("Date", p.date, (v) => v),
    describe("Total", p.total, (v) => formatCents(v, p.currency)),
    ...(p.tax.value !== null ? [describe("Tax", p.tax, (v) => formatCents(v, p.currency))] : []),
    ...(p.cardLast4.value !== null ? [`Card: ····${p.cardLast4.value}`] : []),
    `Category (suggested): ${p.category.category}${p.category.needsReview ? " (please check)" : ""}`,
  ];
}

/**
 * Turns a receipt photo into a ledger entry and a chat reply: OCR → parse (optionally with the
 * LLM's help) → file, holding suspected duplicates until the person says "file anyway".
 */
export class ReceiptService {
  readonly ledger: Ledger;
  readonly #opts: ReceiptServiceOptions;
  readonly #pending = new Map<string, Pending>();

  constructor(options: ReceiptServiceOptions) {
    this.#opts = options;
    this.ledger = options.ledger;
  }

  /**
   * Read, parse and file a receipt photo. Problems with the image come back as a reply that says
   * what to send instead; only unexpected failures throw.
   */
  async handleImage(bytes: Uint8Array, ctx: { patient: string; source: ReceiptSource; signal?: AbortSignal; force?: boolean }): Promise<ServiceReply> {
    const read = await this.read(bytes, ctx.signal ? { signal: ctx.signal } : {});
    return "reply" in read ? read.reply : this.fileRead(bytes, read, ctx);
  }

  /**
   * The slow half of {@link handleImage}: OCR and parse, without touching the ledger, so a batch
   * can read several photos at once (keeping every OCR worker busy) and still file them in order. A photo
   * that cannot be read comes back as a `reply` saying what to send instead.
   */
  async read(bytes: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<ReadReceipt | { reply: ServiceReply }> {
    try {
      const ocr = await this.#opts.ocr.recognize(bytes, options.signal ? { signal: options.signal } : {});
      const parsed = await parseReceiptAssisted(ocr.text, {
        ...this.#opts.parse,
        ...(this.#opts.llmAssist ? { llmAssist: this.#opts.llmAssist } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return { text: ocr.text, parsed };
    } catch (err) {
      if (err instanceof AbortedError) throw err;
      if (err instanceof HearthError) return { reply: { text: err.userMessage, outcome: "rejected" } };
      throw err;
    }
  }

  /** The quick half of {@link handleImage}: file what {@link read} found (synchronous, so atomic). */
  fileRead(bytes: Uint8Array, read: ReadReceipt, ctx: { patient: string; source: ReceiptSource; force?: boolean }): ServiceReply {
    return this.#file({ bytes, parsed: read.parsed, text: read.text, patient: ctx.patient, source: ctx.source, expires: 0 }, ctx.force ?? false);
  }

  #file(p: Pending, force: boolean): ServiceReply {
    const result = this.ledger.fileReceipt({ bytes: p.bytes, parsed: p.parsed, patient: p.patient, source: p.source, rawOcrText: p.text, force });
    if (result.status === "duplicate-image") {
      return { text: `I already have this exact photo as receipt #${result.existingId}. Nothing new was filed.`, outcome: "duplicate-image", receiptId: result.existingId };
    }
    if (result.status === "suspected-duplicate") {
      this.#sweep();
      const token = randomBytes(4).toString("hex");
      this.#pending.set(token, { ...p, expires: Date.now() + (this.#opts.pendingTtlMs ?? 3_600_000) });
      const e = result.existing;
      return {
        text: [
          `This looks like receipt #${e.id} already on file (${e.provider}, ${e.serviceDate}, ${formatCents(e.amountCents ?? 0, e.currency)}).`,
          "Is it a different visit? Reply /fileanyway " + token + " to file it, or /skip " + token + ".",
        ].join("\n"),
        buttons: [
          { label: "File anyway", command: `/fileanyway ${token}` },
          { label: "Skip", command: `/skip ${token}` },
        ],
        outcome: "suspected-duplicate",
        receiptId: e.id,
      };
    }
    const r = result.receipt;
    log.info({ id: r.id, needsReview: r.needsReview }, "receipt filed");
    return {
      text: [
        `Filed as receipt #${r.id} for ${r.patient}. Here is what I read:`,
        ...describeParsed(p.parsed).map((l) => `• ${l}`),
        ...(p.parsed.isExplanationOfBenefits ? ["This looks like an Explanation of Benefits, not a receipt; keep the provider's bill too."] : []),
        r.needsReview ? `Please check it: reply /ok ${r.id} if it's right, or fix a field, e.g. /edit ${r.id} total 23.40` : `Reply /edit ${r.id} total 23.40 (or date, provider, patient, category, notes) to fix anything.`,
        "Whether an expense is HSA-eligible is for you to decide; I only suggest a category.",
      ].join("\n"),
      buttons: [
        { label: "Looks right", command: `/ok ${r.id}` },
        { label: "Edit total", command: `/edit ${r.id} total ` },
      ],
      outcome: "filed",
      receiptId: r.id,
    };
  }

  #sweep(): void {
    const now = Date.now();
    for (const [k, v] of this.#pending) if (v.expires < now) this.#pending.delete(k);
  }

  /** File a held suspected duplicate ("file anyway"). */
  fileAnyway(token: string): ServiceReply {
    this.#sweep();
    const p = this.#pending.get(token);
    if (!p) return { text: "That request has expired or was already handled; send the photo again.", outcome: "rejected" };
    this.#pending.delete(token);
    return this.#file(p, true);
  }

  /** Drop a held suspected duplicate. */
  discard(token: string): ServiceReply {
    const had = this.#pending.delete(token);
    return { text: had ? "OK, not filed." : "Nothing to skip; that request has expired or was already handled.", outcome: "discarded" };
  }

  /** Number of suspected duplicates waiting for an answer. */
  get pendingCount(): number {
    this.#sweep();
    return this.#pending.size;
  }

  /** Forget held images. (The ledger and OCR engine are owned, and disposed, by the caller.) */
  dispose(): void {
    this.#pending.clear();
  }
}

/** One-line description of a filed receipt. */
export function receiptLine(r: Receipt): string {
  const amount = r.amountCents === null ? "?" : formatCents(r.amountCents, r.currency);
  const reimb = r.status === "reimbursed" && r.reimbursedCents !== null && r.reimbursedCents !== r.amountCents ? ` (${formatCents(r.reimbursedCents, r.currency)} back)` : "";
  return `#${r.id} ${r.serviceDate ?? "????-??-??"} ${r.patient} · ${r.provider ?? "unknown"} · ${amount} · ${r.category} · ${r.status}${reimb}${r.needsReview ? " · check" : ""}${r.imageMissing ? " · IMAGE MISSING" : ""}`;
}
