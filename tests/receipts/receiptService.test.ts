import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { truncateSync, writeFileSync, openSync, closeSync, mkdirSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { OcrEngine } from "../../src/ocr/ocrEngine.ts";
import { ReceiptService } from "../../src/receipts/receiptService.ts";
import { handleReceiptCommand } from "../../src/receipts/receiptCommands.ts";
import { addFiles, listReceipts, exportReceipts, pick } from "../../src/receipts/receiptCli.ts";
import { renderUsReceipt } from "../fixtures/receipts/renderUsReceipt.ts";
import { tempDir, openLedger } from "./helpers.ts";
import type { Ledger } from "../../src/receipts/ledger.ts";

const t = tempDir("hearth-service-");
let engine: OcrEngine;
let ledger: Ledger;
let service: ReceiptService;

beforeAll(async () => {
  engine = new OcrEngine({ workers: 2 });
  ledger = (await openLedger(t.dir)).ledger;
  service = new ReceiptService({ ledger, ocr: engine, parse: { today: new Date("2025-01-01") } });
}, 60_000);
afterAll(async () => {
  service?.dispose();
  ledger?.dispose();
  await engine?.dispose();
  t.cleanup();
});

const cmd = async (text: string): Promise<string> => (await handleReceiptCommand(service, text))?.text ?? "(not handled)";

describe("ReceiptService + commands (real OCR, real ledger)", () => {
  it("files a photo, reports fields in plain words, then handles duplicates", { timeout: 180_000 }, async () => {
    const r = await renderUsReceipt("pharmacy", { seed: 11 });
    const reply = await service.handleImage(r.jpeg, { patient: "Ann", source: { transport: "test", chat: "c", message: "1" } });
    expect(reply.outcome).toBe("filed");
    expect(reply.text).toMatch(/Filed as receipt #\d+ for Ann/);
    expect(reply.text).toMatch(/Total: \$12\.50 \((sure|fairly sure)\)/);
    expect(reply.text).toMatch(/\/edit \d+ total 23\.40/);
    expect(reply.buttons?.[0]?.command).toBe(`/ok ${reply.receiptId}`);
    const again = await service.handleImage(r.jpeg, { patient: "Ann", source: { transport: "test" } });
    expect(again).toMatchObject({ outcome: "duplicate-image", receiptId: reply.receiptId });
    // Same receipt photographed again (different noise → different bytes): ask first.
    const photo2 = await renderUsReceipt("pharmacy", { seed: 12 });
    const suspected = await service.handleImage(photo2.jpeg, { patient: "Ann", source: { transport: "test" } });
    expect(suspected.outcome).toBe("suspected-duplicate");
    const token = suspected.buttons?.[0]?.command.split(" ")[1];
    expect(service.pendingCount).toBe(1);
    expect(await cmd(`/fileanyway ${token}`)).toMatch(/Filed as receipt #/);
    expect(await cmd(`/fileanyway ${token}`)).toMatch(/expired or was already handled/);
    expect(ledger.list()).toHaveLength(2);
  });

  it("answers bad images with a clear message and keeps working", { timeout: 180_000 }, async () => {
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /empty/],
      [Buffer.from("%PDF-1.7 ..."), /PDF/],
      [Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(5000, 7)]), /damaged|incomplete/],
      [await sharp({ create: { width: 600, height: 400, channels: 3, background: "#fff" } }).png().toBuffer(), /couldn't find any readable text/],
    ];
    for (const [bytes, msg] of cases) {
      const reply = await service.handleImage(bytes, { patient: "Ann", source: { transport: "test" } });
      expect(reply.outcome).toBe("rejected");
      expect(reply.text).toMatch(msg);
    }
    const ok = await service.handleImage((await renderUsReceipt("copay", { seed: 5 })).jpeg, { patient: "Bob", source: { transport: "test" } });
    expect(ok.outcome).toBe("filed");
  });

  it("runs the chat commands and answers malformed ones with a usage line", { timeout: 60_000 }, async () => {
    const [first] = ledger.list({ patient: "Ann" });
    const id = first!.id;
    expect(await cmd(`/edit ${id} total 23.40`)).toMatch(/\$23\.40/);
    expect(await cmd(`/edit ${id} provider Maple Street Pharmacy`)).toMatch(/Maple Street Pharmacy/);
    expect(await cmd(`/edit ${id} total lots`)).toMatch(/not an amount/);
    expect(await cmd("/edit 12")).toMatch(/^Usage: \/edit ID FIELD VALUE/);
    expect(await cmd(`/ok ${id}`)).toMatch(/Confirmed/);
    expect(await cmd("/receipts 2024")).toMatch(/receipt\(s\) in 2024/);
    expect(await cmd("/receipts 2024 Bob")).toMatch(/1 receipt\(s\) in 2024 for Bob/);
    expect(await cmd("/receipts 2024 Bob extra")).toMatch(/^Usage/);
    expect(await cmd("/pick 100")).toMatch(/add up to/);
    expect(await cmd("/pick lots")).toMatch(/^Usage: \/pick/);
    expect(await cmd(`/reimbursed ${id} 10.00`)).toMatch(/reimbursed.*\$10\.00 back/);
    expect(await cmd("/reimbursed x")).toMatch(/^Usage/);
    expect(await cmd("/hsa 2024")).toMatch(/HSA 2024: 3 receipt\(s\)/);
    expect(await cmd("/hsa")).toMatch(/^Usage/);
    expect(await cmd("/reimbursed 99999")).toMatch(/no receipt #99999/);
    expect(await handleReceiptCommand(service, "/weather")).toBeUndefined();
    expect(await handleReceiptCommand(service, "hello")).toBeUndefined();
  });

  it("CLI functions: batch add with progress (bad files don't stop it), list, export, pick", { timeout: 180_000 }, async () => {
    const dir = path.join(t.dir, "in");
    mkdirSync(dir);
    const good = path.join(dir, "dental.jpg");
    writeFileSync(good, (await renderUsReceipt("dental", { seed: 9 })).jpeg);
    const empty = path.join(dir, "empty.jpg");
    writeFileSync(empty, "");
    const notImage = path.join(dir, "notes.jpg");
    writeFileSync(notImage, "TOTAL 12.00\n");
    const huge = path.join(dir, "huge.jpg");
    closeSync(openSync(huge, "w"));
    truncateSync(huge, 200 * 1024 * 1024); // sparse: 200 MB on paper, nothing allocated
    const progress: number[] = [];
    const out = await addFiles(service, [empty, huge, notImage, path.join(dir, "missing.jpg"), good], { patient: "Cy", onProgress: (done) => progress.push(done) });
    expect(progress).toEqual([1, 2, 3, 4, 5]);
    expect(out.map((o) => o.outcome)).toEqual(["rejected", "rejected", "rejected", "error", "filed"]);
    expect(out[1]!.message).toMatch(/200 MB; the limit is 25 MB/);
    expect(out[3]!.message).toMatch(/does not exist/);
    const listed = JSON.parse(listReceipts(service, { year: 2023, json: true })) as { provider: string; amountCents: number }[];
    expect(listed).toEqual([expect.objectContaining({ provider: "BRIGHT SMILE DENTAL", amountCents: 64956 })]);
    const csvPath = path.join(t.dir, "out.csv");
    expect(await exportReceipts(service, { year: 2023, out: csvPath, format: "csv" })).toBe(1);
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(csvPath, "utf8")).toMatch(/BRIGHT SMILE DENTAL,649\.56/);
    const picked = JSON.parse(pick(service, "700", { json: true })) as { totalCents: number; ids: number[] };
    expect(picked.totalCents).toBeLessThanOrEqual(70000);
    expect(picked.ids.length).toBeGreaterThan(0);
    expect(() => pick(service, "abc")).toThrow(/not an amount/);
  });

  it("reads a batch several photos at a time but files it in command-line order, duplicates included", { timeout: 180_000 }, async () => {
    const dir = path.join(t.dir, "batch");
    mkdirSync(dir);
    const copay = path.join(dir, "1-copay.jpg");
    writeFileSync(copay, (await renderUsReceipt("copay", { seed: 21 })).jpeg);
    const bad = path.join(dir, "2-bad.jpg");
    writeFileSync(bad, "not a photo");
    const eob = path.join(dir, "3-eob.jpg");
    writeFileSync(eob, (await renderUsReceipt("eob", { seed: 22 })).jpeg);
    const again = path.join(dir, "4-copay-again.jpg");
    writeFileSync(again, (await renderUsReceipt("copay", { seed: 21 })).jpeg); // the same bytes
    // A ledger of its own: the receipts above are on file in the shared one.
    const own = (await openLedger(dir)).ledger;
    const batchService = new ReceiptService({ ledger: own, ocr: engine, parse: { today: new Date("2025-01-01") } });
    try {
      const done: string[] = [];
      const out = await addFiles(batchService, [copay, bad, eob, again], { patient: "Di", concurrency: 4, onProgress: (_n, _t, last) => done.push(path.basename(last.file)) });
      expect(done).toEqual(["1-copay.jpg", "2-bad.jpg", "3-eob.jpg", "4-copay-again.jpg"]);
      expect(out.map((o) => o.outcome)).toEqual(["filed", "rejected", "filed", "duplicate-image"]);
      expect(out[2]!.receiptId).toBeGreaterThan(out[0]!.receiptId!);
      expect(out[3]!.receiptId).toBe(out[0]!.receiptId);
      expect(own.list().length).toBe(2);
    } finally {
      batchService.dispose();
      own.dispose();
    }
  });
});
