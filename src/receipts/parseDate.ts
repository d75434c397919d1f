/**
 * Dates as printed on receipts: `12/31/2024`, `31-12-24`, `2024-12-31`, `12 MAR 2018`,
 * `Mar 12, 2018`, `20181231` (after a DATE label), with OCR digit confusions.
 */

/** Which of two small numbers comes first in `a/b/yyyy` when both could be a month. */
export type DateOrder = "MDY" | "DMY";

/** A date found in a line. */
export interface DateMatch {
  iso: string;
  index: number;
  raw: string;
  /** True when day and month could be swapped and the order came from `dateOrder`. */
  ambiguous: boolean;
}

const MONTHS: Record<string, number> = {
  JAN: 1, FEB: 2, MAR: 3, APR: 4, MAY: 5, JUN: 6, JUL: 7, AUG: 8, SEP: 9, SEPT: 9, OCT: 10, NOV: 11, DEC: 12,
  JANUARY: 1, FEBRUARY: 2, MARCH: 3, APRIL: 4, JUNE: 6, JULY: 7, AUGUST: 8, SEPTEMBER: 9, OCTOBER: 10, NOVEMBER: 11, DECEMBER: 12,
  // Malay month abbreviations seen on Malaysian receipts.
  MAC: 3, MEI: 5, OGOS: 8, OGO: 8, DIS: 12, JUL1: 7,
};
const MONTH_ALT = Object.keys(MONTHS).sort((a, b) => b.length - a.length).join("|");

function valid(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

function iso(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

function year(y: string): number {
  const n = Number(y);
  return y.length === 2 ? 2000 + n : n;
}

const DATE_CONFUSABLE: Record<string, string> = { O: "0", o: "0", D: "0", Q: "0", I: "1", l: "1", "|": "1", S: "5", A: "4", B: "8", Z: "2" };

/**
 * Fix OCR letter/digit confusions inside date-shaped tokens only (`2O17`, `DA/09/2017`), and a
 * year whose leading 2 was read as 7 or Z (`15/11/7017`). The token must already hold at least
 * four real digits, so words like "SALE/BOOK" are never touched.
 */
function fixDateDigits(line: string): string {
  return line.replace(/(?<![A-Za-z0-9])[0-9OoIl|SDQABZ]{1,4}[/.\-][0-9OoIl|SDQABZ]{1,2}[/.\-][0-9OoIl|SDQABZ]{2,4}(?![A-Za-z0-9])/g, (t) => {
    if ((t.match(/\d/g) ?? []).length < 4) return t;
    const fixed = t.replace(/[OoDQIl|SABZ]/g, (c) => DATE_CONFUSABLE[c] ?? c);
    return fixed.replace(/([/.\-])[7Z](0\d{2})$/, "$12$2");
  });
}

/** All plausible dates in a line, left to right. */
export function findDates(line: string, order: DateOrder, options: { allowCompact?: boolean } = {}): DateMatch[] {
  const text = fixDateDigits(line);
  const out: DateMatch[] = [];
  const push = (index: number, raw: string, y: number, m: number, d: number, ambiguous: boolean): void => {
    if (y < 1990 || y > 2099 || !valid(y, m, d)) return;
    if (out.some((o) => o.index === index)) return;
    out.push({ iso: iso(y, m, d), index, raw, ambiguous });
  };
  // ISO-like: 2024-12-31, 2024/12/31, 2024.12.31
  for (const m of text.matchAll(/(?<!\d)((?:19|20)\d{2})\s?[-/.]\s?(\d{1,2})\s?[-/.]\s?(\d{1,2})(?!\d)/g)) {
    push(m.index ?? 0, m[0], Number(m[1]), Number(m[2]), Number(m[3]), false);
  }
  // Numeric a/b/y with / - . separators (spaces tolerated around separators).
  for (const m of text.matchAll(/(?<![\d/.\-])(\d{1,2})\s?([-/.])\s?(\d{1,2})\s?\2\s?(\d{4}|\d{2})(?![\d]|[/.\-]\d)/g)) {
    const a = Number(m[1]);
    const b = Number(m[3]);
    const y = year(m[4] ?? "");
    const idx = m.index ?? 0;
    if (out.some((o) => Math.abs(o.index - idx) < 4)) continue;
    if (a > 12 && b <= 12) push(idx, m[0], y, b, a, false);
    else if (b > 12 && a <= 12) push(idx, m[0], y, a, b, false);
    else if (a === b) push(idx, m[0], y, a, b, false);
    else if (order === "DMY") push(idx, m[0], y, b, a, true);
    else push(idx, m[0], y, a, b, true);
  }
  const upper = text.toUpperCase();
  // 12 MAR 2018, 12-Mar-18, 12/MAR/2018
  for (const m of upper.matchAll(new RegExp(`(?<![\\dA-Z])(\\d{1,2})(?:ST|ND|RD|TH)?[\\s\\-/.,]*(${MONTH_ALT})[\\s\\-/.,']*(\\d{4}|\\d{2})(?![\\d])`, "g"))) {
    push(m.index ?? 0, m[0], year(m[3] ?? ""), MONTHS[m[2] ?? ""] ?? 0, Number(m[1]), false);
  }
  // Mar 12, 2018 / March 12 2018
  for (const m of upper.matchAll(new RegExp(`(?<![A-Z])(${MONTH_ALT})[\\s.\\-]*(\\d{1,2})(?:ST|ND|RD|TH)?[\\s,\\-]+(\\d{4})(?!\\d)`, "g"))) {
    push(m.index ?? 0, m[0], year(m[3] ?? ""), MONTHS[m[1] ?? ""] ?? 0, Number(m[2]), false);
  }
  if (options.allowCompact) {
    for (const m of text.matchAll(/(?<!\d)(\d{8})(?!\d)/g)) {
      const s = m[1] ?? "";
      const y1 = Number(s.slice(0, 4));
      if (y1 >= 1990 && y1 <= 2099) push(m.index ?? 0, s, y1, Number(s.slice(4, 6)), Number(s.slice(6, 8)), false);
      else {
        const a = Number(s.slice(0, 2));
        const b = Number(s.slice(2, 4));
        const y = Number(s.slice(4, 8));
        if (order === "DMY" || a > 12) push(m.index ?? 0, s, y, b, a, a <= 12 && b <= 12);
        else push(m.index ?? 0, s, y, a, b, b <= 12);
      }
    }
  }
  return out.sort((x, y) => x.index - y.index);
}

/** Parse a date typed by a user (`2024-03-05`, `3/5/2024`, `5 Mar 2024`) to ISO, or undefined. */
export function parseUserDate(text: string, order: DateOrder = "MDY"): string | undefined {
  return findDates(text.trim(), order, { allowCompact: true })[0]?.iso;
}
