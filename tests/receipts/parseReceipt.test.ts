import { describe, it, expect } from "vitest";
import { parseReceipt, parseReceiptAssisted, LLM_RECEIPT_SCHEMA, type LlmAssist } from "../../src/receipts/parseReceipt.ts";

const today = new Date("2025-01-01T00:00:00Z");

// OCR-ish text of a Malaysian hardware receipt (confusions as Tesseract produced them).
const MY = `HOME MASTER HARDWARE &
ELECTRICAL
NO.113G & 115G, JALAN SETIA GEMBEILANG
40170 BANDAR SETIA ALARM,
Company Reg No. :SA03711551-P
GST Reg No. :001637511168
TAX INVOICE
Date :            22/12/2017 14:03
1.00              ¥ 15.90          15.90          SR
Subtota ;                   15.90
Total Excl. of GST 15.00
Total Amt Rounded 15.9O
Payment :                50.00
Change Due :                 34,10
SR @6%              15.00             0.90`;

const US_PHARMACY = `CORNER DRUG PHARMACY
500 ELM STREET
SPRINGFIELD, IL 62704
TEL (217) 555-0100
DATE: 04/03/2024 09:12
RX #: 771203  REFILLS: 1
LISINOPRIL 10MG TAB QTY 30
RETAIL PRICE $42.19
INSURANCE PAID $32.19
SUBTOTAL $10.00
TAX $0.00
PATIENT PAYS $1O.00
CASH $20.00
CHANGE $10.00
VISA ************8812`;

