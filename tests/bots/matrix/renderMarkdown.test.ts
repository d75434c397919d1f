import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../../../src/bots/matrix/renderMarkdown.ts";

describe("renderMarkdown", () => {
  it("renders Markdown to HTML and keeps the source as the plain body", () => {
    const r = renderMarkdown("**Total:** $12.50\n\n- milk\n- eggs");
    expect(r.body).toBe("**Total:** $12.50\n\n- milk\n- eggs");
    expect(r.formattedBody).toContain("<strong>Total:</strong>");
    expect(r.formattedBody).toContain("<li>milk</li>");
  });

  it("escapes raw HTML instead of passing it through", () => {
    const r = renderMarkdown('hi <img src=x onerror="alert(1)"> <script>alert(1)</script>');
    expect(r.formattedBody).not.toMatch(/<img|<script/i);
    expect(r.formattedBody).toContain("&lt;script&gt;");
  });

  it("drops unsafe link schemes and turns images into links", () => {
    const r = renderMarkdown("[click](javascript:alert(1)) [ok](https://example.org) ![pic](https://example.org/a.png)");
    expect(r.formattedBody).not.toContain("javascript:");
    expect(r.formattedBody).toContain('<a href="https://example.org">ok</a>');
    expect(r.formattedBody).not.toContain("<img");
    expect(r.formattedBody).toContain('<a href="https://example.org/a.png">pic</a>');
  });
});
