import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findHandles, formatHandle, isValidSecretName, parseHandle, replaceHandles } from "../../src/vault/handles.ts";

describe("handles", () => {
  it("formats and parses valid names round-trip", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9_]{1,64}$/), (name) => {
        expect(parseHandle(formatHandle(name))).toBe(name);
        expect(findHandles(`x ${formatHandle(name)} y`)).toEqual([{ name, start: 2, end: 2 + formatHandle(name).length }]);
      }),
    );
  });
  it("rejects invalid names", () => {
    for (const bad of ["", "A", "a-b", "a b", "x".repeat(65), "é"]) {
      expect(isValidSecretName(bad)).toBe(false);
      expect(() => formatHandle(bad)).toThrow(/invalid secret name/);
    }
    expect(parseHandle("{{secret:Bad}}")).toBeUndefined();
    expect(findHandles("{{secret:}} {{ secret:x }} {{secret:ok}}").map((h) => h.name)).toEqual(["ok"]);
  });
  it("replaces every handle through the callback", () => {
    expect(replaceHandles("{{secret:a}}-{{secret:b_2}}", (n) => n.toUpperCase())).toBe("A-B_2");
  });
});
