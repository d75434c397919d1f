import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import sharp from "sharp";
import { createScheduler, createWorker, type Scheduler, type Worker, type Page, type WorkerParams } from "tesseract.js";
import { AbortedError, InputError, ServiceError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";
import { preprocessImage, DEFAULT_TARGET_LINE_HEIGHT, type PreprocessOptions, type PreprocessedImage } from "./preprocess.ts";

const log = getLogger("ocr");

/** One recognised text line. */
export interface OcrLine {
  text: string;
  /** 0..100 as Tesseract reports it. */
  confidence: number;
  bbox: { x0: number; y0: number; x1: number; y1: number };
}

/** Result of {@link OcrEngine.recognize}. */
export interface OcrResult {
  text: string;
  /** Mean word confidence 0..100. */
  confidence: number;
  lines: OcrLine[];
  /** Milliseconds spent preprocessing and recognising. */
  millis: number;
}

/** Construction options for {@link OcrEngine}. */
export interface OcrEngineOptions {
  /** Worker threads in the pool. Default `min(cores, 4)`. */
  workers?: number;
  /**
   * Folder holding `eng.traineddata.gz`. Default: the `4.0.0_best_int` folder of the installed
   * `@tesseract.js-data/eng` package, so nothing is ever downloaded.
   */
  langPath?: string;
  /** Limits and scaling passed to {@link preprocessImage}. */
  preprocess?: Omit<PreprocessOptions, "signal">;
  /**
   * Tesseract page segmentation mode. Default "6" (one uniform block of text): on receipts it keeps
   * right-aligned amounts on the same line as their labels, where "4" and "3" often split the
   * amount column off or drop it (measured on the SROIE sample: total 68% → 80%+).
   */
  pageSegMode?: string;
}

/** Per-call options for {@link OcrEngine.recognize}. */
export interface RecognizeOptions {
  signal?: AbortSignal;
  /** Return the result even when no readable text was found instead of throwing. */
  allowEmpty?: boolean;
}

/** Folder of the bundled English LSTM model (no network needed). */
export function bundledLangPath(): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve("@tesseract.js-data/eng/package.json"));
  return path.join(pkg, "4.0.0_best_int");
}

/**
 * The exact options given to tesseract.js `createWorker`. Exported so a test can prove they
 * point at local files and disable the cache (tesseract.js would otherwise fall back to a CDN).
 */
export function tesseractWorkerOptions(langPath: string): { langPath: string; cacheMethod: "none"; gzip: true; logger: () => void } {
  if (/^[a-z]+:\/\//i.test(langPath)) {
    throw new ServiceError("OCR_LANG_REMOTE", "OCR language data must be a local folder, not a URL; reinstall dependencies (npm ci) so @tesseract.js-data/eng is present.");
  }
  if (!existsSync(path.join(langPath, "eng.traineddata.gz"))) {
    throw new ServiceError("OCR_LANG_MISSING", `OCR language data not found in ${langPath}; run \`npm ci\` so @tesseract.js-data/eng is installed.`);
  }
  return { langPath, cacheMethod: "none", gzip: true, logger: () => {} };
}

/**
 * The Tesseract parameters every pool worker runs with. Exported so the OCR benchmark can time
 * bare recognition under exactly the same settings.
 */
export function tesseractParameters(pageSegMode: string): Partial<WorkerParams> {
  return {
    tessedit_pageseg_mode: pageSegMode as WorkerParams["tessedit_pageseg_mode"],
    preserve_interword_spaces: "1",
    user_defined_dpi: "300",
    // Tesseract prints diagnostics ("Detected N diacritics", "Empty page!!") to stderr, which
    // would interleave with the console chat and CLI output; Hearth reports outcomes itself.
    debug_file: "/dev/null",
  };
}

/**
 * True when an OCR result holds real text rather than noise (a photo of a cat yields a few
 * low-confidence fragments). Requires several confident words with letters or digits.
 */
export function hasReadableText(result: Pick<OcrResult, "lines">): boolean {
  let goodWords = 0;
  let goodChars = 0;
  for (const line of result.lines) {
    if (line.confidence < 55) continue;
    for (const word of line.text.split(/\s+/)) {
      const alnum = word.replace(/[^A-Za-z0-9]/g, "");
      if (alnum.length >= 2) {
        goodWords++;
        goodChars += alnum.length;
      }
    }
  }
  return goodWords >= 4 && goodChars >= 12;
}

/**
 * Text lines from Tesseract's TSV output (level 4 rows are lines, level 5 rows their words).
 * TSV is asked for instead of tesseract.js' `blocks` JSON, which also serialises every symbol and
 * cost ~15% of recognition time on receipts.
 */
