import { zipSync, type Zippable } from "fflate";
import PDFDocument from "pdfkit";
import sharp from "sharp";
import type { Ledger, Receipt, ReceiptStatus } from "./ledger.ts";
import { formatCents } from "./parseAmount.ts";
import { sniffImageFormat } from "../ocr/imageFormat.ts";
import { getLogger } from "../core/logger.ts";

const log = getLogger("receipts-export");

/** Which receipts to export. */
export interface ExportSelection {
  year?: number;
  patient?: string;
  status?: ReceiptStatus;
  ids?: number[];
}

/** CSV columns, in order. */
export const CSV_COLUMNS = ["id", "service_date", "patient", "provider", "amount", "currency", "tax", "category", "status", "reimbursed", "needs_review", "notes", "image_sha256"] as const;

/** Quote one CSV field per RFC 4180 (quotes doubled; quoted when it holds `,` `"` CR or LF). */
export function csvField(value: string | number | null | undefined): string {
  const s = value === null || value === undefined ? "" : String(value);
  // A leading = + - @ would make spreadsheets run the cell as a formula; prefix a quote.
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function money(cents: number | null): string {
  return cents === null ? "" : (cents / 100).toFixed(2);
}

/** The selected receipts as CSV (CRLF line ends, header row). */
export function exportCsv(ledger: Ledger, selection: ExportSelection = {}): string {
  const rows = [CSV_COLUMNS.join(",")];
  for (const r of ledger.list(selection)) {
    rows.push(
      [r.id, r.serviceDate, r.patient, r.provider, money(r.amountCents), r.currency, money(r.taxCents), r.category, r.status, money(r.reimbursedCents), r.needsReview ? "yes" : "no", r.notes, r.imageSha256]
        .map(csvField)
        .join(","),
    );
  }
  return rows.join("\r\n") + "\r\n";
}

function slug(s: string | null): string {
  return (s ?? "unknown").normalize("NFKD").replace(/[^\w]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "unknown";
}

function extensionOf(bytes: Uint8Array): string {
  const f = sniffImageFormat(bytes);
  return f === "jpeg" ? "jpg" : f === "png" || f === "webp" ? f : "bin";
}

/** `YYYY-MM-DD_provider_amount.ext` (the real image format decides the extension). */
export function exportFileName(r: Receipt, bytes: Uint8Array): string {
  return `${r.serviceDate ?? "undated"}_${slug(r.provider)}_${money(r.amountCents) || "0.00"}.${extensionOf(bytes)}`;
}

/** ZIP of the decrypted original images (unchanged bytes) plus `receipts.csv`. */
export function exportZip(ledger: Ledger, selection: ExportSelection = {}): Uint8Array {
  const files: Zippable = {};
  const used = new Set<string>();
  for (const r of ledger.list(selection)) {
    let bytes: Uint8Array;
    try {
      bytes = ledger.readImage(r.id);
    } catch (err) {
      log.warn({ id: r.id, err: (err as Error).message }, "image missing from export");
      continue;
    }
    let name = exportFileName(r, bytes);
    for (let k = 2; used.has(name); k++) name = name.replace(/(?:_\d+)?(\.\w+)$/, `_${k}$1`);
    used.add(name);
    // Images are already compressed; storing them avoids wasted CPU.
    files[name] = [bytes, { level: 0 }];
  }
  files["receipts.csv"] = new TextEncoder().encode(exportCsv(ledger, selection));
  return zipSync(files);
}

/**
 * PDF claim packet: a summary table, then one page per receipt with its details and image
 * (PNG/WebP converted to JPEG for embedding).
 */
export async function exportPdf(ledger: Ledger, selection: ExportSelection = {}, options: { title?: string; signal?: AbortSignal } = {}): Promise<Buffer> {
  const receipts = ledger.list(selection);
  const doc = new PDFDocument({ size: "LETTER", margin: 50, info: { Title: options.title ?? "HSA claim packet", Producer: "Hearth" } });
  const chunks: Buffer[] = [];
  doc.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    doc.on("end", () => resolve());
    doc.on("error", reject);
  });
  doc.fontSize(18).text(options.title ?? "HSA claim packet");
  doc.moveDown(0.3).fontSize(10).fillColor("#444").text(`Generated ${new Date().toISOString().slice(0, 10)} · ${receipts.length} receipt(s)`).fillColor("black");
  doc.moveDown();
  const cols = [40, 75, 80, 160, 70, 75];
  const header = ["#", "Date", "Patient", "Provider", "Amount", "Status"];
  const row = (cells: string[], bold = false): void => {
    const y = doc.y;
    let x = doc.page.margins.left;
    doc.font(bold ? "Helvetica-Bold" : "Helvetica").fontSize(9);
    cells.forEach((c, i) => {
      doc.text(c, x, y, { width: cols[i]! - 4, height: 11, ellipsis: true, lineBreak: false });
      x += cols[i]!;
    });
    doc.x = doc.page.margins.left;
    doc.y = y + 14;
    if (doc.y > doc.page.height - doc.page.margins.bottom - 20) doc.addPage();
  };
  row(header, true);
  let sum = 0;
  for (const r of receipts) {
    sum += r.amountCents ?? 0;
    row([String(r.id), r.serviceDate ?? "?", r.patient, r.provider ?? "?", r.amountCents === null ? "?" : formatCents(r.amountCents), r.status]);
  }
  row(["", "", "", "Total", formatCents(sum), ""], true);
  for (const r of receipts) {
    if (options.signal?.aborted) break;
    doc.addPage();
    doc.font("Helvetica-Bold").fontSize(13).text(`Receipt #${r.id} — ${r.provider ?? "unknown provider"}`);
    doc.font("Helvetica").fontSize(10).text(
      `Date: ${r.serviceDate ?? "?"}   Patient: ${r.patient}   Amount: ${r.amountCents === null ? "?" : formatCents(r.amountCents, r.currency)}   Category: ${r.category}   Status: ${r.status}`,
    );
    if (r.notes) doc.text(`Notes: ${r.notes}`);
    doc.moveDown(0.5);
    try {
      const bytes = ledger.readImage(r.id);
      const jpeg = sniffImageFormat(bytes) === "jpeg" ? Buffer.from(bytes) : await sharp(bytes).rotate().jpeg({ quality: 85 }).toBuffer();
      const top = doc.y;
      doc.image(jpeg, doc.page.margins.left, top, {
        fit: [doc.page.width - doc.page.margins.left - doc.page.margins.right, doc.page.height - top - doc.page.margins.bottom],
        align: "center",
      });
    } catch (err) {
      doc.fillColor("red").text(`(image unavailable: ${(err as Error).message})`).fillColor("black");
    }
  }
  doc.end();
  await done;
  return Buffer.concat(chunks);
}
