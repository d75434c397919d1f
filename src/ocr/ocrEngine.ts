import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { createScheduler, createWorker, type Scheduler, type Worker, type Page } from "tesseract.js";
import { AbortedError, InputError, ServiceError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";
import { preprocessImage, type PreprocessOptions } from "./preprocess.ts";

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

/**
 * A pool of tesseract.js workers (English, LSTM) created once and reused. Images are
 * preprocessed with sharp on the main thread (libvips has its own threads), then queued on the
 * scheduler, which hands each job to the next idle worker.
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
          await worker.setParameters({
            tessedit_pageseg_mode: (this.#options.pageSegMode ?? "6") as never,
            preserve_interword_spaces: "1",
            user_defined_dpi: "300",
            // Tesseract prints diagnostics ("Detected N diacritics", "Empty page!!") to stderr, which
            // would interleave with the console chat and CLI output; Hearth reports outcomes itself.
            debug_file: "/dev/null",
          });
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
    const job = // No rotateAuto: tesseract.js rotates without growing the canvas and crops the right-hand
    // column (where totals are); Tesseract's own line finder copes with the ±2° of a hand-held photo.
    scheduler.addJob("recognize", prepared.png, {}, { text: true, tsv: true });
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      if (!signal) return;
      onAbort = () => reject(new AbortedError({ cause: signal.reason }));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    let page: Page;
    try {
      page = (await Promise.race([job, aborted])).data;
    } finally {
      if (onAbort) signal?.removeEventListener("abort", onAbort);
      job.catch(() => {}); // a discarded job's late failure must not become an unhandled rejection
    }
    const result: OcrResult = {
      text: page.text ?? "",
      confidence: page.confidence ?? 0,
      lines: linesFromTsv(page.tsv ?? ""),
      millis: performance.now() - started,
    };
    if (!options.allowEmpty && !hasReadableText(result)) {
      throw new InputError("OCR_NO_TEXT", "I couldn't find any readable text in that picture. If it is a receipt, take the photo straight on, in good light, with the receipt filling the frame.");
    }
    return result;
  }

  /** Terminate the workers. Safe to call twice. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    const scheduler = this.#scheduler ?? (await this.#starting?.catch(() => undefined));
    this.#scheduler = undefined;
    if (scheduler) await scheduler.terminate();
  }
}
