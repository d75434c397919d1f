/**
 * The encodings under which a secret value may show up in text: raw, JSON-escaped, URL-encoded,
 * hex, base64 (standard and URL-safe, padded or not, and at each of the three byte alignments
 * inside a longer base64 blob). The redactor indexes all of them.
 */

/** One searchable form of a secret. */
export interface SecretVariant {
  /** The text to look for (whitespace is stripped later by the redactor). */
  text: string;
  /** Match regardless of letter case (hex digits, percent-escapes, case-insensitive secrets). */
  caseInsensitive: boolean;
  /** Which transformation produced it (for tests and diagnostics). */
  kind: string;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function percentAll(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += "%" + b.toString(16).padStart(2, "0");
  return s;
}

/**
 * Base64 characters of `bytes` that do not depend on neighbouring bytes when the value starts at
 * byte offset `align` (0–2) of a longer base64-encoded blob. Character i covers bits
 * [6i, 6i+6); the value covers bits [8·align, 8·(align+n)).
 */
export function base64Core(bytes: Uint8Array, align: number): string {
  const padded = new Uint8Array(align + bytes.length);
  padded.set(bytes, align);
  const enc = Buffer.from(padded).toString("base64");
  const first = Math.ceil((8 * align) / 6);
  const last = Math.floor((8 * (align + bytes.length)) / 6); // exclusive
  return enc.slice(first, last);
}

function toUrlSafe(b64: string): string {
  return b64.replace(/\+/g, "-").replace(/\//g, "_");
}

/** All variants of `value`; duplicates removed. */
export function secretVariants(value: string, caseInsensitive = false): SecretVariant[] {
  const bytes = new TextEncoder().encode(value);
  const out = new Map<string, SecretVariant>();
  const add = (text: string, ci: boolean, kind: string): void => {
    if (text.length === 0) return;
    const prev = out.get(text);
    // If both a case-sensitive and a case-insensitive form coincide, keep the broader one.
    if (prev === undefined || (!prev.caseInsensitive && ci)) out.set(text, { text, caseInsensitive: ci, kind });
  };
  add(value, caseInsensitive, "raw");
  add(JSON.stringify(value).slice(1, -1), caseInsensitive, "json");
  // Percent-escapes may use either hex case; index both spellings with the secret's own case rule.
  const lowerEscapes = (t: string): string => t.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
  const uc = encodeURIComponent(value);
  for (const [t, kind] of [
    [uc, "url"],
    [uc.replace(/%20/g, "+"), "form"],
    [encodeURI(value), "uri"],
  ] as const) {
    add(t, caseInsensitive, kind);
    add(lowerEscapes(t), caseInsensitive, kind);
  }
  // Every byte escaped and hex are pure hex digits apart from "%": case never matters.
  add(percentAll(bytes), true, "url-all");
  add(hex(bytes), true, "hex");
  const std = Buffer.from(bytes).toString("base64");
  for (const b64 of [std, toUrlSafe(std)]) {
    add(b64, false, "base64");
    add(b64.replace(/=+$/, ""), false, "base64-nopad");
  }
  for (let align = 0; align < 3; align++) {
    const core = base64Core(bytes, align);
    add(core, false, `base64-core${align}`);
    add(toUrlSafe(core), false, `base64url-core${align}`);
  }
  return [...out.values()];
}
