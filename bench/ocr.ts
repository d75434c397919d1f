// Receipt OCR benchmark: `node bench/ocr.ts --dir DIR [--date-order DMY] [--workers N] [--limit N] [--no-native] [--no-ceiling]`
// DIR holds ID.jpg + ID.json (sroie-public format: company, date_iso, total_value). Prints a table,
// then ONE JSON line. The "ceiling" row times bare tesseract.js recognition (one read per receipt
// of the already-preprocessed images, same pool size and parameters): no pipeline built on
// tesseract.js and this language data can be faster than that on this machine.
import { readFileSync, readdirSync } from "node:fs";
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createScheduler, createWorker } from "tesseract.js";
import { OcrEngine, bundledLangPath, tesseractParameters, tesseractWorkerOptions } from "../src/ocr/ocrEngine.ts";
import { preprocessImage } from "../src/ocr/preprocess.ts";
import { parseReceipt } from "../src/receipts/parseReceipt.ts";
import type { DateOrder } from "../src/receipts/parseDate.ts";
import { configureLogger } from "../src/core/logger.ts";

configureLogger({ level: "error" });
const { values } = parseArgs({
  options: {
    dir: { type: "string" },
    "date-order": { type: "string", default: "MDY" },
    workers: { type: "string" },
    limit: { type: "string" },
    "no-native": { type: "boolean", default: false },
    "no-ceiling": { type: "boolean", default: false },
  },
});
if (!values.dir) {
  console.error("usage: node bench/ocr.ts --dir DIR [--date-order DMY] [--workers N] [--limit N] [--no-native] [--no-ceiling]");
  process.exit(2);
}
const dir = values.dir;
const dateOrder = (values["date-order"] === "DMY" ? "DMY" : "MDY") as DateOrder;
const workers = values.workers ? Number(values.workers) : Math.min(availableParallelism(), 4);

interface Truth {
  id: string;
  company: string;
  date_iso: string;
  total_value: string;
}
let items = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => JSON.parse(readFileSync(path.join(dir, f), "utf8")) as Truth & { image?: string })
  .map((t) => ({ truth: t, file: path.join(dir, t.image ?? `${t.id}.jpg`) }));
if (values.limit) items = items.slice(0, Number(values.limit));

const norm = (s: string): string => s.toUpperCase().replace(/[^A-Z0-9]/g, "");
function score(text: string, t: Truth): { total: boolean; date: boolean; merchant: boolean } {
  const p = parseReceipt(text, { dateOrder });
  return {
    total: p.total.value !== null && p.total.value === Math.round(Number(t.total_value) * 100),
    date: p.date.value === t.date_iso,
    merchant: p.merchant.value !== null && norm(p.merchant.value) === norm(t.company),
  };
}

function similarity(a: string, b: string): number {
  const x = a.toUpperCase().replace(/\s+/g, " ").trim();
  const y = b.toUpperCase().replace(/\s+/g, " ").trim();
  if (!x.length && !y.length) return 1;
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return 1 - prev[y.length]! / Math.max(x.length, y.length);
}

const pct = (xs: boolean[]): number => (xs.length ? xs.filter(Boolean).length / xs.length : 0);
const p95 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)] ?? 0;
const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

// --- Hearth pipeline (tesseract.js pool) ---------------------------------------------------
const engine = new OcrEngine({ workers });
let t0 = performance.now();
await engine.start();
const startupS = (performance.now() - t0) / 1000;
const texts: string[] = new Array(items.length).fill("");
const secs: number[] = [];
t0 = performance.now();
let next = 0;
// Two receipts in flight per worker, as a busy queue would have: while a worker recognises one,
// the next is being decoded and preprocessed (sharp, main thread) instead of the worker idling.
// Latency below is per receipt from submission, so it includes the wait for a free worker.
await Promise.all(
  Array.from({ length: workers * 2 }, async () => {
    while (next < items.length) {
      const i = next++;
      const s = performance.now();
      try {
        texts[i] = (await engine.recognize(readFileSync(items[i]!.file), { allowEmpty: true })).text;
      } catch (err) {
        console.error(`${items[i]!.truth.id}: ${(err as Error).message}`);
      }
      secs.push((performance.now() - s) / 1000);
    }
  }),
);
const wallS = (performance.now() - t0) / 1000;
await engine.dispose();
const scores = items.map((it, i) => score(texts[i]!, it.truth));
const peakRssMb = process.resourceUsage().maxRSS / 1024;

