import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { splitMarkdown, splitMessage, TELEGRAM_MESSAGE_LIMIT } from "../../../src/bots/telegram/splitMessage.ts";

/** Whitespace-insensitive view of text: what survives a split must be everything but the cut whitespace. */
const squash = (s: string) => s.replace(/\s+/g, "");

describe("splitMessage", () => {
  it("keeps short text whole and drops whitespace-only text", () => {
    expect(splitMessage("hello", 10)).toEqual(["hello"]);
    expect(splitMessage("  \n ", 10)).toEqual([]);
    expect(splitMessage("x".repeat(TELEGRAM_MESSAGE_LIMIT))).toHaveLength(1);
  });

  it("prefers a paragraph break over a line, sentence or word break", () => {
    const text = `${"a".repeat(30)}\n\n${"b".repeat(10)}\n${"c".repeat(5)}. ${"d".repeat(20)}`;
    expect(splitMessage(text, 60)).toEqual(["a".repeat(30), `${"b".repeat(10)}\n${"c".repeat(5)}. ${"d".repeat(20)}`]);
  });

  it("falls back to line, then sentence, then word boundaries", () => {
    expect(splitMessage(`${"a".repeat(30)}\n${"b".repeat(30)}`, 40)).toEqual(["a".repeat(30), "b".repeat(30)]);
    expect(splitMessage(`First sentence here. Second one follows now`, 30)).toEqual(["First sentence here.", "Second one follows now"]);
    expect(splitMessage(`alpha beta gamma delta epsilon`, 12)).toEqual(["alpha beta", "gamma delta", "epsilon"]);
  });

  it("does not make a tiny first chunk just to reach a better boundary", () => {
    const text = `Hi.\n\n${"word ".repeat(40)}`;
    const chunks = splitMessage(text, 100);
    expect(chunks[0]!.length).toBeGreaterThan(50);
  });

  it("hard-cuts a run longer than the limit without tearing an emoji apart", () => {
    const text = "😀".repeat(10); // 20 UTF-16 units
    const chunks = splitMessage(text, 5);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(5);
      expect(c).not.toMatch(/[\ud800-\udbff]$|^[\udc00-\udfff]/);
    }
    expect(chunks.join("")).toBe(text);
  });

  it("never exceeds the limit and loses nothing but whitespace at cuts (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("word", "a", "longerword", " ", " ", "\n", "\n\n", ". ", "😀", "x".repeat(30)), { maxLength: 200 }).map((p) => p.join("")),
        fc.integer({ min: 2, max: 80 }),
        (text, limit) => {
          const chunks = splitMessage(text, limit);
          for (const c of chunks) {
            expect(c.length).toBeLessThanOrEqual(limit);
            expect(c.length).toBeGreaterThan(0);
            expect(c).toBe(c.trim());
          }
          expect(squash(chunks.join(""))).toBe(squash(text));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("rejects a nonsensical limit", () => {
    expect(() => splitMessage("abc", 0)).toThrow(RangeError);
  });
});

describe("splitMarkdown", () => {
  it("closes and reopens a code fence cut in two", () => {
    const code = Array.from({ length: 40 }, (_, i) => `line ${i} of code`).join("\n");
    const text = `Here:\n\n\`\`\`ts\n${code}\n\`\`\`\n\nDone.`;
    const chunks = splitMarkdown(text, 400);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(400);
      expect((c.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
    expect(chunks[1]!.startsWith("```ts\n")).toBe(true);
  });

  it("leaves chunks without fences alone", () => {
    const text = `${"para one. ".repeat(30)}\n\n${"para two. ".repeat(30)}`;
    expect(splitMarkdown(text, 400).join("\n\n")).toBe(text.replace(/ \n/g, "\n").trim());
  });
});
