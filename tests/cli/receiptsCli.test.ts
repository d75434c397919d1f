import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { unzipSync } from "fflate";
import { PDFDocument } from "pdf-lib";
import { beforeAll, describe, expect, it } from "vitest";

/** `hearth receipts …` end to end: real OCR, encrypted ledger, exports a person can open. */
const bin = resolve(import.meta.dirname, "../../bin/hearth.js");
const fixtures = resolve(import.meta.dirname, "../fixtures/receipts/sroie");
let dir: string;
let env: Record<string, string>;

function hearth(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 240_000, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hearth-rcli-"));
  const key = join(dir, "vault.key");
  writeFileSync(key, randomBytes(32));
  chmodSync(key, 0o600);
  writeFileSync(join(dir, "config.yaml"), "log: { level: warn }\nvault: { keychain: false }\nreceipts: { dateOrder: DMY, ocrWorkers: 1 }\npeople: [{ name: ann, role: admin, identities: ['console:ann'] }]\n");
  env = { HEARTH_HOME: join(dir, "data"), HEARTH_CONFIG: join(dir, "config.yaml"), HEARTH_VAULT_KEY_FILE: key, CI: "true" };
});

describe("hearth receipts CLI", () => {
  it("files receipts, reports the fields, refuses a duplicate and a bad file, and exports csv/zip/pdf", async () => {
    const files = ["X51005712017.jpg", "X51005685355.jpg"].map((f) => join(fixtures, f));
    const bogus = join(dir, "notes.jpg");
    writeFileSync(bogus, "this is a text file, not a photo");
    const add = hearth(["receipts", "add", ...files, files[0]!, bogus, "--patient", "ann", "--json"]);
    const outcomes = JSON.parse(add.out) as Array<{ file: string; outcome: string; receiptId?: number; message: string }>;
    expect(outcomes.map((o) => o.outcome)).toEqual(["filed", "filed", "duplicate-image", "rejected"]);
    expect(outcomes[0]!.message).toMatch(/13\.10/);
    expect(outcomes[2]!.message).toMatch(/#1/);
    expect(outcomes[3]!.message).toMatch(/JPEG|PNG|WebP/);
    expect(add.code).toBe(1); // one file was rejected: the exit code says so

    const list = JSON.parse(hearth(["receipts", "list", "--json"]).out) as Array<{ id: number; amountCents: number; serviceDate: string; patient: string }>;
    expect(list.map((r) => r.amountCents).sort((a, b) => a - b)).toEqual([530, 1310]);
    expect(list.every((r) => r.patient === "ann")).toBe(true);

    const out = join(dir, "export");
    const exp = hearth(["receipts", "export", "--out", out]);
    expect(exp.code).toBe(0);
    const csv = readFileSync(join(out, "hsa-all.csv"), "utf8").trim().split(/\r?\n/);
    expect(csv).toHaveLength(3);
    const zip = unzipSync(readFileSync(join(out, "hsa-all.zip")));
    const images = Object.keys(zip).filter((n) => n.endsWith(".jpg"));
    expect(images).toHaveLength(2);
    const original = readFileSync(files[0]!);
    expect(Object.values(zip).some((b) => Buffer.from(b).equals(original))).toBe(true);
    const pdf = await PDFDocument.load(readFileSync(join(out, "hsa-all.pdf")));
    expect(pdf.getPageCount()).toBe(3); // summary + one page per receipt

    const pick = hearth(["receipts", "pick", "10.00", "--json"]);
    expect(JSON.parse(pick.out)).toMatchObject({ targetCents: 1000, totalCents: 530 });
  }, 240_000);
});
