import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { parseReceipt, type ParsedReceipt } from "../../src/receipts/parseReceipt.ts";
import { Ledger } from "../../src/receipts/ledger.ts";

/** A fresh temp dir under os.tmpdir(); call the returned cleanup in afterEach. */
export function tempDir(prefix = "hearth-receipts-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Parsed fields for a synthetic receipt (through the real parser, so shapes stay honest). */
export function parsedFor(provider: string, usDate: string, amount: string): ParsedReceipt {
  return parseReceipt(`${provider}\nDATE: ${usDate}\nTOTAL $${amount}\nVISA XXXX1234 $${amount}`, { today: new Date("2030-01-01") });
}

/** A small, unique, real JPEG (random noise so every call differs). */
export async function uniqueJpeg(width = 64, height = 48): Promise<Buffer> {
  const raw = randomBytes(width * height * 3);
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/** Open a ledger in `dir` with a random key. */
export async function openLedger(dir: string, key: Uint8Array = randomBytes(32)): Promise<{ ledger: Ledger; key: Uint8Array }> {
  const ledger = await Ledger.open({ dbPath: path.join(dir, "hsa.sqlite"), imageDir: path.join(dir, "images"), imageKey: key });
  return { ledger, key };
}
