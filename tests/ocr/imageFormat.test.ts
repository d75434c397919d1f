import { describe, it, expect } from "vitest";
import sharp from "sharp";
import { sniffImageFormat, requireAcceptedImage } from "../../src/ocr/imageFormat.ts";
import { InputError } from "../../src/core/errors.ts";

function thrown(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error("expected an InputError");
}

describe("sniffImageFormat", () => {
  it("recognises real JPEG, PNG and WebP bytes", async () => {
    const base = sharp({ create: { width: 8, height: 8, channels: 3, background: "#fff" } });
    expect(sniffImageFormat(await base.clone().jpeg().toBuffer())).toBe("jpeg");
    expect(sniffImageFormat(await base.clone().png().toBuffer())).toBe("png");
    expect(sniffImageFormat(await base.clone().webp().toBuffer())).toBe("webp");
    expect(requireAcceptedImage(await base.clone().webp().toBuffer())).toBe("webp");
  });

  it("explains PDFs, HEIC, GIF, text and empty files with what to send instead", async () => {
    const pdf = thrown(() => requireAcceptedImage(Buffer.from("%PDF-1.7\n1 0 obj\n")));
    expect(pdf.code).toBe("IMAGE_PDF");
    expect(pdf.userMessage).toMatch(/looks like a PDF.*JPEG, PNG or WebP.*screenshot/);
    const heic = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from("ftypheic"), Buffer.alloc(16)]);
    expect(thrown(() => requireAcceptedImage(heic)).userMessage).toMatch(/HEIC/);
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: "#000" } }).gif().toBuffer();
    expect(thrown(() => requireAcceptedImage(gif)).code).toBe("IMAGE_GIF");
    // A text file someone named receipt.jpg.
    expect(thrown(() => requireAcceptedImage(Buffer.from("Total: $12.00\nthanks\n"))).code).toBe("IMAGE_TEXT");
    expect(thrown(() => requireAcceptedImage(new Uint8Array(0))).userMessage).toMatch(/empty/);
    expect(thrown(() => requireAcceptedImage(Buffer.from([0, 1, 2, 3, 4, 5, 0, 9]))).code).toBe("IMAGE_UNKNOWN");
  });
});
