import { describe, it, expect } from "vitest";
import sharp from "sharp";
import { analyseLayout, preprocessImage } from "../../src/ocr/preprocess.ts";
import { linesFromTsv } from "../../src/ocr/ocrEngine.ts";

/** A white page with a small "receipt" of text-like bars (line height `lh`) and scanner specks. */
function page(width: number, height: number, box: { x: number; y: number; w: number; h: number }, lh: number): Uint8Array {
  const px = new Uint8Array(width * height).fill(245);
  for (let top = box.y; top + lh <= box.y + box.h; top += Math.round(lh * 1.6)) {
    for (let y = top; y < top + lh; y++) {
      for (let x = box.x; x < box.x + box.w; x++) if ((x >> 3) % 3 !== 0) px[y * width + x] = 20;
    }
  }
  // Dust: isolated 3×3 specks far from the receipt must not widen the crop.
  for (const [sx, sy] of [[5, 5], [width - 10, 40], [30, height - 12], [width - 20, height - 20]] as const) {
    for (let y = sy; y < sy + 3; y++) for (let x = sx; x < sx + 3; x++) px[y * width + x] = 0;
  }
  return px;
}

describe("analyseLayout", () => {
  it("crops a small receipt out of a scanner page and measures its line height", () => {
    const box = { x: 600, y: 400, w: 500, h: 1200 };
    const layout = analyseLayout(page(2000, 2800, box, 40), 2000, 2800);
    expect(layout.lineHeight).toBeGreaterThanOrEqual(38);
    expect(layout.lineHeight).toBeLessThanOrEqual(42);
    const c = layout.crop;
    expect(c.left).toBeLessThanOrEqual(box.x);
    expect(c.top).toBeLessThanOrEqual(box.y);
    expect(c.left + c.width).toBeGreaterThanOrEqual(box.x + box.w);
    expect(c.top + c.height).toBeGreaterThanOrEqual(box.y + box.h - 40);
    // …but not the dust in the corners.
    expect(c.width).toBeLessThan(1000);
    expect(c.height).toBeLessThan(1700);
  });

  it("keeps a photo that is all receipt whole", () => {
    const layout = analyseLayout(page(600, 1200, { x: 20, y: 20, w: 560, h: 1160 }, 16), 600, 1200);
    expect(layout.crop).toEqual({ left: 0, top: 0, width: 600, height: 1200 });
    expect(layout.lineHeight).toBe(16);
  });

  it("scales text to the target line height in preprocessImage", async () => {
    const png = await sharp(Buffer.from(page(900, 1600, { x: 30, y: 30, w: 840, h: 1540 }, 14)), { raw: { width: 900, height: 1600, channels: 1 } }).png().toBuffer();
    const out = await preprocessImage(png, { targetLineHeight: 28 });
    // Lines 14 px tall → scaled ×2.
    expect(out.width).toBeGreaterThanOrEqual(1700);
    expect(out.width).toBeLessThanOrEqual(1900);
  });
});

describe("linesFromTsv", () => {
  it("groups words into lines with mean confidence and the line box", () => {
    const tsv = [
      "1\t1\t0\t0\t0\t0\t0\t0\t800\t600\t-1\t",
      "2\t1\t1\t0\t0\t0\t10\t10\t700\t100\t-1\t",
      "3\t1\t1\t1\t0\t0\t10\t10\t700\t100\t-1\t",
      "4\t1\t1\t1\t1\t0\t10\t10\t300\t30\t-1\t",
      "5\t1\t1\t1\t1\t1\t10\t10\t120\t30\t90\tTOTAL",
      "5\t1\t1\t1\t1\t2\t200\t10\t110\t30\t70\t12.50",
      "4\t1\t1\t1\t2\t0\t10\t50\t300\t30\t-1\t",
      "5\t1\t1\t1\t2\t1\t10\t50\t300\t30\t95\t ",
    ].join("\n");
    expect(linesFromTsv(tsv)).toEqual([{ text: "TOTAL 12.50", confidence: 80, bbox: { x0: 10, y0: 10, x1: 310, y1: 40 } }]);
  });
});
