import { describe, it, expect } from "vitest";
import { findDates, parseUserDate } from "../../src/receipts/parseDate.ts";

const isoOf = (line: string, order: "MDY" | "DMY" = "MDY"): string | undefined => findDates(line, order)[0]?.iso;

describe("date parsing", () => {
  it("reads numeric dates in the configured order, and unambiguous ones either way", () => {
    expect(isoOf("DATE: 03/04/2024")).toBe("2024-03-04");
    expect(isoOf("DATE: 03/04/2024", "DMY")).toBe("2024-04-03");
    expect(isoOf("22/12/2017 14:03", "MDY")).toBe("2017-12-22");
    expect(isoOf("12/22/2017", "DMY")).toBe("2017-12-22");
    expect(isoOf("24-01-18", "DMY")).toBe("2018-01-24");
    expect(findDates("03/04/2024", "MDY")[0]?.ambiguous).toBe(true);
  });

  it("reads ISO, month-name and compact dates", () => {
    expect(isoOf("2018-03-12 10:11")).toBe("2018-03-12");
    expect(isoOf("12 Mar 2018 18:19")).toBe("2018-03-12");
    expect(isoOf("12-MAR-18")).toBe("2018-03-12");
    expect(isoOf("Mar 5, 2024")).toBe("2024-03-05");
    expect(findDates("DATE 20180312", "DMY", { allowCompact: true })[0]?.iso).toBe("2018-03-12");
  });

  it("repairs OCR letters in dates and rejects impossible ones", () => {
    expect(isoOf("Date: 2l/O3/2018", "DMY")).toBe("2018-03-21");
    expect(isoOf("31/02/2018", "DMY")).toBeUndefined();
    expect(isoOf("Qty 1/2/3")).toBeUndefined();
  });

  it("parses user-typed dates", () => {
    expect(parseUserDate("2024-03-05")).toBe("2024-03-05");
    expect(parseUserDate("3/5/2024")).toBe("2024-03-05");
    expect(parseUserDate("3/5/2024", "DMY")).toBe("2024-05-03");
    expect(parseUserDate("yesterday")).toBeUndefined();
  });
});