export function linesFromTsv(tsv: string): OcrLine[] {
  const out: OcrLine[] = [];
  let current: { words: string[]; confs: number[]; bbox: OcrLine["bbox"] } | undefined;
  const flush = (): void => {
    if (current && current.words.length > 0) {
      const confidence = current.confs.reduce((a, c) => a + c, 0) / current.confs.length;
      out.push({ text: current.words.join(" "), confidence, bbox: current.bbox });
    }
    current = undefined;
  };
  for (const row of tsv.split("\n")) {
    const f = row.split("\t");
    if (f.length < 12) continue;
    const level = Number(f[0]);
    const [left, top, width, height, conf] = [Number(f[6]), Number(f[7]), Number(f[8]), Number(f[9]), Number(f[10])];
    if (level === 4) {
      flush();
      current = { words: [], confs: [], bbox: { x0: left, y0: top, x1: left + width, y1: top + height } };
    } else if (level === 5 && current) {
      const word = f.slice(11).join("\t").trim();
      if (word === "") continue;
      current.words.push(word);
      current.confs.push(conf);
    } else if (level < 4) flush();
  }
  flush();
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Height of a Tesseract line box for text scaled to a given line height (measured ≈1.2×). */
const LINE_BOX_RATIO = 1.2;

/**
 * How much to resize a prepared image whose recognised lines came out far taller than the layout
 * analysis aimed for, or 1. Faint thermal print defeats the ink threshold that measures line height
 * (only stroke fragments count as ink), the image is then blown up to 2–3× the intended text size,
 * and Tesseract misreads digits of totals and dates at that size. The first read's own line boxes
 * measure the text size reliably, so one corrected read fixes it.
 */
export function rescaleFactor(lines: readonly OcrLine[], targetLineHeight: number): number {
  const heights = lines.filter((l) => l.confidence >= 60).map((l) => l.bbox.y1 - l.bbox.y0);
  if (heights.length < 5) return 1;
  const expected = targetLineHeight * LINE_BOX_RATIO;
  const actual = median(heights);
  return actual > expected * 1.45 ? expected / actual : 1;
}

/** A prepared image resized by `factor`, as PGM. */
export async function resizePrepared(prepared: Pick<PreprocessedImage, "pixels" | "width" | "height">, factor: number): Promise<Pick<PreprocessedImage, "pgm" | "pixels" | "width" | "height">> {
  const out = await sharp(prepared.pixels, { raw: { width: prepared.width, height: prepared.height, channels: 1 } })
    .resize(Math.max(1, Math.round(prepared.width * factor)), Math.max(1, Math.round(prepared.height * factor)), { kernel: "lanczos3" })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const header = Buffer.from(`P5\n${out.info.width} ${out.info.height}\n255\n`, "latin1");
  const pgm = Buffer.concat([header, out.data]);
  return { pgm, pixels: pgm.subarray(header.length), width: out.info.width, height: out.info.height };
}

/** A strip at the top of a prepared image to read a second time, from {@link headerBand}. */
export interface HeaderBand {
  /** First and last row (exclusive) of the strip in the prepared image. */
  top: number;
  bottom: number;
  /**
   * Factors to resize the strip by, each read once. Around body-text height, but which size reads
   * a given large font best varied by receipt on the SROIE sample (0.45–0.8 of the first pass), and
   * the strip is small, so two reads are cheap and the more confident wins line by line.
   */
  scales: number[];
  /** Indices (into the first pass's lines) of the large lines to re-read. */
  lines: number[];
}

/**
 * The receipt header's large-print lines (the shop name is often printed double height or bold),
 * if any were read with less than high confidence. The image was scaled for body text, and
 * Tesseract misreads glyphs far taller than that (SANYU as "SANYO", MEGAH as "i EGAH"), so these
 * lines are worth a second, cheap read of just that strip shrunk to body-text size.
 */
export function headerBand(lines: readonly OcrLine[], imageHeight: number): HeaderBand | undefined {
  if (lines.length < 5) return undefined;
  const h = (l: OcrLine): number => l.bbox.y1 - l.bbox.y0;
  const confident = lines.filter((l) => l.confidence >= 60);
  const body = median((confident.length >= 5 ? confident : lines).map(h));
  if (body <= 0) return undefined;
  const picked: number[] = [];
  lines.slice(0, 8).forEach((l, i) => {
    // Logos, stamps and big "TAX INVOICE" / number lines are tall too; only re-read what looks like
    // a name: mostly letters, at least two real words.
    const letters = (l.text.match(/[A-Za-z]/g) ?? []).length;
    const words = l.text.split(/\s+/).filter((w) => (w.match(/[A-Za-z]/g) ?? []).length >= 3).length;
    const nameLike = words >= 2 && letters >= 0.7 * l.text.replace(/\s/g, "").length;
    if (l.bbox.y0 < imageHeight * 0.25 && h(l) >= body * 1.25 && l.confidence < 92 && nameLike) picked.push(i);
  });
  if (picked.length === 0) return undefined;
  const tall = picked.map((i) => lines[i]!);
  const ratio = body / median(tall.map(h));
  const scales = [...new Set([0.9, 0.6].map((f) => Math.min(0.85, Math.max(0.3, ratio * f))))];
  // The strip runs from the top of the image to a couple of body lines below the last large line:
  // cut tightly around one line, Tesseract read it with far lower confidence than with the
  // surrounding lines as context (measured on the SROIE sample).
  const top = 0;
  const bottom = Math.min(imageHeight, Math.max(...tall.map((l) => l.bbox.y1)) + body * 2);
  return bottom - top >= 8 ? { top, bottom, scales, lines: picked } : undefined;
}

/** Lines read from {@link bandImage}, moved back into the prepared image's coordinates. */
export function bandLinesToPage(lines: readonly OcrLine[], band: HeaderBand, scale: number): OcrLine[] {
  const x = (v: number): number => Math.round(v / scale);
  const y = (v: number): number => Math.round(band.top + v / scale);
  return lines.map((l) => ({ ...l, bbox: { x0: x(l.bbox.x0), x1: x(l.bbox.x1), y0: y(l.bbox.y0), y1: y(l.bbox.y1) } }));
}

/** The {@link HeaderBand} strip of a prepared image, resized, as PGM bytes. */
export async function bandImage(prepared: Pick<PreprocessedImage, "pixels" | "width" | "height">, band: HeaderBand, scale: number): Promise<Buffer> {
  const height = band.bottom - band.top;
  const out = await sharp(prepared.pixels, { raw: { width: prepared.width, height: prepared.height, channels: 1 } })
    .extract({ left: 0, top: band.top, width: prepared.width, height })
    .resize(Math.max(1, Math.round(prepared.width * scale)), Math.max(1, Math.round(height * scale)), { kernel: "lanczos3" })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return Buffer.concat([Buffer.from(`P5\n${out.info.width} ${out.info.height}\n255\n`, "latin1"), out.data]);
}

/**
 * Replace each re-read header line (`targets`, indices into `lines`) with the most confident line
 * of the second reads (`reread`, in the same image coordinates) that covers at least half of it
 * vertically, when that is clearly more confident. The text keeps its layout: only the matching
 * line of it is swapped.
 */
export function mergeHeader(text: string, lines: readonly OcrLine[], targets: readonly number[], reread: readonly OcrLine[]): { text: string; lines: OcrLine[] } {
  const out = [...lines];
  const textLines = text.split("\n");
  const squash = (s: string): string => s.replace(/\s+/g, " ").trim();
  for (const i of targets) {
    const old = lines[i];
    if (!old) continue;
    let best: OcrLine | undefined;
    for (const r of reread) {
      const overlap = Math.min(old.bbox.y1, r.bbox.y1) - Math.max(old.bbox.y0, r.bbox.y0);
      const frac = overlap / Math.max(1, Math.min(old.bbox.y1 - old.bbox.y0, r.bbox.y1 - r.bbox.y0));
      if (frac >= 0.5 && (!best || r.confidence > best.confidence)) best = r;
    }
    // A small margin: equal confidences mean the first read was as good, and keeping it is free.
    if (!best || best.confidence < old.confidence + 3) continue;
    out[i] = { text: best.text, confidence: best.confidence, bbox: old.bbox };
    const at = textLines.findIndex((t) => squash(t) === squash(old.text));
    if (at >= 0) textLines[at] = best.text;
  }
  return { text: textLines.join("\n"), lines: out };
}

/**
 * A pool of tesseract.js workers (English, LSTM) created once and reused. Images are
 * preprocessed with sharp on the main thread (libvips has its own threads), then queued on the
 * scheduler, which hands each job to the next idle worker. A receipt whose recognised text came out
 * far larger than intended is read once more at the right size ({@link rescaleFactor}), and a
 * large-print header is re-read shrunk to body size ({@link headerBand}).
 */
export class OcrEngine {
  readonly #options: OcrEngineOptions;
  readonly #size: number;
  #scheduler: Scheduler | undefined;
  #starting: Promise<Scheduler> | undefined;
  #disposed = false;

  constructor(options: OcrEngineOptions = {}) {
    this.#options = options;
    this.#size = Math.max(1, options.workers ?? Math.min(availableParallelism(), 4));
  }

  /** Number of worker threads the pool runs. */
  get size(): number {
    return this.#size;
  }

  /** Start the workers now (otherwise they start on the first {@link recognize}). */
  async start(): Promise<void> {
    await this.#ensure();
  }

  #ensure(): Promise<Scheduler> {
    if (this.#disposed) return Promise.reject(new ServiceError("OCR_DISPOSED", "The OCR engine has been shut down."));
    if (this.#scheduler) return Promise.resolve(this.#scheduler);
    this.#starting ??= (async () => {
      const opts = tesseractWorkerOptions(this.#options.langPath ?? bundledLangPath());
      const scheduler = createScheduler();
      const workers: Worker[] = [];
      try {
        for (let i = 0; i < this.#size; i++) {
          // OEM 1 = LSTM only: matches the best_int model and the smaller wasm core.
          const worker = await createWorker("eng", 1, opts);
          await worker.setParameters(tesseractParameters(this.#options.pageSegMode ?? "6"));
          workers.push(worker);
          scheduler.addWorker(worker);
        }
      } catch (err) {
        await Promise.allSettled(workers.map((w) => w.terminate()));
        this.#starting = undefined;
        throw new ServiceError("OCR_START_FAILED", "The OCR engine could not start; check that tesseract.js and @tesseract.js-data/eng are installed (npm ci).", { cause: err });
      }
      log.debug({ workers: this.#size }, "OCR pool started");
      this.#scheduler = scheduler;
      return scheduler;
    })();
    return this.#starting;
  }

  /**
   * Read the text in an image. Throws {@link InputError} for unsupported, damaged, oversized or
   * text-free images, {@link AbortedError} when `signal` fires (the queued job still runs to
   * completion in its worker; its result is discarded).
   */
  async recognize(bytes: Uint8Array, options: RecognizeOptions = {}): Promise<OcrResult> {
    const started = performance.now();
    const { signal } = options;
    if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
    const prepared = await preprocessImage(bytes, { ...this.#options.preprocess, ...(signal ? { signal } : {}) });
    const scheduler = await this.#ensure();
    if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
    // No rotateAuto: tesseract.js rotates without growing the canvas and crops the right-hand
    // column (where totals are); Tesseract's own line finder copes with the ±2° of a hand-held photo.
    let image: Pick<PreprocessedImage, "pgm" | "pixels" | "width" | "height"> = prepared;
    let page = await this.#run(scheduler, image.pgm, signal);
    let lines = linesFromTsv(page.tsv ?? "");
    const rescale = rescaleFactor(lines, this.#options.preprocess?.targetLineHeight ?? DEFAULT_TARGET_LINE_HEIGHT);
    if (rescale !== 1) {
      image = await resizePrepared(image, rescale);
      page = await this.#run(scheduler, image.pgm, signal);
      lines = linesFromTsv(page.tsv ?? "");
    }
    let text = page.text ?? "";
    const band = headerBand(lines, image.height);
    if (band) {
      const reads = await Promise.all(
        band.scales.map(async (scale) => bandLinesToPage(linesFromTsv((await this.#run(scheduler, await bandImage(image, band, scale), signal)).tsv ?? ""), band, scale)),
      );
      const reread = reads.flat();
      ({ text, lines } = mergeHeader(text, lines, band.lines, reread));
    }
    const result: OcrResult = { text, confidence: page.confidence ?? 0, lines, millis: performance.now() - started };
    log.debug({ millis: Math.round(result.millis), width: image.width, height: image.height, rescaled: rescale !== 1, headerReads: band?.scales.length ?? 0, lines: lines.length }, "OCR done");
    if (!options.allowEmpty && !hasReadableText(result)) {
      throw new InputError("OCR_NO_TEXT", "I couldn't find any readable text in that picture. If it is a receipt, take the photo straight on, in good light, with the receipt filling the frame.");
    }
    return result;
  }

  /** One recognition job on the pool, abandoned (not cancelled) when `signal` fires. */
  async #run(scheduler: Scheduler, image: Buffer, signal: AbortSignal | undefined): Promise<Page> {
    if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
    const job = scheduler.addJob("recognize", image, {}, { text: true, tsv: true });
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      if (!signal) return;
      onAbort = () => reject(new AbortedError({ cause: signal.reason }));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return (await Promise.race([job, aborted])).data;
    } finally {
      if (onAbort) signal?.removeEventListener("abort", onAbort);
      job.catch(() => {}); // a discarded job's late failure must not become an unhandled rejection
    }
  }

  /** Terminate the workers. Safe to call twice. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    const scheduler = this.#scheduler ?? (await this.#starting?.catch(() => undefined));
    this.#scheduler = undefined;
    if (scheduler) await scheduler.terminate();
  }
}
