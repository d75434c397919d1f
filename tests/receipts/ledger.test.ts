import { describe, it, expect, afterEach } from "vitest";
import { readFileSync, readdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import path from "node:path";
import Database from "better-sqlite3";
import { LEDGER_MIGRATIONS } from "../../src/receipts/ledgerMigrations.ts";
import { parsedFor, tempDir, uniqueJpeg, openLedger } from "./helpers.ts";

let cleanup = (): void => {};
afterEach(() => cleanup());

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe("Ledger", () => {
  it("migrates once, in WAL mode, tracking user_version", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const { ledger, key } = await openLedger(t.dir);
    expect(ledger.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(ledger.db.pragma("user_version", { simple: true })).toBe(LEDGER_MIGRATIONS.length);
    ledger.dispose();
    const again = await openLedger(t.dir, key);
    expect(again.ledger.list()).toEqual([]);
    again.ledger.dispose();
    const db = new Database(path.join(t.dir, "hsa.sqlite"));
    db.pragma(`user_version = ${LEDGER_MIGRATIONS.length + 1}`);
    db.close();
    await expect(openLedger(t.dir, key)).rejects.toThrow(/newer Hearth/);
  });

  it("files, refuses the same image, and asks about same provider+date+amount", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const { ledger } = await openLedger(t.dir);
    const img = await uniqueJpeg();
    const parsed = parsedFor("LAKESIDE CLINIC", "02/07/2024", "40.00");
    const first = ledger.fileReceipt({ bytes: img, parsed, patient: "Ann", source: { transport: "test", chat: "c1", message: "m1" } });
    expect(first.status).toBe("filed");
    if (first.status !== "filed") return;
    expect(first.receipt).toMatchObject({ provider: "LAKESIDE CLINIC", serviceDate: "2024-02-07", amountCents: 4000, status: "unclaimed", patient: "Ann" });
    expect(first.receipt.imageSha256).toBe(createHash("sha256").update(img).digest("hex"));
    expect(ledger.fileReceipt({ bytes: img, parsed, patient: "Bob", source: { transport: "test" } })).toEqual({ status: "duplicate-image", existingId: first.receipt.id });
    const other = await uniqueJpeg();
    const suspected = ledger.fileReceipt({ bytes: other, parsed, patient: "Ann", source: { transport: "test" } });
    expect(suspected.status).toBe("suspected-duplicate");
    expect(ledger.list()).toHaveLength(1);
    const forced = ledger.fileReceipt({ bytes: other, parsed, patient: "Ann", source: { transport: "test" }, force: true });
    expect(forced.status).toBe("filed");
    expect(ledger.list()).toHaveLength(2);
    ledger.dispose();
  });

  it("edits fields from user text and explains bad values", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const { ledger } = await openLedger(t.dir);
    const r = ledger.fileReceipt({ bytes: await uniqueJpeg(), parsed: parsedFor("X", "01/02/2024", "1.00"), patient: "Ann", source: { transport: "test" } });
    if (r.status !== "filed") throw new Error("not filed");
    const id = r.receipt.id;
    expect(ledger.edit(id, "total", "23.40").amountCents).toBe(2340);
    expect(ledger.edit(id, "date", "3/5/2024").serviceDate).toBe("2024-03-05");
    expect(ledger.edit(id, "provider", "Dr. Smith").provider).toBe("Dr. Smith");
    expect(ledger.edit(id, "patient", "Bob").patient).toBe("Bob");
    expect(ledger.edit(id, "category", "dental").category).toBe("dental");
    expect(ledger.edit(id, "notes", "cleaning, 6-month").notes).toBe("cleaning, 6-month");
    expect(() => ledger.edit(id, "total", "lots")).toThrow(/not an amount/);
    expect(() => ledger.edit(id, "date", "someday")).toThrow(/not a date/);
    expect(() => ledger.edit(id, "category", "groceries")).toThrow(/must be one of/);
    expect(() => ledger.edit(id, "colour", "red")).toThrow(/can't edit/);
    expect(() => ledger.edit(999, "total", "1")).toThrow(/no receipt #999/);
    expect(ledger.get(id).amountCents).toBe(2340); // failed edits changed nothing
    ledger.dispose();
  });

  it("tracks status, partial reimbursement and yearly totals by patient", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const { ledger } = await openLedger(t.dir);
    const ids: number[] = [];
    for (const [who, date, amt] of [["Ann", "01/10/2024", "100.00"], ["Ann", "02/10/2024", "50.00"], ["Bob", "03/10/2024", "20.00"], ["Bob", "03/10/2023", "7.00"]] as const) {
      const r = ledger.fileReceipt({ bytes: await uniqueJpeg(), parsed: parsedFor(`P${who}${date}`, date, amt), patient: who, source: { transport: "test" } });
      if (r.status === "filed") ids.push(r.receipt.id);
    }
    ledger.markSubmitted(ids[0]!);
    ledger.markReimbursed(ids[0]!, 8000);
    ledger.markSubmitted(ids[1]!);
    expect(() => ledger.markReimbursed(ids[2]!, 999_999)).toThrow(/more than/);
    const t24 = ledger.totals(2024);
    expect(t24.count).toBe(3);
    expect(t24.totalCents).toBe(17000);
    expect(t24.byStatus.reimbursed).toEqual({ count: 1, cents: 10000 });
    expect(t24.byStatus.submitted).toEqual({ count: 1, cents: 5000 });
    expect(t24.byStatus.unclaimed).toEqual({ count: 1, cents: 2000 });
    expect(t24.reimbursedCents).toBe(8000);
    expect(t24.byPatient["Ann"]).toEqual({ count: 2, cents: 15000, reimbursedCents: 8000 });
    expect(ledger.list({ year: 2023 })).toHaveLength(1);
    expect(ledger.list({ patient: "bob" })).toHaveLength(2);
    expect(ledger.list({ status: "submitted" }).map((r) => r.id)).toEqual([ids[1]]);
    expect(() => ledger.markSubmitted(ids[0]!)).toThrow(/already reimbursed/);
    ledger.dispose();
  });

  it("keeps images encrypted at rest: no file holds the image bytes or their base64", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const { ledger } = await openLedger(t.dir);
    const images = [await uniqueJpeg(200, 150), await uniqueJpeg(120, 90)];
    const ids: number[] = [];
    for (const [i, img] of images.entries()) {
      const r = ledger.fileReceipt({ bytes: img, parsed: parsedFor(`SHOP ${i}`, "01/02/2024", `${i + 1}.00`), patient: "Ann", source: { transport: "test" } });
      if (r.status === "filed") ids.push(r.receipt.id);
    }
    ledger.db.pragma("wal_checkpoint(TRUNCATE)");
    const contents = allFiles(t.dir).map((f) => readFileSync(f));
    expect(contents.length).toBeGreaterThanOrEqual(3);
    for (const img of images) {
      // Any 64-byte window of the JPEG body, raw or base64, must not appear anywhere on disk.
      const probe = img.subarray(img.length - 200, img.length - 136);
      const b64 = img.toString("base64").slice(400, 480);
      for (const c of contents) {
        expect(c.includes(probe)).toBe(false);
        expect(c.includes(Buffer.from(b64))).toBe(false);
      }
    }
    expect(Buffer.from(ledger.readImage(ids[0]!)).equals(images[0]!)).toBe(true);
    ledger.dispose();
  });

  it("reconcile removes orphan images and temp files and flags rows whose image is gone", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const { ledger } = await openLedger(t.dir);
    const r = ledger.fileReceipt({ bytes: await uniqueJpeg(), parsed: parsedFor("A", "01/02/2024", "1.00"), patient: "Ann", source: { transport: "test" } });
    const r2 = ledger.fileReceipt({ bytes: await uniqueJpeg(), parsed: parsedFor("B", "01/02/2024", "2.00"), patient: "Ann", source: { transport: "test" } });
    if (r.status !== "filed" || r2.status !== "filed") throw new Error("not filed");
    ledger.images.put(await uniqueJpeg()); // orphan: image stored, crash before the row
    writeFileSync(path.join(ledger.images.dir, ".tmp-deadbeef"), "partial");
    unlinkSync(path.join(ledger.images.dir, `${r2.receipt.imageRef}.img`));
    const report = ledger.reconcile();
    expect(report).toEqual({ orphanImagesRemoved: 1, tempFilesRemoved: 1, missingImages: [r2.receipt.id] });
    expect(ledger.get(r2.receipt.id)).toMatchObject({ imageMissing: true, needsReview: true });
    expect(ledger.images.listRefs()).toEqual([r.receipt.imageRef]);
    expect(ledger.reconcile()).toEqual({ orphanImagesRemoved: 0, tempFilesRemoved: 0, missingImages: [r2.receipt.id] });
    ledger.dispose();
  });
});
