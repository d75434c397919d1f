import { describe, expect, it } from "vitest";
import { configureLogger, getLogger, prettyLine, setLogRedactor } from "../../src/core/logger.ts";

describe("logger", () => {
  it("redacts every line through the installed redactor, in JSON and pretty form", () => {
    for (const pretty of [false, true]) {
      const out: string[] = [];
      configureLogger({ level: "info", destination: { write: (s: string) => void out.push(s) }, pretty });
      setLogRedactor((t) => t.replaceAll("hunter22-secret", "{{secret:pw}}"));
      getLogger("t").warn({ detail: "pw is hunter22-secret" }, "saw hunter22-secret");
      setLogRedactor((t) => t);
      expect(out.join("")).not.toContain("hunter22-secret");
      expect(out.join("")).toContain("{{secret:pw}}");
      if (pretty) expect(out[0]).toMatch(/^warn  t: saw \{\{secret:pw\}\}  detail=pw is/);
      else expect(JSON.parse(out[0]!)).toMatchObject({ level: 40, component: "t" });
    }
  });

  it("pretty lines leave non-JSON text alone", () => {
    expect(prettyLine("plain text\n")).toBe("plain text\n");
  });
});
