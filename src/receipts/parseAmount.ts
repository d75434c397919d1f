/**
 * Money amounts as they appear in OCR text: `$1,234.56`, `RM 15.90`, `34,10` (comma decimal),
 * `1.234,56`, with the usual OCR letter/digit confusions (`O`→0, `S`→5, `l`/`I`/`|`→1).
 */

/** An amount found in a line of text. */
export interface AmountMatch {
  /** Value in minor units (cents/sen). Negative for `-12.00` or `(12.00)`. */
  cents: number;
  /** Character offset in the (digit-fixed) line. */
  index: number;
  /** The matched text. */
  raw: string;
  /** True when a currency marker (`$`, `RM`, `USD`, `MYR`) was attached. */
  hasCurrency: boolean;
}

const CONFUSABLE: Record<string, string> = { O: "0", o: "0", D: "0", Q: "0", S: "5", s: "5", I: "1", l: "1", "|": "1", i: "1", B: "8", Z: "2", z: "2", g: "9" };

/**
 * Replace letters that OCR commonly confuses with digits, but only inside tokens that are
 * clearly numeric (contain a digit and a decimal separator or currency), so words are untouched.
 */
export function fixDigitConfusions(line: string): string {
  return line.replace(/[^\s]+/g, (token) => {
    const m = /^([(\-]*)((?:RM|MYR|USD|\$)?)(.*?)([)%:;]*)$/.exec(token);
    if (!m) return token;
    const [, pre = "", cur = "", body = "", post = ""] = m;
    if (!/\d/.test(body)) return token;
    if (!/^[0-9OoDQSsIli|BZzg.,]+$/.test(body)) return token;
    // Letters must be a minority of a numeric-looking token; "SOLD" or "ISO9" stay as they are.
    const letters = body.replace(/[0-9.,]/g, "").length;
    const digits = body.replace(/[^0-9]/g, "").length;
    if (letters > digits || !/[.,]/.test(body)) return token;
    return pre + cur + body.replace(/[OoDQSsIli|BZzg]/g, (c) => CONFUSABLE[c] ?? c) + post;
  });
}

// Integer part with optional thousands groups, then a 2-digit decimal part (`.` or `,`).
const AMOUNT_RE = /(?<![\d.,])(\(?-?\s?)((?:RM|MYR|USD|\$)\s?)?(\d{1,3}(?:[,.']\d{3})+|\d+)[.,]\s?(\d{2})(?![\d]|[.,]\d)(\)?)/g;
// Whole amounts only count with a currency marker: `$25`, `RM 5`.
const WHOLE_RE = /(?<![\w.,])(-?)((?:RM|MYR|USD|\$)\s?)(\d{1,3}(?:,\d{3})+|\d+)(?![\d.,]*\d)/g;

/** All amounts in one line, left to right. Apply {@link fixDigitConfusions} first for OCR text. */
export function findAmounts(line: string): AmountMatch[] {
  const out: AmountMatch[] = [];
  for (const m of line.matchAll(AMOUNT_RE)) {
    const intPart = (m[3] ?? "").replace(/[,.' ]/g, "");
    const cents = Number(intPart) * 100 + Number(m[4]);
    if (!Number.isSafeInteger(cents)) continue;
    const negative = (m[1] ?? "").includes("-") || ((m[1] ?? "").includes("(") && m[5] === ")");
    out.push({ cents: negative ? -cents : cents, index: m.index ?? 0, raw: m[0].trim(), hasCurrency: Boolean(m[2]) });
  }
  for (const m of line.matchAll(WHOLE_RE)) {
    const start = m.index ?? 0;
    if (out.some((a) => Math.abs(a.index - start) < 3)) continue;
    const cents = Number((m[3] ?? "").replace(/,/g, "")) * 100;
    if (!Number.isSafeInteger(cents)) continue;
    out.push({ cents: m[1] === "-" ? -cents : cents, index: start, raw: m[0].trim(), hasCurrency: true });
  }
  return out.sort((a, b) => a.index - b.index);
}

/**
 * Parse a user-typed amount (`23.40`, `$1,234.56`, `RM 7`, `23,40`) into cents, or `undefined`
 * if it is not an amount.
 */
export function parseUserAmount(text: string): number | undefined {
  const t = text.trim().replace(/^(?:RM|MYR|USD|\$)\s*/i, "");
  let m = /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$/.exec(t);
  if (m) return Number((m[1] ?? "").replace(/,/g, "")) * 100 + Number(((m[2] ?? "") + "00").slice(0, 2));
  m = /^(\d+),(\d{2})$/.exec(t);
  if (m) return Number(m[1]) * 100 + Number(m[2]);
  return undefined;
}

/** Format cents for people: `1234.5` → `"1,234.50"` with an optional currency prefix. */
export function formatCents(cents: number, currency?: string): string {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(Math.round(cents));
  const whole = Math.floor(abs / 100).toLocaleString("en-US");
  const s = `${whole}.${String(abs % 100).padStart(2, "0")}`;
  const prefix = currency === "USD" ? "$" : currency ? `${currency} ` : "";
  return `${sign}${prefix}${s}`;
}
