import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { maxImageBytes, type HearthConfig, type HearthPaths } from "../core/config.ts";
import { OcrEngine, type OcrResult, type RecognizeOptions } from "../ocr/ocrEngine.ts";
import { Ledger } from "../receipts/ledger.ts";
import { llmAssistFromEngine } from "../receipts/parseReceipt.ts";
import { ReceiptService } from "../receipts/receiptService.ts";
import type { Vault } from "../vault/vault.ts";
import type { ModelGateway } from "../core/modelGateway.ts";

/** Vault entry holding the key that encrypts (and names) receipt images at rest. */
export const RECEIPTS_KEY_SECRET = "receipts_image_key";

/** The image key, created on first use. Losing the vault means losing access to the images. */
export async function receiptsImageKey(vault: Vault): Promise<Uint8Array> {
  if (!vault.has(RECEIPTS_KEY_SECRET)) await vault.add(RECEIPTS_KEY_SECRET, randomBytes(32).toString("base64"), { allowHosts: [] });
  const key = Buffer.from(vault.get(RECEIPTS_KEY_SECRET), "base64");
  return new Uint8Array(key);
}

/** Options for {@link openReceipts}. */
export interface OpenReceiptsOptions {
  config: HearthConfig;
  paths: HearthPaths;
  vault: Vault;
  /** The model's JSON answers, for low-confidence fields (pass the gateway's, which redacts). */
  json?: ModelGateway["json"];
}

/**
 * Open the HSA ledger (reconciling anything a crash left half-done) and the OCR worker pool.
 * The pool is created once and reused for every photo.
 */
export async function openReceipts(options: OpenReceiptsOptions): Promise<{ service: ReceiptService; ocr: OcrEngine; ledger: Ledger }> {
  const { config, paths } = options;
  const ledger = await Ledger.open({
    dbPath: join(paths.dataDir, "hsa.sqlite"),
    imageDir: paths.images,
    imageKey: await receiptsImageKey(options.vault),
    dateOrder: config.receipts.dateOrder,
  });
  ledger.reconcile();
  const workers = config.receipts.ocrWorkers || Math.min(availableParallelism(), 4);
  const ocr = new OcrEngine({
    workers,
    preprocess: { maxBytes: maxImageBytes(config), maxPixels: config.receipts.maxMegapixels * 1_000_000 },
  });
  // OCR text is user content like any message: secrets in a photographed letter or screenshot are
  // replaced by their handles before the text is parsed, stored in the ledger or shown to the model.
  const redact = (t: string) => options.vault.redactor().redact(t).text;
  const redactingOcr = {
    async recognize(bytes: Uint8Array, o?: RecognizeOptions): Promise<OcrResult> {
      const r = await ocr.recognize(bytes, o);
      return { ...r, text: redact(r.text), lines: r.lines.map((l) => ({ ...l, text: redact(l.text) })) };
    },
  };
  const service = new ReceiptService({
    ledger,
    ocr: redactingOcr,
    parse: { dateOrder: config.receipts.dateOrder, defaultCurrency: config.receipts.currency },
    ...(options.json ? { llmAssist: llmAssistFromEngine({ json: options.json }) } : {}),
  });
  return { service, ocr, ledger };
}
