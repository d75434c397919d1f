import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { InputError, HearthError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";
import { LEDGER_MIGRATIONS } from "./ledgerMigrations.ts";
import { ImageStore } from "./imageStore.ts";
import { HSA_CATEGORIES, type HsaCategory } from "./hsaCategory.ts";
import type { ParsedReceipt } from "./parseReceipt.ts";
import { parseUserAmount, formatCents } from "./parseAmount.ts";
import { parseUserDate, type DateOrder } from "./parseDate.ts";

const log = getLogger("ledger");

/** Claim status of a receipt. */
export type ReceiptStatus = "unclaimed" | "submitted" | "reimbursed";

/** Where a receipt came from (chat message or CLI). */
export interface ReceiptSource {
  transport: string;
  chat?: string;
  message?: string;
}

/** One filed receipt. Amounts are integer cents. */
export interface Receipt {
  id: number;
  patient: string;
  provider: string | null;
  serviceDate: string | null;
  amountCents: number | null;
  currency: string;
  taxCents: number | null;
  category: HsaCategory;
  needsReview: boolean;
  status: ReceiptStatus;
  reimbursedCents: number | null;
  notes: string | null;
  source: ReceiptSource;
  rawOcrText: string | null;
  imageSha256: string;
  imageRef: string;
  /** Set by {@link Ledger.reconcile} when the encrypted image file is gone. */
  imageMissing: boolean;
  createdAt: string;
  updatedAt: string;
}

/** Input of {@link Ledger.fileReceipt}. */
export interface FileReceiptInput {
  /** Original image bytes exactly as received. */
  bytes: Uint8Array;
  parsed: ParsedReceipt;
  patient: string;
  source: ReceiptSource;
  /** File even when a receipt with the same provider, date and amount exists. */
  force?: boolean;
  rawOcrText?: string;
  notes?: string;
}

/** Outcome of {@link Ledger.fileReceipt}. */
export type FileReceiptResult =
  | { status: "filed"; receipt: Receipt }
  | { status: "duplicate-image"; existingId: number }
  | { status: "suspected-duplicate"; existing: Receipt };

/** Fields `/edit` can change. */
export const EDITABLE_FIELDS = ["total", "date", "provider", "patient", "category", "notes", "tax"] as const;
/** One of {@link EDITABLE_FIELDS}. */
export type EditableField = (typeof EDITABLE_FIELDS)[number];

/** Sums for {@link Ledger.totals}. */
export interface LedgerTotals {
  year: number;
  count: number;
  totalCents: number;
  byStatus: Record<ReceiptStatus, { count: number; cents: number }>;
  reimbursedCents: number;
  byPatient: Record<string, { count: number; cents: number; reimbursedCents: number }>;
}

/** What {@link Ledger.reconcile} found and fixed. */
export interface ReconcileReport {
  orphanImagesRemoved: number;
  tempFilesRemoved: number;
  /** Receipt ids whose image file is missing (flagged `image_missing`, `needs_review`). */
  missingImages: number[];
}

/** Options for {@link Ledger.open}. */
export interface LedgerOptions {
  /** SQLite file path. */
  dbPath: string;
  /** Folder for encrypted images. Default: `receipt-images` next to the database. */
  imageDir?: string;
  /** 32-byte key for image encryption and naming (from the vault). */
  imageKey: Uint8Array;
  /** How typed dates in `/edit` are read. Default MDY. */
  dateOrder?: DateOrder;
}

interface Row {
  id: number;
  patient: string;
  provider: string | null;
  service_date: string | null;
  amount_cents: number | null;
  currency: string;
  tax_cents: number | null;
  category: string;
  needs_review: number;
  status: ReceiptStatus;
  reimbursed_cents: number | null;
  notes: string | null;
  source_transport: string | null;
  source_chat: string | null;
  source_message: string | null;
  raw_ocr_text: string | null;
  image_sha256: string;
  image_ref: string;
  image_missing: number;
  created_at: string;
  updated_at: string;
}

function toReceipt(r: Row): Receipt {
  return {
    id: r.id,
    patient: r.patient,
    provider: r.provider,
    serviceDate: r.service_date,
    amountCents: r.amount_cents,
    currency: r.currency,
    taxCents: r.tax_cents,
    category: (HSA_CATEGORIES as readonly string[]).includes(r.category) ? (r.category as HsaCategory) : "other",
    needsReview: r.needs_review === 1,
    status: r.status,
    reimbursedCents: r.reimbursed_cents,
    notes: r.notes,
    source: { transport: r.source_transport ?? "unknown", ...(r.source_chat ? { chat: r.source_chat } : {}), ...(r.source_message ? { message: r.source_message } : {}) },
    rawOcrText: r.raw_ocr_text,
    imageSha256: r.image_sha256,
    imageRef: r.image_ref,
    imageMissing: r.image_missing === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Apply pending {@link LEDGER_MIGRATIONS}, each in its own transaction. */
export function migrateLedger(db: Database.Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > LEDGER_MIGRATIONS.length) {
    throw new HearthError("LEDGER_TOO_NEW", "The receipts database was created by a newer Hearth; upgrade Hearth before opening it.");
  }
  for (let v = current; v < LEDGER_MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(LEDGER_MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/**
 * The HSA ledger: receipts in SQLite (WAL) plus their encrypted original images.
 *
 * Filing is crash-safe: the image is durably stored before the row is committed, and
 * {@link reconcile} (run at startup) removes images that never got a row and flags rows whose
 * image is gone.
 */
export class Ledger {
  readonly db: Database.Database;
  readonly images: ImageStore;
  readonly #dateOrder: DateOrder;

  private constructor(db: Database.Database, images: ImageStore, dateOrder: DateOrder) {
    this.db = db;
    this.images = images;
    this.#dateOrder = dateOrder;
  }

  /** Open or create the ledger. */
  static async open(options: LedgerOptions): Promise<Ledger> {
    mkdirSync(path.dirname(options.dbPath), { recursive: true, mode: 0o700 });
    const images = await ImageStore.open(options.imageDir ?? path.join(path.dirname(options.dbPath), "receipt-images"), options.imageKey);
    let db: Database.Database;
    try {
      db = new Database(options.dbPath);
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      db.pragma("busy_timeout = 5000");
      migrateLedger(db);
    } catch (err) {
      if (err instanceof HearthError) throw err;
      throw new HearthError("LEDGER_OPEN_FAILED", `The receipts database at ${options.dbPath} cannot be opened; check the path and permissions.`, { cause: err });
    }
    return new Ledger(db, images, options.dateOrder ?? "MDY");
  }

  /**
   * File a receipt: refuse an image already on file, ask before filing a likely duplicate
   * (same provider, date and amount) unless `force`, otherwise store image then row.
   */
  fileReceipt(input: FileReceiptInput): FileReceiptResult {
    const sha = createHash("sha256").update(input.bytes).digest("hex");
    const same = this.db.prepare("SELECT id FROM receipts WHERE image_sha256 = ?").get(sha) as { id: number } | undefined;
    if (same) return { status: "duplicate-image", existingId: same.id };
    const p = input.parsed;
    const provider = p.merchant.value;
    const date = p.date.value;
    const amount = p.total.value;
    if (!input.force && provider && date && amount !== null) {
      const row = this.db
        .prepare("SELECT * FROM receipts WHERE lower(provider) = lower(?) AND service_date = ? AND amount_cents = ? ORDER BY id LIMIT 1")
        .get(provider, date, amount) as Row | undefined;
      if (row) return { status: "suspected-duplicate", existing: toReceipt(row) };
    }
    // Durable image first: a crash after this leaves an orphan file that reconcile() removes.
    const ref = this.images.put(input.bytes);
    const now = new Date().toISOString();
    try {
      const info = this.db
        .prepare(
          `INSERT INTO receipts (patient, provider, service_date, amount_cents, currency, tax_cents, category, needs_review, notes,
             source_transport, source_chat, source_message, raw_ocr_text, parse_json, image_sha256, image_ref, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          input.patient,
          provider,
          date,
          amount,
          p.currency,
          p.tax.value,
          p.category.category,
          p.needsReview ? 1 : 0,
          input.notes ?? null,
          input.source.transport,
          input.source.chat ?? null,
          input.source.message ?? null,
          input.rawOcrText ?? null,
          JSON.stringify(p),
          sha,
          ref,
          now,
          now,
        );
      return { status: "filed", receipt: this.get(Number(info.lastInsertRowid)) };
    } catch (err) {
      const raced = this.db.prepare("SELECT id FROM receipts WHERE image_sha256 = ?").get(sha) as { id: number } | undefined;
      if (raced) return { status: "duplicate-image", existingId: raced.id };
      throw err;
    }
  }

  /** The receipt with `id`, or an {@link InputError} saying it does not exist. */
  get(id: number): Receipt {
    const row = this.db.prepare("SELECT * FROM receipts WHERE id = ?").get(id) as Row | undefined;
    if (!row) throw new InputError("RECEIPT_NOT_FOUND", `There is no receipt #${id}. Use /receipts to see the list.`);
    return toReceipt(row);
  }

  /** Receipts filtered by year of service date, patient (case-insensitive), status or ids; oldest first. */
  list(filter: { year?: number; patient?: string; status?: ReceiptStatus; ids?: number[] } = {}): Receipt[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.year !== undefined) {
      where.push("substr(coalesce(service_date, created_at), 1, 4) = ?");
      args.push(String(filter.year));
    }
    if (filter.patient) {
      where.push("lower(patient) = lower(?)");
      args.push(filter.patient);
    }
    if (filter.status) {
      where.push("status = ?");
      args.push(filter.status);
    }
    if (filter.ids) {
      where.push(`id IN (${filter.ids.map(() => "?").join(",") || "NULL"})`);
      args.push(...filter.ids);
    }
    const sql = `SELECT * FROM receipts ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY coalesce(service_date, substr(created_at,1,10)), id`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(toReceipt);
  }

  #update(id: number, column: string, value: unknown): Receipt {
    this.get(id);
    this.db.prepare(`UPDATE receipts SET ${column} = ?, updated_at = ? WHERE id = ?`).run(value, new Date().toISOString(), id);
    return this.get(id);
  }

  /**
   * Change one field from user text (`/edit 12 total 23.40`). Throws {@link InputError} with
   * the accepted format when the value does not parse.
   */
  edit(id: number, field: string, value: string): Receipt {
    const f = field.toLowerCase();
    const v = value.trim();
    switch (f) {
      case "total":
      case "amount": {
        const cents = parseUserAmount(v);
        if (cents === undefined) throw new InputError("EDIT_BAD_AMOUNT", `"${v}" is not an amount. Example: /edit ${id} total 23.40`);
        return this.#update(id, "amount_cents", cents);
      }
      case "tax": {
        const cents = parseUserAmount(v);
        if (cents === undefined) throw new InputError("EDIT_BAD_AMOUNT", `"${v}" is not an amount. Example: /edit ${id} tax 1.20`);
        return this.#update(id, "tax_cents", cents);
      }
      case "date": {
        const iso = parseUserDate(v, this.#dateOrder);
        if (!iso) throw new InputError("EDIT_BAD_DATE", `"${v}" is not a date. Example: /edit ${id} date 2024-03-05`);
        return this.#update(id, "service_date", iso);
      }
      case "provider":
      case "merchant":
        if (!v || v.length > 200) throw new InputError("EDIT_BAD_TEXT", `Give the provider name (1–200 characters). Example: /edit ${id} provider Dr. Smith`);
        return this.#update(id, "provider", v);
      case "patient":
        if (!v || v.length > 100) throw new InputError("EDIT_BAD_TEXT", `Give the patient's name. Example: /edit ${id} patient Ann`);
        return this.#update(id, "patient", v);
      case "category": {
        const c = v.toLowerCase();
        if (!(HSA_CATEGORIES as readonly string[]).includes(c)) throw new InputError("EDIT_BAD_CATEGORY", `Category must be one of: ${HSA_CATEGORIES.join(", ")}.`);
        return this.#update(id, "category", c);
      }
      case "notes":
        if (v.length > 2000) throw new InputError("EDIT_BAD_TEXT", "Notes are limited to 2000 characters.");
        return this.#update(id, "notes", v || null);
      default:
        throw new InputError("EDIT_BAD_FIELD", `I can't edit "${field}". Fields: ${EDITABLE_FIELDS.join(", ")}.`);
    }
  }

  /** Mark a receipt as checked by a person (clears `needs_review`). */
  confirm(id: number): Receipt {
    return this.#update(id, "needs_review", 0);
  }

  /** unclaimed → submitted. */
  markSubmitted(id: number): Receipt {
    const r = this.get(id);
    if (r.status === "reimbursed") throw new InputError("RECEIPT_ALREADY_REIMBURSED", `Receipt #${id} is already reimbursed.`);
    return this.#update(id, "status", "submitted");
  }

  /** → reimbursed, for the full amount or `cents` (partial reimbursement). */
  markReimbursed(id: number, cents?: number): Receipt {
    const r = this.get(id);
    const amount = cents ?? r.amountCents;
    if (amount === null) throw new InputError("REIMBURSE_NO_AMOUNT", `Receipt #${id} has no total yet; set it with /edit ${id} total 23.40 or give the amount: /reimbursed ${id} 23.40`);
    if (amount <= 0) throw new InputError("REIMBURSE_BAD_AMOUNT", "The reimbursed amount must be more than zero.");
    if (r.amountCents !== null && amount > r.amountCents) {
      throw new InputError("REIMBURSE_TOO_MUCH", `That is more than receipt #${id}'s total (${formatCents(r.amountCents, r.currency)}).`);
    }
    this.db.prepare("UPDATE receipts SET status = 'reimbursed', reimbursed_cents = ?, updated_at = ? WHERE id = ?").run(amount, new Date().toISOString(), id);
    return this.get(id);
  }

  /** Sums for a year by status and by patient. */
  totals(year: number): LedgerTotals {
    const out: LedgerTotals = {
      year,
      count: 0,
      totalCents: 0,
      reimbursedCents: 0,
      byStatus: { unclaimed: { count: 0, cents: 0 }, submitted: { count: 0, cents: 0 }, reimbursed: { count: 0, cents: 0 } },
      byPatient: {},
    };
    for (const r of this.list({ year })) {
      const cents = r.amountCents ?? 0;
      out.count++;
      out.totalCents += cents;
      out.reimbursedCents += r.reimbursedCents ?? 0;
      out.byStatus[r.status].count++;
      out.byStatus[r.status].cents += cents;
      const p = (out.byPatient[r.patient] ??= { count: 0, cents: 0, reimbursedCents: 0 });
      p.count++;
      p.cents += cents;
      p.reimbursedCents += r.reimbursedCents ?? 0;
    }
    return out;
  }

  /** Decrypt the original image of receipt `id`. */
  readImage(id: number): Uint8Array {
    return this.images.get(this.get(id).imageRef);
  }

  /** Remove orphan and temp image files; flag rows whose image is missing. Run at startup. */
  reconcile(): ReconcileReport {
    const tempFilesRemoved = this.images.removeStaleTemps();
    const refs = new Set((this.db.prepare("SELECT image_ref FROM receipts").all() as { image_ref: string }[]).map((r) => r.image_ref));
    let orphanImagesRemoved = 0;
    for (const ref of this.images.listRefs()) {
      if (!refs.has(ref)) {
        this.images.remove(ref);
        orphanImagesRemoved++;
      }
    }
    const missingImages: number[] = [];
    const rows = this.db.prepare("SELECT id, image_ref, image_missing FROM receipts").all() as { id: number; image_ref: string; image_missing: number }[];
    for (const r of rows) {
      const present = this.images.has(r.image_ref);
      if (!present) missingImages.push(r.id);
      if (present !== (r.image_missing === 0)) {
        this.db.prepare("UPDATE receipts SET image_missing = ?, needs_review = CASE WHEN ? THEN 1 ELSE needs_review END WHERE id = ?").run(present ? 0 : 1, present ? 0 : 1, r.id);
      }
    }
    if (orphanImagesRemoved || tempFilesRemoved || missingImages.length) log.warn({ orphanImagesRemoved, tempFilesRemoved, missingImages }, "receipt store reconciled");
    return { orphanImagesRemoved, tempFilesRemoved, missingImages };
  }

  /** Close the database. */
  dispose(): void {
    if (this.db.open) this.db.close();
  }
}