describe("parseReceipt", () => {
  it("prefers the rounded total over subtotal, tax, payment and change", () => {
    const p = parseReceipt(MY, { dateOrder: "DMY", today });
    expect(p.total.value).toBe(1590);
    expect(p.total.confidence).toBeGreaterThanOrEqual(0.8);
    expect(p.date.value).toBe("2017-12-22");
    expect(p.merchant.value).toBe("HOME MASTER HARDWARE & ELECTRICAL");
    expect(p.currency).toBe("USD"); // no RM/SDN BHD in this text, so the default
  });

  it("reads a US pharmacy receipt: PATIENT PAYS, month-first date, card digits, category", () => {
    const p = parseReceipt(US_PHARMACY, { today });
    expect(p.total.value).toBe(1000);
    expect(p.date.value).toBe("2024-04-03");
    expect(p.merchant.value).toBe("CORNER DRUG PHARMACY");
    expect(p.cardLast4.value).toBe("8812");
    expect(p.tax.value).toBe(0);
    expect(p.category.category).toBe("prescription");
    expect(p.items.some((i) => /LISINOPRIL/.test(i.description))).toBe(false); // no price on that line
  });

  it("uses DMY for day-first receipts and lowers confidence when the order is a guess", () => {
    const text = "SHOP\nDate: 03/04/2024\nTOTAL 5.00";
    expect(parseReceipt(text, { dateOrder: "DMY", today }).date.value).toBe("2024-04-03");
    const us = parseReceipt(text, { today });
    expect(us.date.value).toBe("2024-03-04");
    expect(us.date.confidence).toBeLessThan(0.85);
  });

  it("rejects future dates in favour of a plausible one", () => {
    const p = parseReceipt("SHOP\nDate: 01/05/2024\nNext visit: 06/01/2031\nTOTAL $9.99", { today });
    expect(p.date.value).toBe("2024-01-05");
  });

  it("derives the total from payment minus change when no total line is readable", () => {
    const p = parseReceipt("KEDAI RUNCIT ABC\n2 x MILO 3.50 7.00\nBREAD 2.80\nCASH 20.00\nCHANGE 10.20", { today, dateOrder: "DMY" });
    expect(p.total.value).toBe(980);
  });

  it("handles an Explanation of Benefits: patient responsibility, date of service, needs review", () => {
    const eob = "ACME HEALTH PLAN\nEXPLANATION OF BENEFITS\nTHIS IS NOT A BILL\nSTATEMENT DATE: 02/15/2024\nDATE OF SERVICE: 01/22/2024\nAMOUNT BILLED $310.00\nPLAN PAID $88.40\nPATIENT RESPONSIBILITY $31.60";
    const p = parseReceipt(eob, { today });
    expect(p.total.value).toBe(3160);
    expect(p.date.value).toBe("2024-01-22");
    expect(p.isExplanationOfBenefits).toBe(true);
    expect(p.needsReview).toBe(true);
  });

  it("takes 'Amount Incl. GST' as the total, and an 'Accepted total' as money tendered", () => {
    const text = "CITY PARKING SDN BHD\nParking ticket 5.00 RM\nAnount Incl. GST      5.00 RH\nAccepted total       10.00 RM\nChange                5.00 RM";
    expect(parseReceipt(text, { today, dateOrder: "DMY" }).total.value).toBe(500);
  });

  it("ignores 'GST included in total' notes and reads OCR'd 'Tota! (inci GST)'", () => {
    const a = "HARDWARE SHOP\nTotal Incl. GST6%          RM 42.40\nCASH       RM 50.00\nCHANGE      RM 7.60\nGST @6% included in total     RM 2.40";
    expect(parseReceipt(a, { today }).total.value).toBe(4240);
    const b = "BURGER PLACE SDN BHD\n1 Fish Burger      11.10\nEat-In Tota! (inci GST)      11.10\nTotal Rounded       13.10\nCash Tendered       20.00";
    // The "rounded" amount is 2.00 away from every other figure: an OCR misread, not rounding.
    expect(parseReceipt(b, { today }).total.value).toBe(1110);
  });

  it("cross-checks a misread total against subtotal + tax", () => {
    const text = "KOPI SHOP\nTeh 4.40\nTotal (Excluding GST):    8.59\nGST payable (6%):    0.51\nTotal (Inclusive of GST):    8.10\nTOTAL:    9.10\nCASH :    9.10";
    expect(parseReceipt(text, { today }).total.value).toBe(910);
  });

  it("applies a rounding adjustment that payment minus change confirms", () => {
    const text = "MINI MARKET\nRICE 16.31\nTotal :        16.31\nRounding Adj :     -0.01\nPayment (Cash) :    17.00\nChange (Cash) :     0.70";
    expect(parseReceipt(text, { today }).total.value).toBe(1630);
    const us = "CORNER CAFE\nAMOUNT TO BE PAID:   $25.45\nCASH RECEIVED:   $30.00\nCHANGE:   $4.55";
    expect(parseReceipt(us, { today }).total.value).toBe(2545);
  });

  it("does not take an amount from a next line that carries a word, and falls back to the subtotal", () => {
    const text = "BAKERY\n2 TAU SAR PIAH   25.00\nSubTotal     25.00\nNet Total     25. J\nc                50.00";
    expect(parseReceipt(text, { today }).total.value).toBe(2500);
  });

  it("reads OCR-damaged date labels and years", () => {
    expect(parseReceipt("SHOP\nRECEIPT #: CS123 DAE: 15/11/7017\nTOTAL 5.00", { today, dateOrder: "DMY" }).date.value).toBe("2017-11-15");
    expect(parseReceipt("SHOP\nRECEIPT #: CS456 TATE: DA/09/2017\nTOTAL 5.00", { today, dateOrder: "DMY" }).date.value).toBe("2017-09-04");
  });

  it("repairs the company suffix and digits inside a business name", () => {
    expect(parseReceipt("MR. D.1.Y. (M) SDN EHD\nLOT 5, JALAN 6\nTOTAL 5.00", { today }).merchant.value).toBe("MR. D.I.Y. (M) SDN BHD");
    expect(parseReceipt("SUPER SEVEN CASH & CARRY SEN 3HD 7 5 -af\nTOTAL 5.00", { today }).merchant.value).toBe("SUPER SEVEN CASH & CARRY SDN BHD");
    expect(parseReceipt("99 SPEED MART 5/8 (519537-X)\nTOTAL 5.00", { today }).merchant.value).toBe("99 SPEED MART S/B");
  });

  it("repairs a look-alike letter in a dictionary word of the name, but not in a brand", () => {
    const p = parseReceipt("GARDENIA BAKERLES (KL) SDN BHD (139386 X)\nLot 3, Jalan Pelabur 23/1,\n40300 Shah Alam, Selangor.\nTOTAL RM 12.50");
    expect(p.merchant.value).toBe("GARDENIA BAKERIES (KL) SDN BHD");
    expect(parseReceipt("SANYU STATIONERY SHOP\nNO. 31G&33G, JALAN SETIA INDAH\nTOTAL 5.00").merchant.value).toBe("SANYU STATIONERY SHOP");
  });

  it("takes a bare 'Rounding' line a few cents from the total as the amount paid, even OCR-damaged", () => {
    const text = "KEDAI RUNCIT MAJU\nMILO 1KG RM13.58\nTotal Sales (Inclusive GST) RM 13.58\nRounding Adjustment RM 02\nkounding RM 13.60\nCASH RM 14.00\nCHANGE RM 40";
    expect(parseReceipt(text, { today }).total.value).toBe(1360);
    // Far from the total it is not a rounding of it.
    expect(parseReceipt(text.replace("kounding RM 13.60", "Rounding RM 16.60"), { today }).total.value).toBe(1358);
  });

  it("joins a short branch line to a top name that has no company suffix", () => {
    const text = "KOPI DAN ROTI KITCH\nBANGSAR SOUTH\nGST Reg No: 001122334455\nTax Invoice\nTOTAL 12.00";
    expect(parseReceipt(text, { today }).merchant.value).toBe("KOPI DAN ROTI KITCH BANGSAR SOUTH");
    // A brand line above a full company name is not part of it.
    const brand = "FRESH MOO\nLEMBU SUSU TRADING SDN BHD\nNO. 3, JALAN 2\nTOTAL 8.00";
    expect(parseReceipt(brand, { today }).merchant.value).toBe("LEMBU SUSU TRADING SDN BHD");
  });

  it("prefers a shop name above the address to a company printed below it, even with a garbled 'owned by'", () => {
    const text = "KEDAI BUKU CERIA SHOP\nNO. 12, JALAN MAWAR 3\n47000 SUNGAI BULOH\nTel: 03-1234 5678\nvned 8y :\nCERIA HOLDINGS SDN BHD (123456-K)\nTOTAL 9.90";
    expect(parseReceipt(text, { today }).merchant.value).toBe("KEDAI BUKU CERIA SHOP");
  });

  it("prefers the trading name over the company it is 'owned by'", () => {
    const text = "SANTO STATIONERY SHOP\nNO. 31G, JALAN SETIA\nTel: +603-3362 4137\nOwned By :\nSANTO SUPPLY SDN BHD (1135772-K)\nTAX INVOICE\nTotal 43.70";
    expect(parseReceipt(text, { today }).merchant.value).toBe("SANTO STATIONERY SHOP");
    // Without the label (OCR often garbles it) the shop name above the address still wins...
    expect(parseReceipt(text.replace("Owned By :\n", ""), { today }).merchant.value).toBe("SANTO STATIONERY SHOP");
    // ...but a registered company at the top, above the address, beats a shop word further down.
    expect(parseReceipt("SANTO SUPPLY SDN BHD\nNO. 31G, JALAN SETIA\nSANTO STATIONERY SHOP\nTotal 43.70", { today }).merchant.value).toBe("SANTO SUPPLY SDN BHD");
  });

  it("returns nulls, not errors, for text that is not a receipt", () => {
    const p = parseReceipt("the quick brown fox\njumps over the lazy dog", { today });
    expect(p.total.value).toBeNull();
    expect(p.date.value).toBeNull();
    expect(p.needsReview).toBe(true);
    expect(p.category.category).toBe("other");
  });
});

