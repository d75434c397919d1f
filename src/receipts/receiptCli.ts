import { readFile, writeFile, stat } from "node:fs/promises";
import path from "node:path";
import { HearthError, InputError } from "../core/errors.ts";
import type { ReadReceipt, ReceiptService } from "./receiptService.ts";
import { receiptLine } from "./receiptService.ts";
import { exportCsv, exportZip, exportPdf } from "./export.ts";
import { pickReceipts } from "./pickReceipts.ts";
import { parseUserAmount, formatCents } from "./parseAmount.ts";
import type { Receipt } from "./ledger.ts";

/** Outcome of one file in {@link addFiles}. */
export interface AddFileOutcome {
  file: string;
  outcome: "filed" | "duplicate-image" | "suspected-duplicate" | "rejected" | "error";
  receiptId?: number;
  message: string;
}

/** Progress callback: called after each file (for a cli-progress bar). */
export type AddProgress = (done: number, total: number, last: AddFileOutcome) => void;

/** Maximum file size read from disk before the OCR's own checks (keeps a 200 MB file out of memory). */
const CLI_MAX_BYTES = 25 * 1024 * 1024;

/**
 * `hearth receipts add FILE...`: file each image; one bad file never stops the batch. Up to
 * `concurrency` photos are read at once (at least the OCR pool's size, so every worker is busy),
 * and they are filed strictly in the order given, so receipt numbers follow the command line.
 * Returns every file's outcome (print them, or `JSON.stringify` them with `--json`).
 */
export async function addFiles(
  service: ReceiptService,
  files: string[],
  options: { patient: string; force?: boolean; onProgress?: AddProgress; signal?: AbortSignal; maxBytes?: number; concurrency?: number },
): Promise<AddFileOutcome[]> {
  const limit = options.maxBytes ?? CLI_MAX_BYTES;
  const failed = (file: string, err: unknown): AddFileOutcome => {
    const message = err instanceof HearthError ? err.userMessage : (err as NodeJS.ErrnoException).code === "ENOENT" ? `${file} does not exist.` : `Unexpected error: ${(err as Error).message}`;
    return { file, outcome: err instanceof HearthError ? "rejected" : "error", message };
  };
  /** Read one file and OCR it; never rejects (a failure is an outcome). */
  const prepare = async (file: string): Promise<{ bytes: Uint8Array; read: ReadReceipt } | AddFileOutcome> => {
    try {
      const info = await stat(file);
      if (!info.isFile()) throw new InputError("CLI_NOT_A_FILE", `${file} is not a file.`);
      if (info.size > limit) throw new InputError("IMAGE_TOO_LARGE", `${path.basename(file)} is ${Math.round(info.size / 1048576)} MB; the limit is ${Math.round(limit / 1048576)} MB.`);
      const bytes = await readFile(file);
      const read = await service.read(bytes, options.signal ? { signal: options.signal } : {});
      if ("reply" in read) return { file, outcome: "rejected", message: read.reply.text };
      return { bytes, read };
    } catch (err) {
      return failed(file, err);
    }
  };
  const ahead = Math.max(1, options.concurrency ?? 1);
  const inFlight: Array<Promise<{ bytes: Uint8Array; read: ReadReceipt } | AddFileOutcome>> = [];
  let started = 0;
  const fill = (): void => {
    while (started < files.length && inFlight.length < ahead && !options.signal?.aborted) inFlight.push(prepare(files[started++]!));
  };
  const out: AddFileOutcome[] = [];
  fill();
  while (inFlight.length > 0) {
    const file = files[out.length]!;
    const ready = await inFlight.shift()!;
    fill();
    let result: AddFileOutcome;
    if ("outcome" in ready) result = ready;
    else {
      try {
        const reply = service.fileRead(ready.bytes, ready.read, { patient: options.patient, source: { transport: "cli", message: path.resolve(file) }, ...(options.force ? { force: true } : {}) });
        result = { file, outcome: reply.outcome === "discarded" ? "rejected" : reply.outcome, message: reply.text, ...(reply.receiptId !== undefined ? { receiptId: reply.receiptId } : {}) };
      } catch (err) {
        result = failed(file, err);
      }
    }
    out.push(result);
    options.onProgress?.(out.length, files.length, result);
  }
  return out;
}

/** `hearth receipts list`: text lines, or JSON when `json`. */
export function listReceipts(service: ReceiptService, options: { year?: number; patient?: string; json?: boolean }): string {
  const list = service.ledger.list({ ...(options.year !== undefined ? { year: options.year } : {}), ...(options.patient ? { patient: options.patient } : {}) });
  if (options.json) return JSON.stringify(list.map(({ rawOcrText: _omit, ...r }) => r));
  return list.length === 0 ? "No receipts." : list.map(receiptLine).join("\n");
}

/** `hearth receipts export`: write CSV, ZIP or PDF to `out`; returns the number of receipts. */
export async function exportReceipts(
  service: ReceiptService,
  options: { year?: number; patient?: string; ids?: number[]; out: string; format: "csv" | "zip" | "pdf"; signal?: AbortSignal },
): Promise<number> {
  const selection = { ...(options.year !== undefined ? { year: options.year } : {}), ...(options.patient ? { patient: options.patient } : {}), ...(options.ids ? { ids: options.ids } : {}) };
  const count = service.ledger.list(selection).length;
  let data: string | Uint8Array;
  if (options.format === "csv") data = exportCsv(service.ledger, selection);
  else if (options.format === "zip") data = exportZip(service.ledger, selection);
  else if (options.format === "pdf") data = await exportPdf(service.ledger, selection, { title: `HSA claim packet${options.year ? ` ${options.year}` : ""}`, ...(options.signal ? { signal: options.signal } : {}) });
  else throw new InputError("EXPORT_BAD_FORMAT", "Export format must be csv, zip or pdf.");
  await writeFile(options.out, data, { mode: 0o600 });
  return count;
}

/** `hearth receipts pick AMOUNT`: unclaimed receipts summing closest to the amount without going over. */
export function pick(service: ReceiptService, amount: string, options: { json?: boolean } = {}): string {
  const cents = parseUserAmount(amount);
  if (cents === undefined || cents <= 0) throw new InputError("PICK_BAD_TARGET", `"${amount}" is not an amount; e.g. hearth receipts pick 250.00`);
  const unclaimed = service.ledger.list({ status: "unclaimed" }).filter((r): r is Receipt & { amountCents: number } => r.amountCents !== null && r.amountCents > 0);
  const res = pickReceipts(unclaimed, cents);
  if (options.json) return JSON.stringify({ targetCents: cents, totalCents: res.totalCents, ids: res.picked.map((r) => r.id) });
  return [`${formatCents(res.totalCents)} of ${formatCents(cents)} in ${res.picked.length} receipt(s):`, ...res.picked.map(receiptLine)].join("\n");
}
