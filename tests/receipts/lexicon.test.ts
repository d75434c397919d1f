import { describe, it, expect } from "vitest";
import { correctName, correctWord } from "../../src/receipts/lexicon.ts";

describe("correctWord (OCR look-alike repair against the English word list)", () => {
  it("repairs a word one look-alike swap away from exactly one dictionary word", () => {
    expect(correctWord("BAKERLES")).toBe("BAKERIES"); // I read as L
    expect(correctWord("CONFECTIUNERY")).toBe("CONFECTIONERY"); // O read as U
    expect(correctWord("PHARNACY")).toBe("PHARNACY"); // N/M is not a swap it tries
    expect(correctWord("PHARMAGY")).toBe("PHARMACY"); // C read as G
  });

  it("keeps the letter case of the original", () => {
    expect(correctWord("Bakerles")).toBe("Bakeries");
    expect(correctWord("bakerles")).toBe("bakeries");
  });

  it("leaves dictionary words, short words, names and mixed tokens alone", () => {
    expect(correctWord("WART")).toBe("WART"); // a real word, even if MART was meant
    expect(correctWord("SANYU")).toBe("SANYU"); // a brand with no English neighbour
    expect(correctWord("MARCO")).toBe("MARCO");
    expect(correctWord("Walgreens")).toBe("Walgreens");
    expect(correctWord("CLIN")).toBe("CLIN"); // under five letters: too many neighbours
    expect(correctWord("D1Y")).toBe("D1Y");
  });

  it("refuses to guess when two dictionary words are equally near", () => {
    // ABULLA → ABOLLA (U→O) or ABULIA (L→I): either could be meant.
    expect(correctWord("ABULLA")).toBe("ABULLA");
  });

  it("repairs each word of a name and keeps the punctuation", () => {
    expect(correctName("GARDENIA BAKERLES, (KL) SDN BHD")).toBe("GARDENIA BAKERIES, (KL) SDN BHD");
    expect(correctName("VERBENA CONFECTIUNERY SDN BHD")).toBe("VERBENA CONFECTIONERY SDN BHD");
  });
});
