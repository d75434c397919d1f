import { describe, it, expect } from "vitest";
import sharp from "sharp";
import { preprocessImage } from "../../src/ocr/preprocess.ts";
import { InputError } from "../../src/core/errors.ts";
import { renderUsReceipt } from "../fixtures/receipts/renderUsReceipt.ts";

/** Pixels darker than mid-grey. */
function darkPixels(pixels: Uint8Array): number {
  let n = 0;
  for (const v of pixels) if (v < 128) n++;
  return n;
}

async function rejection(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error("expected an InputError");
}

/** A small JPEG with some structure (text-like bars) so trim and normalise have work to do. */
async function sampleJpeg(width = 600, height = 300): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#eee"/><text x="20" y="80" font-family="DejaVu Sans" font-size="40" fill="#333">TOTAL 12.50</text></svg>`;
  return sharp(Buffer.from(svg)).jpeg().toBuffer();
}

describe("preprocessImage", () => {
  it("turns a red PAID stamp into paper and keeps the black print under it", async () => {
    const clean = await renderUsReceipt("pharmacy", { degrade: false });
    const stamped = await renderUsReceipt("pharmacy", { degrade: false, stamp: true });
    // The stamp is heavy: in plain grey it adds over half as many dark pixels again.
    const grey = async (jpeg: Buffer): Promise<number> => darkPixels(await sharp(jpeg).grayscale().raw().toBuffer());
    expect(await grey(stamped.jpeg)).toBeGreaterThan(1.5 * (await grey(clean.jpeg)));
    const a = darkPixels((await preprocessImage(clean.jpeg)).pixels);
    const b = darkPixels((await preprocessImage(stamped.jpeg)).pixels);
    expect(Math.abs(b - a) / a).toBeLessThan(0.1);
  });

  it("keeps the text of a receipt printed in colour (a blue ribbon is print, not a mark)", async () => {
    const black = darkPixels((await preprocessImage((await renderUsReceipt("copay", { degrade: false })).jpeg)).pixels);
    const blue = darkPixels((await preprocessImage((await renderUsReceipt("copay", { degrade: false, ink: "#2a3cc8" })).jpeg)).pixels);
    expect(blue).toBeGreaterThan(0.8 * black);
  });

  it("produces an oriented grayscale PGM scaled up to the minimum long side", async () => {
    const out = await preprocessImage(await sampleJpeg(), { minLongSide: 1800 });
    const header = `P5\n${out.width} ${out.height}\n255\n`;
    expect(out.pgm.subarray(0, header.length).toString("latin1")).toBe(header);
    expect(out.pixels.length).toBe(out.width * out.height);
    expect(out.pgm.length).toBe(header.length + out.width * out.height);
    expect(Math.max(out.width, out.height)).toBe(1800);
    expect(out.sourceFormat).toBe("jpeg");
  });

  it("scales huge scans down and honours EXIF orientation", async () => {
    const big = await sharp(await sampleJpeg(3000, 1000)).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const out = await preprocessImage(big, { maxLongSide: 2000 });
    // Orientation 6 = rotate 90°: the wide image becomes tall.
    expect(out.height).toBeGreaterThan(out.width);
    expect(Math.max(out.width, out.height)).toBeLessThanOrEqual(2000);
  });

  it("rejects a zero-byte file", async () => {
    expect((await rejection(preprocessImage(new Uint8Array(0)))).code).toBe("IMAGE_EMPTY");
  });

  it("rejects a corrupt JPEG (right magic, garbage after)", async () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from("this is not jpeg data at all".repeat(20))]);
    const err = await rejection(preprocessImage(bytes));
    expect(["IMAGE_CORRUPT", "IMAGE_TRUNCATED"]).toContain(err.code);
    expect(err.userMessage).toMatch(/JPEG/);
  });

  it("rejects a truncated JPEG with a message about an incomplete upload", async () => {
    const full = await sharp({ create: { width: 800, height: 800, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 40 } } }).jpeg().toBuffer();
    const err = await rejection(preprocessImage(full.subarray(0, Math.floor(full.length / 2))));
    expect(err.code).toBe("IMAGE_TRUNCATED");
    expect(err.userMessage).toMatch(/incomplete|cut off/);
  });

  it("rejects files over the byte limit before decoding", async () => {
    // JPEG magic then zeros: decoding this would fail differently, so the size message proves order.
    const bytes = Buffer.alloc(26 * 1024 * 1024);
    bytes.set([0xff, 0xd8, 0xff, 0xe0]);
    const err = await rejection(preprocessImage(bytes));
    expect(err.code).toBe("IMAGE_TOO_LARGE");
    expect(err.userMessage).toMatch(/26 MB.*limit is 25 MB/);
  });

  it("rejects a 100-megapixel image from its header, before decoding the pixels", { timeout: 120_000 }, async () => {
    const png = await sharp({ create: { width: 10000, height: 10001, channels: 3, background: "#000" } }).toColourspace("b-w").png({ compressionLevel: 1 }).toBuffer();
    const err = await rejection(preprocessImage(png));
    expect(err.code).toBe("IMAGE_TOO_MANY_PIXELS");
    expect(err.userMessage).toMatch(/10000×10001.*limit is 100 megapixels/);
    // The same header with the pixel data cut off: a decode would report truncation; the pixel
    // check answering first shows the header alone decided.
    const headerOnly = png.subarray(0, 200);
    expect((await rejection(preprocessImage(headerOnly))).code).toBe("IMAGE_TOO_MANY_PIXELS");
  });

  it("stops when the signal is already aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(preprocessImage(await sampleJpeg(), { signal: ac.signal })).rejects.toMatchObject({ code: "ABORTED" });
  });
});
