import { describe, it, expect, afterEach } from "vitest";
import { unzipSync } from "fflate";
import { PDFDocument } from "pdf-lib";
import sharp from "sharp";
import { exportCsv, exportZip, exportPdf, csvField, CSV_COLUMNS } from "../../src/receipts/export.ts";
import { parsedFor, tempDir, uniqueJpeg, openLedger } from "./helpers.ts";
import type { Ledger } from "../../src/receipts/ledger.ts";

let cleanup = (): void => {};
afterEach(() => cleanup());

/** Minimal RFC 4180 reader for checking our output. */
function readCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(field), (field = "");
    else if (c === "\r" && text[i + 1] === "\n") row.push(field), rows.push(row), (row = []), (field = ""), i++;
    else field += c;
  }
  return rows;
}

async function seed(ledger: Ledger): Promise<{ jpeg: Buffer; png: Buffer; webp: Buffer }> {
  const jpeg = await uniqueJpeg(120, 200);
  const png = await sharp(await uniqueJpeg(100, 150)).png().toBuffer();
  const webp = await sharp(await uniqueJpeg(90, 130)).webp().toBuffer();
  ledger.fileReceipt({ bytes: jpeg, parsed: parsedFor('SMITH, "DOC" & SONS', "03/14/2024", "1,234.56"), patient: "Ann", source: { transport: "test" }, notes: "line1\nline2" });
  const bob = ledger.fileReceipt({ bytes: png, parsed: parsedFor("CMD", "01/02/2024", "12.50"), patient: "Bob", source: { transport: "test" } });
  if (bob.status === "filed") ledger.edit(bob.receipt.id, "provider", "=CMD()"); // a formula-injection attempt
  ledger.fileReceipt({ bytes: webp, parsed: parsedFor("EYE CARE", "05/06/2023", "99.00"), patient: "Ann", source: { transport: "test" } });
  return { jpeg, png, webp };
}

describe("export", () => {
  it("quotes CSV per RFC 4180 and defuses spreadsheet formulas", async () => {
    expect(csvField('a "b", c')).toBe('"a ""b"", c"');
    expect(csvField("=1+1")).toBe("'=1+1");
    expect(csvField("-12.50")).toBe("-12.50");
    const t = tempDir();
    cleanup = t.cleanup;
    const { ledger } = await openLedger(t.dir);
    await seed(ledger);
    const rows = readCsv(exportCsv(ledger, { year: 2024 }));
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(3);
    const byProvider = new Map(rows.slice(1).map((r) => [r[3], r]));
    const smith = byProvider.get('SMITH, "DOC" & SONS')!;
    expect(smith[CSV_COLUMNS.indexOf("amount")]).toBe("1234.56");
    expect(smith[CSV_COLUMNS.indexOf("notes")]).toBe("line1\nline2");
    expect(byProvider.has("'=CMD()")).toBe(true);
    ledger.dispose();
  });

  it("zips the original image bytes under date_provider_amount names", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const { ledger } = await openLedger(t.dir);
    const imgs = await seed(ledger);
    const files = unzipSync(exportZip(ledger));
    const names = Object.keys(files).sort();
    expect(names).toEqual(["2023-05-06_EYE-CARE_99.00.webp", "2024-01-02_CMD_12.50.png", "2024-03-14_SMITH-DOC-SONS_1234.56.jpg", "receipts.csv"]);
    expect(Buffer.from(files["2024-03-14_SMITH-DOC-SONS_1234.56.jpg"]!).equals(imgs.jpeg)).toBe(true);
    expect(Buffer.from(files["2024-01-02_CMD_12.50.png"]!).equals(imgs.png)).toBe(true);
    expect(Buffer.from(files["2023-05-06_EYE-CARE_99.00.webp"]!).equals(imgs.webp)).toBe(true);
    expect(Object.keys(unzipSync(exportZip(ledger, { patient: "Bob" })))).toHaveLength(2);
    ledger.dispose();
  });

  it("builds a PDF claim packet: summary page plus one page per receipt, PNG/WebP embedded", { timeout: 60_000 }, async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const { ledger } = await openLedger(t.dir);
    await seed(ledger);
    const all = await PDFDocument.load(await exportPdf(ledger));
    expect(all.getPageCount()).toBe(1 + 3);
    const ids = ledger.list({ year: 2024 }).map((r) => r.id);
    const some = await PDFDocument.load(await exportPdf(ledger, { ids: [ids[0]!] }));
    expect(some.getPageCount()).toBe(2);
    ledger.dispose();
  });
});
