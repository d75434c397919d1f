/**
 * Splitting long replies into pieces a chat platform accepts. Telegram refuses messages longer
 * than 4,096 characters (counted in UTF-16 code units, the same unit as `String.length`), so a
 * long answer must become several messages — cut where a reader would expect a break.
 */

/** Telegram's limit on the visible text of one message. */
export const TELEGRAM_MESSAGE_LIMIT = 4096;

/**
 * Boundaries tried in order of preference. Each finds the last acceptable cut at or before the
 * limit; the cut position is where the first chunk ends, `skip` how many separator characters
 * are dropped (they would only be leading/trailing whitespace in a chat bubble).
 */
const BOUNDARIES: readonly RegExp[] = [
  /\n[ \t]*\n\s*/g, // paragraph
  /\n/g, // line
  /(?<=[.!?…。！？]["'”’)\]]?)[ \t]+/g, // sentence end followed by whitespace
  /[ \t]+/g, // word
];

/**
 * Split `text` into chunks of at most `limit` UTF-16 code units, preferring paragraph, then line,
 * then sentence, then word boundaries, and only cutting inside a word when a single "word" is
 * longer than the limit. Whitespace at a cut is dropped; nothing else is lost, and a surrogate
 * pair (emoji) is never torn in half. Whitespace-only input gives no chunks.
 */
export function splitMessage(text: string, limit: number = TELEGRAM_MESSAGE_LIMIT): string[] {
  if (!Number.isInteger(limit) || limit < 2) throw new RangeError(`splitMessage limit must be an integer ≥ 2, got ${limit}`);
  const chunks: string[] = [];
  let rest = text.replace(/^\s+/, "");
  while (rest.length > 0) {
    if (rest.length <= limit) {
      const last = rest.trimEnd();
      if (last.length > 0) chunks.push(last);
      break;
    }
    const [end, next] = findCut(rest, limit);
    const chunk = rest.slice(0, end).trimEnd();
    if (chunk.length > 0) chunks.push(chunk);
    rest = rest.slice(next).replace(/^\s+/, "");
  }
  return chunks;
}

/** Where to end the current chunk (`end`) and where the next one starts (`next`). */
function findCut(text: string, limit: number): [end: number, next: number] {
  // Look at one character past the limit so a separator that starts exactly at the limit counts.
  const window = text.slice(0, limit + 1);
  // A boundary in the first half would make a needlessly short message; prefer a lesser boundary
  // further along, unless nothing better exists.
  for (const minEnd of [Math.floor(limit / 2), 1]) {
    for (const boundary of BOUNDARIES) {
      let best: [number, number] | undefined;
      boundary.lastIndex = 0;
      for (let m = boundary.exec(window); m !== null; m = boundary.exec(window)) {
        if (m.index > limit) break;
        if (m.index >= minEnd) best = [m.index, m.index + m[0].length];
        if (m[0].length === 0) boundary.lastIndex++;
      }
      if (best) return best;
    }
  }
  // One unbroken run longer than the limit (a URL, a base64 blob): hard cut, keeping surrogate
  // pairs whole.
  let end = limit;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return [end, end];
}

/** Characters kept free in each Markdown chunk for a re-opened and a closing code fence. */
const FENCE_RESERVE = 40;

/**
 * Like {@link splitMessage}, for Markdown: when a cut falls inside a fenced code block, the fence
 * is closed at the end of one chunk and reopened (with its language) at the start of the next, so
 * each chunk renders on its own. The added fence lines are not visible after rendering, so the
 * rendered text of each chunk still fits the limit.
 */
export function splitMarkdown(text: string, limit: number = TELEGRAM_MESSAGE_LIMIT): string[] {
  // Leave room for the fence lines we may add, so even the raw chunk (sent as plain text if
  // Telegram rejects the HTML) fits the limit.
  const chunks = splitMessage(text, limit > 4 * FENCE_RESERVE ? limit - FENCE_RESERVE : limit);
  const out: string[] = [];
  let openFence: string | undefined; // the fence line (e.g. "```ts") left open by the last chunk
  for (const raw of chunks) {
    let chunk = openFence === undefined ? raw : `${openFence}\n${raw}`;
    openFence = undefined;
    for (const line of chunk.split("\n")) {
      const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
      if (!m) continue;
      // Keep the language only if short; it is a highlighting hint, and the reserve is finite.
      const lang = (m[2] ?? "").trim();
      if (openFence === undefined) openFence = `${m[1]}${lang.length <= 24 ? lang : ""}`;
      else if (m[1]!.startsWith(openFence.replace(/[^`~].*$/, "")) && (m[2] ?? "").trim() === "") openFence = undefined;
    }
    if (openFence !== undefined) chunk += `\n${openFence.replace(/[^`~].*$/, "")}`;
    out.push(chunk);
  }
  return out;
}
