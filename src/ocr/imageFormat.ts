import { InputError } from "../core/errors.ts";

/** Image formats the OCR pipeline accepts. */
export type AcceptedImageFormat = "jpeg" | "png" | "webp";

/** What the first bytes of a file say it really is (names and MIME types are not trusted). */
export type SniffedFormat =
  | AcceptedImageFormat
  | "gif"
  | "heic"
  | "avif"
  | "pdf"
  | "tiff"
  | "bmp"
  | "zip"
  | "text"
  | "empty"
  | "unknown";

function startsWith(bytes: Uint8Array, sig: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[offset + i] !== sig[i]) return false;
  return true;
}

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, Math.min(end, bytes.length)));
}

/**
 * Identify a file from its magic bytes. Cheap (looks at the first few KB only) so it can run
 * before anything is decoded.
 */
export function sniffImageFormat(bytes: Uint8Array): SniffedFormat {
  if (bytes.length === 0) return "empty";
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "jpeg";
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  if (ascii(bytes, 0, 4) === "RIFF" && ascii(bytes, 8, 12) === "WEBP") return "webp";
  if (ascii(bytes, 0, 6) === "GIF87a" || ascii(bytes, 0, 6) === "GIF89a") return "gif";
  if (ascii(bytes, 0, 5) === "%PDF-") return "pdf";
  if (ascii(bytes, 4, 8) === "ftyp") {
    const brand = ascii(bytes, 8, 12);
    if (brand.startsWith("avi")) return "avif";
    if (["heic", "heix", "hevc", "hevx", "mif1", "msf1", "heim", "heis"].includes(brand)) return "heic";
    return "unknown";
  }
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return "tiff";
  if (ascii(bytes, 0, 2) === "BM") return "bmp";
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return "zip";
  // Text: the first KB is printable ASCII/UTF-8 with whitespace and no NUL bytes.
  const head = bytes.subarray(0, 1024);
  let printable = 0;
  for (const b of head) {
    if (b === 0) return "unknown";
    if (b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 0x80) printable++;
  }
  if (printable === head.length) return "text";
  return "unknown";
}

const SEND_INSTEAD = "send a photo (JPEG, PNG or WebP) or a screenshot of it";

/**
 * Return the accepted format of `bytes` or throw an {@link InputError} that says what the file
 * looks like and what to send instead.
 */
export function requireAcceptedImage(bytes: Uint8Array): AcceptedImageFormat {
  const format = sniffImageFormat(bytes);
  switch (format) {
    case "jpeg":
    case "png":
    case "webp":
      return format;
    case "empty":
      throw new InputError("IMAGE_EMPTY", "That file is empty (0 bytes). Please send the photo again.");
    case "pdf":
      throw new InputError("IMAGE_PDF", `That looks like a PDF; ${SEND_INSTEAD}.`);
    case "heic":
    case "avif":
      throw new InputError(
        "IMAGE_HEIC",
        `That looks like a HEIC/AVIF photo, which I can't read; ${SEND_INSTEAD} (on iPhone: Settings → Camera → Formats → Most Compatible).`,
      );
    case "gif":
      throw new InputError("IMAGE_GIF", `That looks like a GIF animation; ${SEND_INSTEAD}.`);
    case "tiff":
    case "bmp":
      throw new InputError("IMAGE_UNSUPPORTED", `That looks like a ${format.toUpperCase()} image; please convert it or ${SEND_INSTEAD}.`);
    case "zip":
      throw new InputError("IMAGE_ARCHIVE", `That looks like a ZIP archive or office document; ${SEND_INSTEAD}.`);
    case "text":
      throw new InputError("IMAGE_TEXT", `That file is text, not an image; ${SEND_INSTEAD}.`);
    default:
      throw new InputError("IMAGE_UNKNOWN", `I don't recognise that file as an image; ${SEND_INSTEAD}.`);
  }
}