// --- Ceiling: bare tesseract.js recognition of preprocessed images ---------------------------
let ceiling: { wallS: number; receiptsPerS: number } | null = null;
if (!values["no-ceiling"]) {
  const prepared = [];
  for (const it of items) prepared.push((await preprocessImage(readFileSync(it.file))).pgm);
  const scheduler = createScheduler();
  for (let i = 0; i < workers; i++) {
    const w = await createWorker("eng", 1, tesseractWorkerOptions(bundledLangPath()));
    await w.setParameters(tesseractParameters("6"));
    scheduler.addWorker(w);
  }
  const c0 = performance.now();
  await Promise.all(prepared.map((pgm) => scheduler.addJob("recognize", pgm, {}, { text: true, tsv: true })));
  const cwall = (performance.now() - c0) / 1000;
  await scheduler.terminate();
  ceiling = { wallS: cwall, receiptsPerS: items.length / cwall };
}

// --- Native tesseract CLI, one process per core, OMP_THREAD_LIMIT=1 -------------------------
let native: { wallS: number; meanS: number; p95S: number; total: number; date: number; merchant: number; similarity: number } | null = null;
if (!values["no-native"]) {
  const ntexts: string[] = new Array(items.length).fill("");
  const nsecs: number[] = [];
  const cores = availableParallelism();
  let k = 0;
  const n0 = performance.now();
  const ok = await Promise.all(
    Array.from({ length: cores }, async () => {
      while (k < items.length) {
        const i = k++;
        const s = performance.now();
        const out = await new Promise<string | null>((resolve) => {
          const p = spawn("tesseract", [items[i]!.file, "stdout", "--psm", "4"], { env: { ...process.env, OMP_THREAD_LIMIT: "1" }, stdio: ["ignore", "pipe", "ignore"] });
          let buf = "";
          p.stdout.on("data", (d: Buffer) => (buf += d.toString()));
          p.on("error", () => resolve(null));
          p.on("close", (code) => resolve(code === 0 ? buf : null));
        });
        nsecs.push((performance.now() - s) / 1000);
        if (out === null) return false;
        ntexts[i] = out;
      }
      return true;
    }),
  );
  if (ok.every(Boolean)) {
    const nwall = (performance.now() - n0) / 1000;
    const ns = items.map((it, i) => score(ntexts[i]!, it.truth));
    native = {
      wallS: nwall,
      meanS: mean(nsecs),
      p95S: p95(nsecs),
      total: pct(ns.map((s) => s.total)),
      date: pct(ns.map((s) => s.date)),
      merchant: pct(ns.map((s) => s.merchant)),
      similarity: mean(items.map((_, i) => similarity(texts[i]!, ntexts[i]!))),
    };
  } else console.error("native tesseract CLI not available; skipped (apt-get install tesseract-ocr)");
}

const result = {
  bench: "ocr",
  dir,
  receipts: items.length,
  dateOrder,
  workers,
  total: pct(scores.map((s) => s.total)),
  date: pct(scores.map((s) => s.date)),
  merchant: pct(scores.map((s) => s.merchant)),
  startupS,
  wallS,
  receiptsPerS: items.length / wallS,
  meanS: mean(secs),
  p95S: p95(secs),
  peakRssMb,
  ceiling,
  native,
};
const f = (n: number, d = 2): string => n.toFixed(d);
const rows: [string, string, string][] = [
  ["metric", "hearth (tesseract.js pool)", "native tesseract CLI"],
  ["total exact", `${f(result.total * 100, 1)}%`, native ? `${f(native.total * 100, 1)}%` : "-"],
  ["date exact", `${f(result.date * 100, 1)}%`, native ? `${f(native.date * 100, 1)}%` : "-"],
  ["merchant exact (normalised)", `${f(result.merchant * 100, 1)}%`, native ? `${f(native.merchant * 100, 1)}%` : "-"],
  ["wall seconds", f(wallS), native ? f(native.wallS) : "-"],
  ["receipts / second", f(result.receiptsPerS, 3), native ? f(items.length / native.wallS, 3) : "-"],
  ["receipts / s, bare recognition (ceiling)", ceiling ? f(ceiling.receiptsPerS, 3) : "-", "-"],
  ["mean s / receipt (latency)", f(result.meanS), native ? f(native.meanS) : "-"],
  ["p95 s / receipt (latency)", f(result.p95S), native ? f(native.p95S) : "-"],
  ["startup seconds", f(startupS), "-"],
  ["peak RSS MB", f(peakRssMb, 0), "-"],
  ["text similarity to native", native ? f(native.similarity, 3) : "-", "1.000"],
];
const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i]!)).join(" | "));
console.log(JSON.stringify(result));