describe("parseReceiptAssisted", () => {
  const weak = "BLURRY CLINIC\nsomething 12/1O/2023\nAMT 45.00\nfoo 12.00";

  it("asks the model only when a key field is doubtful", async () => {
    let calls = 0;
    const assist: LlmAssist = async () => {
      calls++;
      return {};
    };
    await parseReceiptAssisted(US_PHARMACY, { llmAssist: assist, today });
    expect(calls).toBe(0);
    await parseReceiptAssisted(weak, { llmAssist: assist, today });
    expect(calls).toBe(1);
  });

  it("takes the model's answer when the OCR text supports it, and passes the schema", async () => {
    let seenSchema: unknown;
    const assist: LlmAssist = async (text, schema) => {
      seenSchema = schema;
      expect(text).toBe(weak);
      return { merchant: "BLURRY CLINIC", date: "2023-12-10", total: 45, tax: null, cardLast4: null };
    };
    const p = await parseReceiptAssisted(weak, { llmAssist: assist, today });
    expect(seenSchema).toBe(LLM_RECEIPT_SCHEMA);
    expect(p.total.value).toBe(4500);
    expect(p.date.value).toBe("2023-12-10");
  });

  it("ignores answers the text does not support, malformed JSON, and model failures", async () => {
    const base = parseReceipt(weak, { today });
    const invented = await parseReceiptAssisted(weak, { llmAssist: async () => ({ merchant: "MAYO CLINIC", date: "2023-07-04", total: 999.99 }), today });
    expect(invented.total.value).toBe(base.total.value);
    expect(invented.date.value).toBe(base.date.value);
    expect(invented.merchant.value).toBe(base.merchant.value);
    const garbage = await parseReceiptAssisted(weak, { llmAssist: async () => "not json at all", today });
    expect(garbage.total.value).toBe(base.total.value);
    const failing = await parseReceiptAssisted(weak, { llmAssist: async () => Promise.reject(new Error("model crashed")), today });
    expect(failing.total.value).toBe(base.total.value);
  });

  it("propagates cancellation", async () => {
    const ac = new AbortController();
    const assist: LlmAssist = async () => {
      ac.abort();
      throw Object.assign(new Error("aborted"), { name: "AbortError" });
    };
    await expect(parseReceiptAssisted(weak, { llmAssist: assist, signal: ac.signal, today })).rejects.toMatchObject({ code: "ABORTED" });
  });
});
