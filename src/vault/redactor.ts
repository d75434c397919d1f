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
  folded: string;
  /** Whitespace-stripped variant in original case (checked for case-sensitive variants). */
  exact: string;
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
  stripped: string;
  folded: string;
  /** Original index of each stripped code unit. */
  map: Int32Array;
}

/** Strip ignorable characters and case-fold, remembering where each kept character came from. */
function prepare(text: string): Prepared {
  const n = text.length;
  const map = new Int32Array(n);
  const s: number[] = new Array<number>(n);
  const f: number[] = new Array<number>(n);
  let j = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (isIgnorable(c)) continue;
    s[j] = c;
    f[j] = foldUnit(c);
    map[j] = i;
    j++;
  }
  s.length = j;
  f.length = j;
  return { stripped: fromCodes(s), folded: fromCodes(f), map };
}

function fromCodes(codes: number[]): string {
  // Chunked to stay below the engine's argument-count limit.
  if (codes.length <= 8192) return String.fromCharCode(...codes);
  let out = "";
  for (let i = 0; i < codes.length; i += 8192) out += String.fromCharCode(...codes.slice(i, i + 8192));
  return out;
}

function strip(text: string): { stripped: string; folded: string } {
  const p = prepare(text);
  return { stripped: p.stripped, folded: p.folded };
}

/**
 * The one choke point before the model (and the log sink): replaces every known secret value,
 * and its common encodings, with its handle.
 *
 * Design: every variant of every secret is whitespace-stripped and case-folded, then indexed in a
 * hash map by its first {@link MIN_SECRET_LENGTH} characters. The text is stripped and folded the
 * same way (with a map back to original positions), then each position does one map lookup;
 * candidates are verified with `startsWith` (against the unfolded text for case-sensitive
 * variants). Overlapping matches are merged. Cost is O(text length + candidates), nearly
 * independent of the number of secrets.
 */
export class Redactor {
  readonly #index = new Map<string, Pattern[]>();
  #count = 0;

  /** Build an index over `secrets` (values shorter than {@link MIN_SECRET_LENGTH} are skipped). */
  constructor(secrets: Iterable<RedactorSecret>) {
    for (const s of secrets) this.#addSecret(s);
    // Longest first, so at one position the longest variant wins.
    for (const list of this.#index.values()) list.sort((a, b) => b.folded.length - a.folded.length);
  }

  /** Number of secrets indexed. */
  get size(): number {
    return this.#count;
  }

  #addSecret(s: RedactorSecret): void {
    if (strip(s.value).stripped.length < MIN_SECRET_LENGTH) return;
    this.#count++;
    const seen = new Set<string>();
    for (const v of secretVariants(s.value, s.caseInsensitive ?? false)) {
      const { stripped, folded } = strip(v.text);
      if (folded.length < KEY_LEN) continue;
      const dedupe = `${v.caseInsensitive ? "i" : "s"}:${v.caseInsensitive ? folded : stripped}`;
      if (seen.has(dedupe)) continue;
      seen.add(dedupe);
      const key = folded.slice(0, KEY_LEN);
      let list = this.#index.get(key);
      if (list === undefined) this.#index.set(key, (list = []));
      list.push({ folded, exact: stripped, caseInsensitive: v.caseInsensitive, name: s.name });
    }
  }

  /** Replace known secrets in `text` with their handles. */
  redact(text: string): RedactionResult {
    if (this.#count === 0 || text.length < KEY_LEN) return { text, hits: [] };
    const { stripped, folded, map } = prepare(text);
    const index = this.#index;
    // Matches as parallel arrays of [start, end) in stripped coordinates; positions ascend.
    const starts: number[] = [];
    const ends: number[] = [];
    const names: string[][] = [];
    const last = folded.length - KEY_LEN;
    for (let i = 0; i <= last; i++) {
      const list = index.get(folded.slice(i, i + KEY_LEN));
      if (list === undefined) continue;
      for (const p of list) {
        if (!folded.startsWith(p.folded, i)) continue;
        if (!p.caseInsensitive && !stripped.startsWith(p.exact, i)) continue;
        const end = i + p.folded.length;
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
