import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { OcrEngine, bundledLangPath, tesseractWorkerOptions, hasReadableText, headerBand, mergeHeader, bandLinesToPage, rescaleFactor, type HeaderBand, type OcrLine } from "../../src/ocr/ocrEngine.ts";
import { parseReceipt } from "../../src/receipts/parseReceipt.ts";
import { renderUsReceipt, US_RECEIPT_KINDS } from "../fixtures/receipts/renderUsReceipt.ts";

const SROIE = fileURLToPath(new URL("../fixtures/receipts/sroie/", import.meta.url));
const SROIE_IDS = ["X51005433538", "X51006556831", "X51005712017", "X51005685355"];

describe("OCR language data is local", () => {
  it("points tesseract.js at the installed package with caching and downloads off", () => {
    const lang = bundledLangPath();
    const opts = tesseractWorkerOptions(lang);
    expect(opts.cacheMethod).toBe("none");
    expect(opts.langPath).toBe(lang);
    expect(opts.langPath).not.toMatch(/^[a-z]+:\/\//i);
    expect(path.isAbsolute(opts.langPath)).toBe(true);
    expect(existsSync(path.join(opts.langPath, "eng.traineddata.gz"))).toBe(true);
    expect(opts.langPath).toContain(path.join("node_modules", "@tesseract.js-data", "eng"));
  });

  it("refuses a URL or a folder without the model instead of letting tesseract.js fetch", () => {
    expect(() => tesseractWorkerOptions("https://cdn.jsdelivr.net/npm/@tesseract.js-data/eng/4.0.0_best_int")).toThrow(/local folder/);
    expect(() => tesseractWorkerOptions("/nonexistent/tessdata")).toThrow(/not found/);
  });
});

describe("OcrEngine (real tesseract.js)", () => {
  let engine: OcrEngine;
  beforeAll(async () => {
    engine = new OcrEngine({ workers: 2 });
    await engine.start();
  }, 120_000);
  afterAll(async () => {
    await engine?.dispose();
  });

  it("reads the total and date of real SROIE receipts", { timeout: 240_000 }, async () => {
    const results = await Promise.all(
      SROIE_IDS.map(async (id) => {
        const truth = JSON.parse(readFileSync(path.join(SROIE, `${id}.json`), "utf8")) as { date_iso: string; total_value: string; company: string };
        const ocr = await engine.recognize(readFileSync(path.join(SROIE, `${id}.jpg`)));
        return { id, truth, ocr, parsed: parseReceipt(ocr.text, { dateOrder: "DMY" }) };
      }),
    );
    for (const { truth, ocr, parsed } of results) {
      expect(ocr.lines.length).toBeGreaterThan(5);
      expect(ocr.confidence).toBeGreaterThan(40);
      expect(parsed.total.value).toBe(Math.round(Number(truth.total_value) * 100));
      expect(parsed.date.value).toBe(truth.date_iso);
    }
    // Merchant is harder (logos, legal names); at least half must match exactly after normalising.
    const norm = (s: string | null): string => (s ?? "").toUpperCase().replace(/[^A-Z0-9]/g, "");
    expect(results.filter((r) => norm(r.parsed.merchant.value) === norm(r.truth.company)).length).toBeGreaterThanOrEqual(2);
  });

  it("reads rendered, degraded US medical receipts (pharmacy, copay, dental, EOB)", { timeout: 240_000 }, async () => {
    for (const kind of US_RECEIPT_KINDS) {
      const r = await renderUsReceipt(kind, { seed: 7 });
      const ocr = await engine.recognize(r.jpeg);
      const p = parseReceipt(ocr.text, { today: new Date("2025-01-01") });
      expect(p.total.value, kind).toBe(r.truth.totalCents);
      expect(p.date.value, kind).toBe(r.truth.dateIso);
      expect(p.merchant.value, kind).toBe(r.truth.merchant);
      expect(p.isExplanationOfBenefits, kind).toBe(r.truth.isEob);
      expect(p.category.category, kind).toBe(r.truth.category);
      // Card digits are small print; the parser's handling of them is covered by unit tests.
    }
  });

  it("reads the shop name through a red PAID stamp inked across it", { timeout: 120_000 }, async () => {
    const r = await renderUsReceipt("pharmacy", { seed: 3, stamp: true });
    const parsed = parseReceipt((await engine.recognize(r.jpeg)).text);
    expect(parsed.merchant.value).toBe(r.truth.merchant);
    expect(parsed.total.value).toBe(r.truth.totalCents);
    expect(parsed.date.value).toBe(r.truth.dateIso);
  });

  it("says 'no text' for a blank image and a photo-like picture, and keeps working", { timeout: 120_000 }, async () => {
    const blank = await sharp({ create: { width: 800, height: 600, channels: 3, background: "#7a9" } }).jpeg().toBuffer();
    // Photo-like: smooth blobs of colour and noise, no glyphs (a stand-in for "a picture of a cat").
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="700"><defs><radialGradient id="g"><stop offset="0" stop-color="#c96"/><stop offset="1" stop-color="#333"/></radialGradient></defs><rect width="100%" height="100%" fill="#5a7"/><ellipse cx="450" cy="380" rx="300" ry="220" fill="url(#g)"/><circle cx="360" cy="300" r="40" fill="#eee"/><circle cx="540" cy="300" r="40" fill="#eee"/><path d="M300 150 L350 250 L250 250 Z M600 150 L650 250 L550 250 Z" fill="#a74"/></svg>`;
    const photo = await sharp(Buffer.from(svg)).blur(3).jpeg().toBuffer();
    for (const img of [blank, photo]) {
      await expect(engine.recognize(img)).rejects.toMatchObject({ code: "OCR_NO_TEXT", userMessage: expect.stringMatching(/couldn't find any readable text/) });
    }
    const r = await renderUsReceipt("copay", { seed: 3 });
    expect(hasReadableText(await engine.recognize(r.jpeg))).toBe(true);
  });

  it("rejects bad bytes with the preprocessing message and honours abort", { timeout: 120_000 }, async () => {
    await expect(engine.recognize(Buffer.from("%PDF-1.4 fake"))).rejects.toMatchObject({ code: "IMAGE_PDF" });
    const ac = new AbortController();
    const r = await renderUsReceipt("dental", { seed: 2 });
    const pending = engine.recognize(r.jpeg, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(pending).rejects.toMatchObject({ code: "ABORTED" });
    // The pool is still usable after an abort.
    const ok = await engine.recognize(r.jpeg);
    expect(ok.text).toMatch(/BALANCE DUE/);
  });
});

describe("header re-read", () => {
  const line = (text: string, confidence: number, y0: number, y1: number): OcrLine => ({ text, confidence, bbox: { x0: 10, x1: 500, y0, y1 } });
  const body = (from: number, n: number): OcrLine[] => Array.from({ length: n }, (_, i) => line(`Item ${i} 1.00`, 90, from + i * 40, from + i * 40 + 30));

  it("picks a large, doubtful name line at the top and a strip scale that shrinks it to body size", () => {
    const lines = [line("SANYO STATIONERY SHOP", 80, 20, 80), ...body(100, 10)];
    const band = headerBand(lines, 2000);
    expect(band?.lines).toEqual([0]);
    expect(band?.top).toBe(0);
    expect(band?.bottom).toBe(140);
    for (const s of band!.scales) expect(s).toBeLessThan(0.6);
  });

  it("leaves receipts alone whose header is body-sized, confident, or low on the page", () => {
    expect(headerBand([line("SHOP", 80, 20, 50), ...body(100, 10)], 2000)).toBeUndefined();
    expect(headerBand([line("SANYU STATIONERY SHOP", 95, 20, 80), ...body(100, 10)], 2000)).toBeUndefined();
    expect(headerBand([...body(0, 10), line("THANK YOU AGAIN", 60, 1800, 1860)], 2000)).toBeUndefined();
  });

  it("swaps in the more confident re-read of the overlapping line, in the text too", () => {
    const lines = [line("SANYO STATIONERY SHOP", 80, 20, 80), line("NO. 31 JALAN SETIA", 90, 100, 130)];
    const text = "SANYO  STATIONERY SHOP\nNO. 31 JALAN SETIA\n";
    const merged = mergeHeader(text, lines, [0], [line("SANYU STATIONERY SHOP", 94, 25, 75), line("NO. 31 JALAN SETIA", 99, 100, 130)]);
    expect(merged.text).toBe("SANYU STATIONERY SHOP\nNO. 31 JALAN SETIA\n");
    expect(merged.lines[0]).toMatchObject({ text: "SANYU STATIONERY SHOP", confidence: 94, bbox: lines[0]!.bbox });
    expect(merged.lines[1]).toBe(lines[1]);
    // A re-read that is not clearly more confident keeps the first reading.
    expect(mergeHeader(text, lines, [0], [line("SANYU STATIONERY SHOP", 81, 25, 75)]).text).toBe(text);
  });

  it("asks for one corrected read when recognised lines are far taller than the layout aimed for", () => {
    const lines = (h: number): OcrLine[] => Array.from({ length: 8 }, (_, i) => line(`LINE ${i}`, 80, i * 100, i * 100 + h));
    expect(rescaleFactor(lines(36), 28)).toBe(1);
    expect(rescaleFactor(lines(46), 28)).toBe(1);
    expect(rescaleFactor(lines(74), 28)).toBeCloseTo((28 * 1.2) / 74, 5);
    // Too few confident lines to judge: leave it.
    expect(rescaleFactor(lines(74).slice(0, 3), 28)).toBe(1);
  });

  it("maps strip coordinates back to the page", () => {
    const band: HeaderBand = { top: 0, bottom: 200, scales: [0.5], lines: [0] };
    expect(bandLinesToPage([line("X", 90, 10, 40)], band, 0.5)[0]!.bbox).toEqual({ x0: 20, x1: 1000, y0: 20, y1: 80 });
  });
});
