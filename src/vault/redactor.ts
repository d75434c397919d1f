import { formatHandle } from "./handles.ts";
import { secretVariants } from "./secretVariants.ts";

/**
 * Secrets shorter than this many non-whitespace characters are not accepted by the vault:
 * redacting every "1234" or "hello" in chat would mangle ordinary text, and such values cannot be
 * kept out of text reliably anyway.
 */
export const MIN_SECRET_LENGTH = 6;

/** Every indexed variant is at least this long; it is the length of the prefix-hash key. */
const KEY_LEN = MIN_SECRET_LENGTH;

/** A secret the redactor should look for. */
export interface RedactorSecret {
  /** Vault name (the handle is `{{secret:name}}`). */
  name: string;
  /** Plain value. */
  value: string;
  /** Also match case variants of the value. */
  caseInsensitive?: boolean;
}

/** Result of {@link Redactor.redact}. */
export interface RedactionResult {
  /** Text with every found secret replaced by its handle. */
  text: string;
  /** Names of the secrets found (each once, in order of first appearance). */
  hits: string[];
}

interface Pattern {
  /** Whitespace-stripped, case-folded variant (what the index is built from). */
  folded: Uint16Array;
  /** Whitespace-stripped variant in original case (checked for case-sensitive variants). */
  exact: Uint16Array;
  caseInsensitive: boolean;
  name: string;
}

/**
 * Code units ignored when matching, so a secret split across spaces, tabs, line breaks or
 * zero-width characters is still found: everything JavaScript's `\s` matches, plus zero-width
 * space/joiners and the word joiner.
 */
export function isIgnorable(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200d) || c === 0x2028 || c === 0x2029 || c === 0x202f ||
    c === 0x205f || c === 0x2060 || c === 0x3000 || c === 0xfeff
  );
}

const foldCache = new Map<number, number>();
/** Lower-case one UTF-16 code unit without changing string length (unlike String#toLowerCase). */
function foldUnit(c: number): number {
  if (c < 0x80) return c >= 0x41 && c <= 0x5a ? c + 32 : c;
  let f = foldCache.get(c);
  if (f === undefined) {
    const l = String.fromCharCode(c).toLowerCase();
    f = l.length === 1 ? l.charCodeAt(0) : c;
    foldCache.set(c, f);
  }
  return f;
}

interface Prepared {
  /** Kept (non-ignorable) code units, original case. */
  stripped: Uint16Array;
  /** Kept code units, case-folded. */
  folded: Uint16Array;
  /** Number of kept code units. */
  length: number;
  /** Original index of each kept code unit. */
  map: Int32Array;
}

/** Strip ignorable characters and case-fold, remembering where each kept character came from. */
function prepare(text: string): Prepared {
  const n = text.length;
  const map = new Int32Array(n);
  const stripped = new Uint16Array(n);
  const folded = new Uint16Array(n);
  let j = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (isIgnorable(c)) continue;
    stripped[j] = c;
    folded[j] = foldUnit(c);
    map[j] = i;
    j++;
  }
  return { stripped, folded, length: j, map };
}

function codesToString(codes: Uint16Array, length: number): string {
  let out = "";
  for (let i = 0; i < length; i += 8192) out += String.fromCharCode(...codes.subarray(i, Math.min(length, i + 8192)));
  return out;
}

/** Polynomial hash of KEY_LEN code units; rolled in O(1) per position during scanning. */
const HASH_BASE = 0x01000193;
/** HASH_BASE^(KEY_LEN-1) mod 2^32, to remove the outgoing code unit when rolling. */
const HASH_TOP = (() => {
  let p = 1;
  for (let i = 0; i < KEY_LEN - 1; i++) p = Math.imul(p, HASH_BASE);
  return p;
})();
/** Bits of the hash used by the presence filter (a 1 MiB byte table, ~2% full at 1,000 secrets). */
const FILTER_BITS = 20;

function hashCodes(codes: ArrayLike<number>, start: number): number {
  let h = 0;
  for (let k = 0; k < KEY_LEN; k++) h = (Math.imul(h, HASH_BASE) + (codes[start + k] as number)) | 0;
  return h;
}

function matchesAt(hay: Uint16Array, at: number, needle: Uint16Array): boolean {
  for (let k = 0; k < needle.length; k++) if (hay[at + k] !== needle[k]) return false;
  return true;
}

