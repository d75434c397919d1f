import { Marked, type Tokens } from "marked";

/**
 * Markdown → Matrix `org.matrix.custom.html`. The text comes from the language model, which can be
 * steered by whatever a person pasted, so nothing it writes may become live HTML in a family
 * member's client: raw HTML is shown as text, links are limited to safe schemes, and images are
 * shown as links (Matrix clients only load `mxc://` images anyway).
 */

const SAFE_LINK = /^(https?:|mailto:|matrix:)/i;

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

const marked = new Marked({ gfm: true, breaks: true, async: false });
marked.use({
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text);
    },
    link(this: { parser: { parseInline(tokens: Tokens.Generic[]): string } }, { href, title, tokens }: Tokens.Link): string {
      const inner = this.parser.parseInline(tokens);
      if (!SAFE_LINK.test(href)) return inner;
      const t = title ? ` title="${escapeHtml(title)}"` : "";
      return `<a href="${escapeHtml(href)}"${t}>${inner}</a>`;
    },
    image({ href, text }: Tokens.Image): string {
      if (!SAFE_LINK.test(href)) return escapeHtml(text);
      return `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`;
    },
  },
});

/** Rendered message: `body` is the plain-text fallback, `formattedBody` the sanitised HTML. */
export interface RenderedMessage {
  body: string;
  formattedBody: string;
}

/**
 * Render Markdown for a Matrix message. The plain body stays the Markdown source (readable as-is
 * and what notifications show); the HTML body has raw HTML escaped.
 */
export function renderMarkdown(markdown: string): RenderedMessage {
  const html = marked.parse(markdown, { async: false }).trim();
  return { body: markdown, formattedBody: html };
}
