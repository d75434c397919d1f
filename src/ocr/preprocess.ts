import sharp from "sharp";
import { InputError, AbortedError } from "../core/errors.ts";
import { requireAcceptedImage, type AcceptedImageFormat } from "./imageFormat.ts";

/** Limits and geometry for {@link preprocessImage}. */
export interface PreprocessOptions {
  /** Largest accepted file in bytes (checked before anything is decoded). Default 25 MB. */
  maxBytes?: number;
  /** Largest accepted image in pixels (checked from the header before decoding). Default 100 MP. */
  maxPixels?: number;
  /** Images whose long side is shorter are scaled up to this (small text OCRs badly). Default 1800. */
  minLongSide?: number;
  /** Images whose long side is longer are scaled down to this (huge scans are slow). Default 2500. */
  maxLongSide?: number;
  signal?: AbortSignal;
}

/** A grayscale, oriented, contrast-normalised image ready for OCR. */
export interface PreprocessedImage {
  /** PNG bytes. */
  png: Buffer;
  width: number;
  height: number;
  /** Format of the original bytes. */
  sourceFormat: AcceptedImageFormat;
  sourceWidth: number;
  sourceHeight: number;
}

/** Default byte limit: 25 MB. */
export const DEFAULT_MAX_IMAGE_BYTES = 25 * 1024 * 1024;
/** Default pixel limit: 100 megapixels. */
export const DEFAULT_MAX_IMAGE_PIXELS = 100_000_000;

function mb(n: number): string {
  return `${Math.round(n / 1024 / 1024)} MB`;
}

/** Translate libvips' decoder complaints into something a person can act on. */
function decodeError(err: unknown, format: string): InputError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(msg)) {
    return new InputError("IMAGE_TOO_MANY_PIXELS", "That image has too many pixels for me to read; please send a smaller photo (a phone photo is fine).", { cause: err });
  }
  if (/premature end|truncated|unexpected end|read error|end of (file|stream)|incomplete/i.test(msg)) {
    return new InputError("IMAGE_TRUNCATED", `That ${format.toUpperCase()} file is incomplete (it was cut off during upload or saving). Please send the photo again.`, { cause: err });
  }
  return new InputError("IMAGE_CORRUPT", `That ${format.toUpperCase()} file is damaged and can't be decoded. Please take or export the photo again.`, { cause: err });
}

/**
 * Validate and prepare an uploaded receipt photo for OCR: sniff the real format, enforce size and
 * pixel limits before decoding, apply the EXIF orientation, convert to grayscale, trim a uniform
 * scanner border, scale so text is a size Tesseract reads well, and stretch the contrast.
 *
 * Throws {@link InputError} with a message that says what to send instead.
 */
export async function preprocessImage(bytes: Uint8Array, options: PreprocessOptions = {}): Promise<PreprocessedImage> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  const minLong = options.minLongSide ?? 1800;
  const maxLong = options.maxLongSide ?? 2500;
  // Size first: nothing below may touch more than the header of an oversized upload.
  if (bytes.length > maxBytes) {
    throw new InputError("IMAGE_TOO_LARGE", `That file is ${mb(bytes.length)}; the limit is ${mb(maxBytes)}. Please send a smaller photo (phone photos are usually 2–5 MB).`);
  }
  const format = requireAcceptedImage(bytes);
  if (options.signal?.aborted) throw new AbortedError({ cause: options.signal.reason });

  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>["metadata"]>>;
  try {
    // metadata() parses the header only, so a 100-MP bomb is refused without being decoded.
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw decodeError(err, format);
  }
  const w0 = meta.width ?? 0;
  const h0 = meta.height ?? 0;
  if (w0 === 0 || h0 === 0) throw new InputError("IMAGE_CORRUPT", `That ${format.toUpperCase()} file has no picture in it. Please send the photo again.`);
  if (w0 * h0 > maxPixels) {
    throw new InputError(
      "IMAGE_TOO_MANY_PIXELS",
      `That image is ${w0}×${h0} (${Math.round((w0 * h0) / 1e6)} megapixels); the limit is ${Math.round(maxPixels / 1e6)} megapixels. Please send a smaller photo or scan at 300 dpi.`,
    );
  }
  if (Math.min(w0, h0) < 32) {
    throw new InputError("IMAGE_TOO_SMALL", `That image is only ${w0}×${h0} pixels, too small to read. Please send a sharper photo of the receipt.`);
  }

  try {
    // failOn "warning" makes libvips reject truncated JPEG/PNG data instead of returning grey.
    const base = sharp(input, { limitInputPixels: maxPixels, failOn: "warning" }).rotate().grayscale();
    // Trim a uniform border (flatbed scans put a small receipt on a large white page).
    const trimmed = await base.trim({ threshold: 40 }).png({ compressionLevel: 0 }).toBuffer({ resolveWithObject: true }).catch(async (err: unknown) => {
      // trim fails on images that are entirely one colour; fall back to the untrimmed image.
      if (/trim|bad extract area/i.test(String(err))) return sharp(input, { limitInputPixels: maxPixels, failOn: "warning" }).rotate().grayscale().png({ compressionLevel: 0 }).toBuffer({ resolveWithObject: true });
      throw err;
    });
    if (options.signal?.aborted) throw new AbortedError({ cause: options.signal.reason });
    const tw = trimmed.info.width;
    const th = trimmed.info.height;
    const long = Math.max(tw, th);
    let scale = 1;
    if (long < minLong) scale = minLong / long;
    else if (long > maxLong) scale = maxLong / long;
    const width = Math.max(1, Math.round(tw * scale));
    const height = Math.max(1, Math.round(th * scale));
    const out = await sharp(trimmed.data)
      .resize(width, height, { kernel: scale > 1 ? "cubic" : "lanczos3" })
      .normalise({ lower: 1, upper: 99 })
      .toColourspace("b-w")
      .png({ compressionLevel: 1 })
      .toBuffer();
    return { png: out, width, height, sourceFormat: format, sourceWidth: w0, sourceHeight: h0 };
  } catch (err) {
    if (err instanceof InputError || err instanceof AbortedError) throw err;
    throw decodeError(err, format);
  }
}
