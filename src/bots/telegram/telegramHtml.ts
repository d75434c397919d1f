import { Lexer, type Token, type Tokens } from "marked";

/**
 * Rendering Hearth's Markdown into Telegram's HTML parse mode.
 *
 * Why HTML and not Telegram's MarkdownV2: MarkdownV2 demands that 18 punctuation characters be
 * backslash-escaped everywhere, and a single miss fails the whole message with "can't parse
 * entities". Model output is full of `_`, `*`, stray backticks and brackets. In HTML mode only
 * `<`, `>` and `&` need escaping, and we produce every tag ourselves from a real Markdown parse, so
 * anything the parser does not recognise as formatting is plain escaped text.
 */

/** Escape text for Telegram HTML (text content and attribute values). */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Link schemes Telegram accepts in `<a href>`; anything else is shown as text. */
const SAFE_HREF = /^(https?:\/\/|mailto:|tg:\/\/)/i;

/**
 * Render Markdown (CommonMark + GFM, as the model writes it) to the subset of HTML Telegram
 * understands: `b i s code pre a blockquote`. Headings become bold lines, lists get bullets,
 * tables and raw HTML are shown as escaped text. Never throws; unbalanced markers stay literal.
 */
export function markdownToTelegramHtml(markdown: string): string {
  const tokens = new Lexer({ gfm: true, breaks: false }).lex(markdown);
  return renderBlocks(tokens, false).trim();
}

function renderBlocks(tokens: readonly Token[], inQuote: boolean): string {
  const parts: string[] = [];
  for (const token of tokens) {
    const html = renderBlock(token, inQuote);
    if (html !== "") parts.push(html);
  }
  return parts.join("\n\n");
}

function renderBlock(token: Token, inQuote: boolean): string {
  switch (token.type) {
    case "space":
      return "";
    case "paragraph":
    case "heading": {
      const t = token as Tokens.Paragraph | Tokens.Heading;
      const inner = renderInline(t.tokens);
      return token.type === "heading" ? `<b>${inner}</b>` : inner;
    }
    case "text": {
      const t = token as Tokens.Text;
      return t.tokens ? renderInline(t.tokens) : escapeHtml(t.text);
    }
    case "code": {
      const t = token as Tokens.Code;
      const info = (t.lang ?? "").trim();
      const isLanguage = /^[\w#+.-]{1,32}$/.test(info);
      const cls = isLanguage ? ` class="language-${escapeHtml(info)}"` : "";
      // An info string that is not a language name ("```see http://x") is text the author wrote:
      // keep it visible instead of letting the fence swallow it.
      const text = info && !isLanguage ? `${info}\n${t.text}` : t.text;
      return `<pre><code${cls}>${escapeHtml(text)}</code></pre>`;
    }
    case "blockquote": {
      const t = token as Tokens.Blockquote;
      const inner = renderBlocks(t.tokens, true);
      // Telegram does not allow a blockquote inside a blockquote.
      return inQuote ? inner : `<blockquote>${inner}</blockquote>`;
    }
    case "list":
      return renderList(token as Tokens.List, "", inQuote);
    case "hr":
      return "———";
    case "table":
    case "html":
    case "def":
      // Telegram has no tables; monospace keeps the columns readable and the text intact.
      return token.type === "table" ? `<pre>${escapeHtml(token.raw.trim())}</pre>` : escapeHtml(token.raw.trim());
    default:
      return escapeHtml(token.raw.trim());
  }
}

function renderList(list: Tokens.List, indent: string, inQuote: boolean): string {
  const start = typeof list.start === "number" ? list.start : 1;
  const lines: string[] = [];
  list.items.forEach((item, i) => {
    // Keep the number the author wrote ("1. 1. 1." stays as typed): renumbering would change the
    // visible text of the model's answer, and Telegram shows plain numbers anyway.
    const written = /^\s*(\d{1,9})[.)]/.exec(item.raw)?.[1];
    const marker = list.ordered ? `${written ?? start + i}. ` : "• ";
    const box = item.task ? (item.checked ? "☑ " : "☐ ") : "";
    const body: string[] = [];
    for (const child of item.tokens) {
      if (child.type === "checkbox") continue;
      if (child.type === "list") body.push(renderList(child as Tokens.List, `${indent}  `, inQuote));
      else {
        const html = renderBlock(child, inQuote);
        if (html !== "") body.push(html);
      }
    }
    lines.push(`${indent}${marker}${box}${body.join("\n")}`);
  });
  return lines.join("\n");
}

function renderInline(tokens: readonly Token[] | undefined): string {
  if (!tokens) return "";
  let out = "";
  for (const token of tokens) out += renderInlineToken(token);
  return out;
}

function renderInlineToken(token: Token): string {
  switch (token.type) {
    case "text": {
      const t = token as Tokens.Text;
      return t.tokens ? renderInline(t.tokens) : escapeHtml(t.text);
    }
    case "escape":
      return escapeHtml((token as Tokens.Escape).text);
    case "strong":
      return `<b>${renderInline((token as Tokens.Strong).tokens)}</b>`;
    case "em":
      return `<i>${renderInline((token as Tokens.Em).tokens)}</i>`;
    case "del":
      return `<s>${renderInline((token as Tokens.Del).tokens)}</s>`;
    case "codespan":
      return `<code>${escapeHtml((token as Tokens.Codespan).text)}</code>`;
    case "br":
      return "\n";
    case "link": {
      const t = token as Tokens.Link;
      const inner = renderInline(t.tokens);
      if (!SAFE_HREF.test(t.href)) return escapeHtml(t.raw);
      return `<a href="${escapeHtml(t.href)}">${inner}</a>`;
    }
    case "image": {
      const t = token as Tokens.Image;
      const label = escapeHtml(t.text || t.href);
      return SAFE_HREF.test(t.href) ? `<a href="${escapeHtml(t.href)}">${label}</a>` : label;
    }
    default:
      // Raw inline HTML, checkboxes and anything newer than this code: show the source as text.
      return escapeHtml(token.raw);
  }
}