/**
 * The one choke point before the model (and the log sink): replaces every known secret value,
 * and its common encodings, with its handle.
 *
 * Design: every variant of every secret is whitespace-stripped and case-folded, then indexed by a
 * hash of its first {@link MIN_SECRET_LENGTH} code units. The text is stripped and folded the
 * same way (with a map back to original positions); a rolling hash visits every position in O(1),
 * a 1 MiB presence table rejects almost all of them without touching the map, and candidates are
 * verified code unit by code unit (against the unfolded text for case-sensitive variants).
 * Overlapping matches are merged. Cost is O(text length + candidates), nearly independent of the
 * number of secrets.
 */
export class Redactor {
  readonly #index = new Map<number, Pattern[]>();
  readonly #filter = new Uint8Array(1 << FILTER_BITS);
  #count = 0;

  /** Build an index over `secrets` (values shorter than {@link MIN_SECRET_LENGTH} are skipped). */
  constructor(secrets: Iterable<RedactorSecret>) {
    for (const s of secrets) this.#addSecret(s);
    // Longest first, so at one position the longest variant wins.
    for (const list of this.#index.values()) list.sort((a, b) => b.folded.length - a.folded.length);
    for (const h of this.#index.keys()) this.#filter[h >>> (32 - FILTER_BITS)] = 1;
  }

  /** Number of secrets indexed. */
  get size(): number {
    return this.#count;
  }

  #addSecret(s: RedactorSecret): void {
    if (prepare(s.value).length < MIN_SECRET_LENGTH) return;
    this.#count++;
    const seen = new Set<string>();
    for (const v of secretVariants(s.value, s.caseInsensitive ?? false)) {
      const p = prepare(v.text);
      if (p.length < KEY_LEN) continue;
      const folded = p.folded.slice(0, p.length);
      const exact = p.stripped.slice(0, p.length);
      const dedupe = `${v.caseInsensitive ? "i" : "s"}:${codesToString(v.caseInsensitive ? folded : exact, p.length)}`;
      if (seen.has(dedupe)) continue;
      seen.add(dedupe);
      const key = hashCodes(folded, 0);
      let list = this.#index.get(key);
      if (list === undefined) this.#index.set(key, (list = []));
      list.push({ folded, exact, caseInsensitive: v.caseInsensitive, name: s.name });
    }
  }

  /** Replace known secrets in `text` with their handles. */
  redact(text: string): RedactionResult {
    if (this.#count === 0 || text.length < KEY_LEN) return { text, hits: [] };
    const { stripped, folded, length, map } = prepare(text);
    const index = this.#index;
    const filter = this.#filter;
    const shift = 32 - FILTER_BITS;
    // Matches as parallel arrays of [start, end) in stripped coordinates; positions ascend.
    const starts: number[] = [];
    const ends: number[] = [];
    const names: string[][] = [];
    const last = length - KEY_LEN;
    let h = last >= 0 ? hashCodes(folded, 0) : 0;
    for (let i = 0; i <= last; i++) {
      if (i > 0) {
        h = (Math.imul(h - Math.imul(folded[i - 1] as number, HASH_TOP), HASH_BASE) + (folded[i + KEY_LEN - 1] as number)) | 0;
      }
      if (filter[h >>> shift] === 0) continue;
      const list = index.get(h);
      if (list === undefined) continue;
      for (const p of list) {
        const len = p.folded.length;
        if (i + len > length) continue;
        if (!matchesAt(folded, i, p.folded)) continue;
        if (!p.caseInsensitive && !matchesAt(stripped, i, p.exact)) continue;
        const end = i + len;
        const k = starts.length - 1;
        if (k >= 0 && i < (ends[k] as number)) {
          // Overlaps the previous match: merge, remembering every secret involved.
          if (end > (ends[k] as number)) ends[k] = end;
          const ns = names[k] as string[];
          if (!ns.includes(p.name)) ns.push(p.name);
        } else {
          starts.push(i);
          ends.push(end);
          names.push([p.name]);
        }
        break; // longest variant at this position is enough; later positions catch the rest
      }
    }
    if (starts.length === 0) return { text, hits: [] };
    let out = "";
    let pos = 0;
    const hits: string[] = [];
    for (let k = 0; k < starts.length; k++) {
      const a = map[starts[k] as number] as number;
      const b = (map[(ends[k] as number) - 1] as number) + 1;
      out += text.slice(pos, a);
      for (const n of names[k] as string[]) {
        out += formatHandle(n);
        if (!hits.includes(n)) hits.push(n);
      }
      pos = b;
    }
    out += text.slice(pos);
    return { text: out, hits };
  }
}
