import sharp, { type OutputInfo } from "sharp";
import { InputError, AbortedError } from "../core/errors.ts";
import { requireAcceptedImage, type AcceptedImageFormat } from "./imageFormat.ts";

/** Limits and geometry for {@link preprocessImage}. */
export interface PreprocessOptions {
  /** Largest accepted file in bytes (checked before anything is decoded). Default 25 MB. */
  maxBytes?: number;
  /** Largest accepted image in pixels (checked from the header before decoding). Default 100 MP. */
  maxPixels?: number;
  /** The output's long side is never shorter than this. Default 0 (no floor: text size decides). */
  minLongSide?: number;
  /** The output's long side is never longer than this (huge scans are slow). Default 4000. */
  maxLongSide?: number;
  /**
   * Height in pixels that a printed text line (ascender to descender) is scaled to. Default
   * {@link DEFAULT_TARGET_LINE_HEIGHT}.
   */
  targetLineHeight?: number;
  signal?: AbortSignal;
}

/** A grayscale, oriented, contrast-normalised image ready for OCR. */
export interface PreprocessedImage {
  /**
   * Binary PGM (P5) bytes. PGM rather than PNG: encoding a PNG cost more than the few bytes it
   * saves, and Tesseract's image reader (Leptonica) loads PGM directly.
   */
  pgm: Buffer;
  /** The 8-bit grey pixels (`width × height`, row-major), a view into {@link pgm}. */
  pixels: Buffer;
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

/** Default for {@link PreprocessOptions.targetLineHeight}. */
// Measured on the SROIE sample (PSM 6): 22–25 px lose characters, 36–44 px are slower and no
// more accurate; 28–32 px read best, and 28 is the faster end of that range.
export const DEFAULT_TARGET_LINE_HEIGHT = 28;

/** Where the printed content is and how tall its text lines are, from {@link analyseLayout}. */
export interface PageLayout {
  /** Bounding box of the inked area (the receipt on a scanner page), in image pixels. */
  crop: { left: number; top: number; width: number; height: number };
  /** Median height of a text line in pixels, or 0 when no lines were found. */
  lineHeight: number;
}

/** Median of a 256-bin histogram holding `total` samples. */
function histogramMedian(hist: ArrayLike<number>, total: number): number {
  let m = 0;
  for (let acc = 0; m < 255 && acc + hist[m]! < total / 2; m++) acc += hist[m]!;
  return m;
}

/** Otsu's threshold of a 256-bin histogram. */
function otsu(hist: Float64Array, total: number): number {
  let sum = 0;
  for (let i = 0; i < 256; i++) sum += i * hist[i]!;
  let sumB = 0;
  let wB = 0;
  let best = 0;
  let threshold = 128;
  for (let t = 0; t < 256; t++) {
    wB += hist[t]!;
    if (wB === 0) continue;
    const wF = total - wB;
    if (wF === 0) break;
    sumB += t * hist[t]!;
    const mB = sumB / wB;
    const mF = (sum - sumB) / wF;
    const between = wB * wF * (mB - mF) * (mB - mF);
    if (between > best) {
      best = between;
      threshold = t;
    }
  }
  return threshold;
}

/**
 * The span [start, end) of a 1-D ink profile that holds the printed content: positions whose ink
 * reaches a small fraction of the peak are grouped, gaps shorter than `maxGap` are bridged, and
 * the group with the most ink wins, so scanner specks and dust far from the receipt are dropped.
 */
function contentSpan(profile: Float64Array, maxGap: number): [number, number] {
  let peak = 0;
  for (const v of profile) peak = Math.max(peak, v);
  const thr = Math.max(2, peak * 0.03);
  let best: [number, number, number] = [0, profile.length, -1];
  let start = -1;
  let last = -1;
  let ink = 0;
  const close = (): void => {
    if (start >= 0 && ink > best[2]) best = [start, last + 1, ink];
  };
  for (let i = 0; i < profile.length; i++) {
    if (profile[i]! < thr) continue;
    if (start < 0 || i - last > maxGap) {
      close();
      start = i;
      ink = 0;
    }
    last = i;
    ink += profile[i]!;
  }
  close();
  return best[2] < 0 ? [0, profile.length] : [best[0], best[1]];
}

/**
 * Find the printed area of a grayscale image and measure its text line height, so the image can
 * be cropped to the receipt and scaled until its text is the size Tesseract reads best. Scanned
 * A4 pages with a small receipt, low-resolution phone photos and 600-dpi scans then all reach
 * the recogniser at about the same text size (which also bounds the time recognition takes).
 *
 * `data` is raw 8-bit pixels with `channels` interleaved channels (the first is used).
 */
export function analyseLayout(data: Uint8Array, width: number, height: number, channels = 1): PageLayout {
  // Work on a subsampled grid: a few megapixels are plenty to find lines and margins.
  const step = Math.max(1, Math.floor(Math.sqrt((width * height) / 4_000_000)));
  const gw = Math.floor(width / step);
  const gh = Math.floor(height / step);
  const whole: PageLayout = { crop: { left: 0, top: 0, width, height }, lineHeight: 0 };
  if (gw < 8 || gh < 8) return whole;
  const hist = new Float64Array(256);
  for (let y = 0; y < gh; y++) for (let x = 0; x < gw; x++) hist[data[(y * step * width + x * step) * channels]!]!++;
  // Paper is the bulk of the image, so the median is the paper tone. Ink is anything clearly
  // darker: a fixed fraction of the paper tone catches faded thermal print that Otsu (pulled
  // toward a black scanner border) would miss; Otsu still decides when it is the looser cut.
  const t = Math.max(otsu(hist, gw * gh), Math.round(histogramMedian(hist, gw * gh) * 0.8));
  const ink = new Uint8Array(gw * gh);
  const rows = new Float64Array(gh);
  const cols = new Float64Array(gw);
  for (let y = 0; y < gh; y++) {
    for (let x = 0; x < gw; x++) {
      if (data[(y * step * width + x * step) * channels]! <= t) {
        ink[y * gw + x] = 1;
        rows[y]!++;
        cols[x]!++;
      }
    }
  }
  const [top, bottom] = contentSpan(rows, Math.ceil(gh * 0.12));
  const [left, right] = contentSpan(cols, Math.ceil(gw * 0.12));
  // Pad the crop: the threshold misses faint edges of the first and last characters.
  const padX = Math.ceil(gw * 0.02) + 4;
  const padY = Math.ceil(gh * 0.02) + 4;
  const x0 = Math.max(0, left - padX);
  const x1 = Math.min(gw, right + padX);
  const y0 = Math.max(0, top - padY);
  const y1 = Math.min(gh, bottom + padY);

  // Line height: runs of inked rows, measured in four vertical strips so that a slightly skewed
  // photo does not merge neighbouring lines into one tall run.
  const heights: number[] = [];
  const strips = 4;
  const sw = Math.max(1, Math.floor((x1 - x0) / strips));
  for (let s = 0; s < strips; s++) {
    const sx0 = x0 + s * sw;
    const sx1 = s === strips - 1 ? x1 : sx0 + sw;
    const prof: number[] = [];
    for (let y = y0; y < y1; y++) {
      let n = 0;
      for (let x = sx0; x < sx1; x++) n += ink[y * gw + x]!;
      prof.push(n);
    }
    const sorted = prof.filter((v) => v > 0).sort((a, b) => a - b);
    const p90 = sorted[Math.floor(sorted.length * 0.9)] ?? 0;
    if (p90 === 0) continue;
    const thr = Math.max(1, p90 * 0.1);
    let run = 0;
    for (const v of [...prof, 0]) {
      if (v >= thr) run++;
      else {
        if (run * step >= 6) heights.push(run * step);
        run = 0;
      }
    }
  }
  heights.sort((a, b) => a - b);
  const lineHeight = heights.length >= 5 ? heights[Math.floor(heights.length / 2)]! : 0;
  const crop = {
    left: x0 * step,
    top: y0 * step,
    width: Math.min(width - x0 * step, (x1 - x0) * step),
    height: Math.min(height - y0 * step, (y1 - y0) * step),
  };
  // Keep the whole image when cropping would gain little (a phone photo of just the receipt), or
  // when the "content" found is a sliver (a dark corner, not a receipt).
  if (crop.width * crop.height > 0.9 * width * height || crop.width < 0.15 * width || crop.height < 0.15 * height) return { ...whole, lineHeight };
  return { crop, lineHeight };
}

/** Colour saturation (max − min channel, 0..255) from which a pixel counts as a coloured mark. */
const MARK_SATURATION = 64;

/**
 * Whether a colour photo has coloured marks worth removing, judged on a small thumbnail (JPEG
 * shrink-on-load makes it nearly free): strongly coloured pixels over 0.1% of the picture, and
 * neutral dark print (over 0.2%) besides them, so that a receipt printed only in colour (a blue or
 * purple ribbon) keeps its text.
 */
async function hasColourMarks(input: Buffer, maxPixels: number): Promise<boolean> {
  const thumb = await sharp(input, { limitInputPixels: maxPixels }).resize({ width: 256, withoutEnlargement: true }).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
  const { data, info } = thumb;
  const n = info.width * info.height;
  const hist = new Uint32Array(256);
  for (let j = 0; j + 2 < data.length; j += info.channels) hist[Math.max(data[j]!, data[j + 1]!, data[j + 2]!)]!++;
  const paper = histogramMedian(hist, n);
  let coloured = 0;
  let neutralInk = 0;
  for (let j = 0; j + 2 < data.length; j += info.channels) {
    const max = Math.max(data[j]!, data[j + 1]!, data[j + 2]!);
    const sat = max - Math.min(data[j]!, data[j + 1]!, data[j + 2]!);
    if (sat >= MARK_SATURATION) coloured++;
    else if (sat < MARK_SATURATION / 2 && max < paper * 0.75) neutralInk++;
  }
  return coloured > 0.001 * n && neutralInk > 0.002 * n;
}

/**
 * Decode, apply the EXIF orientation and convert to one grey channel. In a colour photo, strongly
 * coloured pixels (a red PAID stamp across the shop name, a highlighter stroke, a blue pen tick)
 * become paper (or their brightest channel where that is lighter): in plain grey they
 * are mid-grey blobs that Tesseract reads as characters or that swallow the print under them.
 * Printed text is black or a weak purple/blue (thermal and dot-matrix ribbons), far below this
 * saturation, and black print on top of a stamp stays dark in every channel, so it survives.
 */
async function decodeGrey(input: Buffer, maxPixels: number, colour: boolean): Promise<{ data: Buffer; info: OutputInfo }> {
  const decoder = sharp(input, { limitInputPixels: maxPixels, failOn: "warning" }).rotate();
  // Decoding colour costs far more than grey (a JPEG's grey is its luma plane as stored), so a
  // thumbnail (JPEG shrink-on-load makes it nearly free) first tells whether there are marks at all.
  if (!colour || !(await hasColourMarks(input, maxPixels))) return decoder.grayscale().raw().toBuffer({ resolveWithObject: true });
  const rgb = await decoder.removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
  const { width, height, channels } = rgb.info;
  const grey = await sharp(rgb.data, { raw: { width, height, channels } }).grayscale().extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  const c = rgb.data;
  const g = grey.data;
  const hist = new Uint32Array(256);
  for (let i = 0; i < g.length; i++) hist[g[i]!]!++;
  const paper = histogramMedian(hist, g.length);
  for (let i = 0, j = 0; i < g.length; i++, j += channels) {
    const r = c[j]!;
    const gr = c[j + 1]!;
    const b = c[j + 2]!;
    const max = r > gr ? (r > b ? r : b) : gr > b ? gr : b;
    const min = r < gr ? (r < b ? r : b) : gr < b ? gr : b;
    // Paper, not just the brightest channel: a stamp's ink dims that channel too, and its ghost
    // would still catch the contrast stretch and the line finder. Widening the mask to catch the
    // weakly coloured outline JPEG leaves (colour is stored at half resolution) was tried and
    // erased black print next to the stamp, which carries the same colour bleed.
    if (max - min >= MARK_SATURATION) g[i] = max > paper ? max : paper;
  }
  return grey;
}

/**
 * Validate and prepare an uploaded receipt photo for OCR: sniff the real format, enforce size and
 * pixel limits before decoding, apply the EXIF orientation, convert to grayscale, crop to the
 * printed area (a receipt on a scanner page), scale so its text lines are
 * {@link PreprocessOptions.targetLineHeight} pixels tall (see {@link analyseLayout}), and stretch
 * the contrast.
 *
 * Throws {@link InputError} with a message that says what to send instead.
 */
export async function preprocessImage(bytes: Uint8Array, options: PreprocessOptions = {}): Promise<PreprocessedImage> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  const minLong = options.minLongSide ?? 0;
  const maxLong = options.maxLongSide ?? 4000;
  const targetLine = options.targetLineHeight ?? DEFAULT_TARGET_LINE_HEIGHT;
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
    // One full decode serves both the layout analysis and the output: for JPEG a shrink-on-load
    // second decode measured slower than cropping this buffer.
    const oriented = await decodeGrey(input, maxPixels, (meta.channels ?? 1) >= 3 && meta.space !== "b-w");
    if (options.signal?.aborted) throw new AbortedError({ cause: options.signal.reason });
    const ow = oriented.info.width;
    const oh = oriented.info.height;
    const ch = oriented.info.channels;
    const layout = analyseLayout(oriented.data, ow, oh, ch);
    const crop = layout.crop;
    let scale = layout.lineHeight > 0 ? targetLine / layout.lineHeight : 1;
    // Guard rails: a wrong line estimate must not blow a photo up or shrink it to nothing.
    scale = Math.min(Math.max(scale, 0.2), 3);
    const long = Math.max(crop.width, crop.height) * scale;
    if (long < minLong) scale = minLong / Math.max(crop.width, crop.height);
    else if (long > maxLong) scale = maxLong / Math.max(crop.width, crop.height);
    const width = Math.max(1, Math.round(crop.width * scale));
    const height = Math.max(1, Math.round(crop.height * scale));
    // normalise() (a lightness stretch) is the slowest step here; a linear stretch between the
    // same grey percentiles made Tesseract lose whole receipts to amplified background noise, so
    // it stays, run on whichever is smaller: the crop before upscaling, or the image after
    // downscaling (sharp always normalises after resizing within one pipeline, hence two).
    // normalise() hands back sRGB (three equal channels); extractChannel(0) keeps one grey one.
    const raw = { raw: { width: ow, height: oh, channels: ch } } as const;
    let out: { data: Buffer; info: OutputInfo };
    if (scale > 1) {
      const stretched = await sharp(oriented.data, raw).extract(crop).normalise({ lower: 1, upper: 99 }).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      out = await sharp(stretched.data, { raw: { width: stretched.info.width, height: stretched.info.height, channels: 1 } })
        .resize(width, height, { kernel: "cubic" })
        .extractChannel(0)
        .raw()
        .toBuffer({ resolveWithObject: true });
    } else {
      let img = sharp(oriented.data, raw).extract(crop);
      if (width !== crop.width || height !== crop.height) img = img.resize(width, height, { kernel: "lanczos3" });
      out = await img.normalise({ lower: 1, upper: 99 }).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    }
    const header = Buffer.from(`P5\n${out.info.width} ${out.info.height}\n255\n`, "latin1");
    const pgm = Buffer.concat([header, out.data]);
    return { pgm, pixels: pgm.subarray(header.length), width: out.info.width, height: out.info.height, sourceFormat: format, sourceWidth: w0, sourceHeight: h0 };
  } catch (err) {
    if (err instanceof InputError || err instanceof AbortedError) throw err;
    throw decodeError(err, format);
  }
}
