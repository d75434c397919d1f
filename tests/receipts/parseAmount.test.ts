import { describe, it, expect } from "vitest";
import { findAmounts, fixDigitConfusions, parseUserAmount, formatCents } from "../../src/receipts/parseAmount.ts";

const cents = (line: string): number[] => findAmounts(fixDigitConfusions(line)).map((a) => a.cents);

describe("amount parsing", () => {
  it("reads dollar, ringgit, thousands and comma-decimal amounts", () => {
    expect(cents("TOTAL $1,234.56")).toEqual([123456]);
    expect(cents("Total Amt Rounded RM 15.90")).toEqual([1590]);
    expect(cents("Change Due : 34,10")).toEqual([3410]);
    expect(cents("Summe 1.234,56")).toEqual([123456]);
    expect(cents("COPAY $40")).toEqual([4000]);
    expect(cents("Total Amt Rounded15.90")).toEqual([1590]);
    expect(cents("INSURANCE ADJUSTMENT -$145.00")).toEqual([-14500]);
  });

  it("fixes O/S/l confusions only inside numeric tokens", () => {
    expect(cents("TOTAL 1O.5O")).toEqual([1050]);
    expect(cents("TOTAL $S4.l0")).toEqual([5410]);
    expect(fixDigitConfusions("SOLD TO SIO CLINIC")).toBe("SOLD TO SIO CLINIC");
  });

  it("ignores numbers that are not money", () => {
    expect(cents("Invoice No: CS 47832")).toEqual([]);
    expect(cents("Tel 03-1234 5678")).toEqual([]);
  });

  it("parses and formats user-typed amounts", () => {
    expect(parseUserAmount("23.40")).toBe(2340);
    expect(parseUserAmount("$1,234.5")).toBe(123450);
    expect(parseUserAmount("RM 7")).toBe(700);
    expect(parseUserAmount("23,40")).toBe(2340);
    expect(parseUserAmount("abc")).toBeUndefined();
    expect(formatCents(123456, "USD")).toBe("$1,234.56");
    expect(formatCents(-5, "MYR")).toBe("-MYR 0.05");
  });
});
