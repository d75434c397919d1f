import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { escapeHtml, markdownToTelegramHtml } from "../../../src/bots/telegram/telegramHtml.ts";
import { parseTelegramHtml } from "./botApiEmulator.ts";

/** What a Telegram user would see: the emulator parses HTML the way the Bot API does (stricter). */
const visible = (md: string) => parseTelegramHtml(markdownToTelegramHtml(md));

describe("markdownToTelegramHtml", () => {
  it("escapes <, > and & so they show literally", () => {
    expect(escapeHtml(`a<b>&"c"`)).toBe("a&lt;b&gt;&amp;&quot;c&quot;");
    expect(visible("if a < b && c > d <script>").text).toBe("if a < b && c > d <script>");
  });

  it("renders bold, italic, strike, code, links and headings as Telegram entities", () => {
    const r = visible("# Title\n\n**bold** _it_ ~~gone~~ `x<1` [site](https://example.org/?a=1&b=2)");
    expect(r.text).toBe("Title\n\nbold it gone x<1 site");
    expect(r.entities.map((e) => e.type)).toEqual(["bold", "bold", "italic", "strikethrough", "code", "text_link"]);
    expect(r.entities.find((e) => e.type === "text_link")).toMatchObject({ url: "https://example.org/?a=1&b=2" });
  });

  it("renders fenced code as pre with its language and lists with bullets", () => {
    const r = visible("```python\nprint(1 < 2)\n```\n\n- one\n- two\n\n3. three\n4. four");
    expect(r.text).toBe("print(1 < 2)\n\n• one\n• two\n\n3. three\n4. four");
    expect(r.entities[0]).toMatchObject({ type: "pre", language: "python" });
  });

  it("keeps unbalanced markers, stray backticks and brackets literal", () => {
    for (const md of ["5 * 3 and *open", "snake_case_name and _half", "`unclosed code", "[not a link", "**", "a_b*c`d[e]f(g)h~i"]) {
      expect(visible(md).text).toBe(md);
    }
  });

  it("shows unsafe links as their source text", () => {
    expect(visible("[x](javascript:alert(1))").text).toBe("[x](javascript:alert(1))");
  });

  it("renders tables as preformatted source and never nests blockquotes", () => {
    expect(visible("|a|b|\n|-|-|\n|1|2|").text).toBe("|a|b|\n|-|-|\n|1|2|");
    const q = visible("> outer\n> > inner");
    expect(q.entities.filter((e) => e.type === "blockquote")).toHaveLength(1);
  });

  it("keeps a fence's info string visible when it is not a language name", () => {
    expect(visible("```http://x.y").text).toContain("http://x.y");
    expect(visible("```ts\nlet a = 1;\n```").text).not.toContain("ts\n");
  });

  it("always produces HTML Telegram accepts, whose visible text keeps every letter (property)", () => {
    // No "(" / ")" (a link shows only its label) and fences end their line (an info string is hidden).
    const piece = fc.constantFrom("*", "_", "`", "```\n", "[", "]", "<", ">", "&", "#", "-", "~", "\\", "|", "\n", "\n\n", " ", "word", "1.", "> ", "http://x.y", "&amp;", "<b>", "😀");
    const letters = (s: string) => s.replace(/[^A-Za-z0-9😀]/gu, "");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }).map((p) => p.join("")), (md) => {
        const parsed = parseTelegramHtml(markdownToTelegramHtml(md)); // throws "can't parse entities" on bad HTML
        expect(letters(parsed.text)).toBe(letters(md));
        // The split measures source length; rendering must not make text (much) longer.
        expect(parsed.text.length).toBeLessThanOrEqual(md.length + 4);
      }),
      { numRuns: 500 },
    );
  });
});

describe("the emulator's Telegram HTML parser (so the tests above can fail)", () => {
  it("rejects what Telegram rejects", () => {
    expect(() => parseTelegramHtml("a <x> b")).toThrow(/can't parse entities/);
    expect(() => parseTelegramHtml("<b>open")).toThrow(/can't parse entities/);
    expect(() => parseTelegramHtml("<b><i>x</b></i>")).toThrow(/can't parse entities/);
    expect(() => parseTelegramHtml("fish & chips")).toThrow(/can't parse entities/);
    expect(() => parseTelegramHtml("1 < 2")).toThrow(/can't parse entities/);
  });
});
