import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MIN_SECRET_LENGTH, Redactor } from "../../src/vault/redactor.ts";

const ALPHABETS = {
  alnum: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
  base64ish: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_",
  hex: "0123456789abcdef",
  symbols: "abcdefghijXYZ0123456789!#$%&()*+,-./:;<=>?@[]^_|~ \"'\\",
  unicode: "aé€中文🔑ßÅøЖж0123456789",
};

/** Secret of 8–64 code points from one of the alphabets. */
const secretArb = fc
  .constantFrom(...Object.values(ALPHABETS))
  .chain((alpha) => fc.array(fc.constantFrom(...Array.from(alpha)), { minLength: 8, maxLength: 64 }))
  .map((chars) => chars.join(""))
  .filter((s) => s.replace(/\s/g, "").length >= MIN_SECRET_LENGTH);

/** Surrounding chat-like text (any unicode, including whitespace and braces). */
const textArb = fc.string({
  maxLength: 80,
  unit: fc.oneof(fc.constantFrom(" ", "\n", "a", "Z", "9", "=", "/", "{", "}", "é", "🙂"), fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c))),
});

const utf8 = (s: string): Buffer => Buffer.from(s, "utf8");
const stripWs = (s: string): string => s.replace(/[\s\u200b-\u200d\u2060\ufeff]/g, "");

/** Independent re-derivation of the base64 characters determined only by the secret's bytes. */
function embeddedCore(blob: string, prefixLen: number, n: number): string {
  return blob.slice(Math.ceil((8 * prefixLen) / 6), Math.floor((8 * (prefixLen + n)) / 6));
}

type Transform = { name: string; apply: (s: string) => string };
const TRANSFORMS: Transform[] = [
  { name: "raw", apply: (s) => s },
  { name: "base64", apply: (s) => utf8(s).toString("base64") },
  { name: "base64-nopad", apply: (s) => utf8(s).toString("base64").replace(/=+$/, "") },
  { name: "base64url", apply: (s) => utf8(s).toString("base64url") },
  { name: "base64url-pad", apply: (s) => utf8(s).toString("base64").replace(/\+/g, "-").replace(/\//g, "_") },
  { name: "url", apply: (s) => encodeURIComponent(s) },
  { name: "url-lower", apply: (s) => encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()) },
  { name: "hex", apply: (s) => utf8(s).toString("hex") },
  { name: "HEX", apply: (s) => utf8(s).toString("hex").toUpperCase() },
  { name: "json", apply: (s) => JSON.stringify(s).slice(1, -1) },
];

const RUNS = 150;

describe("Redactor", () => {
  for (const t of TRANSFORMS) {
    it(`never lets a ${t.name}-encoded secret through`, () => {
      fc.assert(
        fc.property(secretArb, textArb, textArb, (secret, before, after) => {
          const r = new Redactor([{ name: "s1", value: secret }]);
          const form = t.apply(secret);
          const out = r.redact(`${before}${form}${after}`);
          expect(out.text.includes(form)).toBe(false);
          expect(out.text.includes(secret)).toBe(false);
          expect(out.hits).toContain("s1");
          expect(out.text).toContain("{{secret:s1}}");
        }),
        { numRuns: RUNS },
      );
    });
  }

  it("finds a secret embedded at any byte alignment inside a longer base64 blob", () => {
    fc.assert(
      fc.property(secretArb, fc.uint8Array({ maxLength: 7 }), fc.uint8Array({ maxLength: 7 }), fc.boolean(), (secret, pre, post, urlSafe) => {
        const bytes = Buffer.concat([Buffer.from(pre), utf8(secret), Buffer.from(post)]);
        const blob = bytes.toString(urlSafe ? "base64url" : "base64");
        const core = embeddedCore(blob, pre.length, utf8(secret).length);
        const out = new Redactor([{ name: "s1", value: secret }]).redact(`token=${blob}; done`);
        expect(out.text.includes(core)).toBe(false);
        expect(out.hits).toEqual(["s1"]);
      }),
      { numRuns: RUNS },
    );
  });

  it("finds a secret split across whitespace and line breaks", () => {
    fc.assert(
      fc.property(
        secretArb,
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(" ", "\n", "\r\n", "\t", "  \n  ", "\u200b")), { minLength: 1, maxLength: 4 }),
        textArb,
        textArb,
        (secret, cuts, before, after) => {
          let split = secret;
          for (const [pos, ws] of cuts) {
            const p = pos % (split.length + 1);
            split = split.slice(0, p) + ws + split.slice(p);
          }
          const out = new Redactor([{ name: "s1", value: secret }]).redact(`${before} ${split} ${after}`);
          expect(stripWs(out.text).includes(stripWs(secret))).toBe(false);
          expect(out.hits).toEqual(["s1"]);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("matches case variants only for case-insensitive secrets", () => {
    const asciiSecret = fc
      .array(fc.constantFrom(...Array.from(ALPHABETS.alnum)), { minLength: 8, maxLength: 64 })
      .map((c) => c.join(""))
      .filter((s) => /[a-z]/i.test(s) && s.toLowerCase() !== s.toUpperCase());
    fc.assert(
      fc.property(asciiSecret, fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }), textArb, (secret, flips, before) => {
        const variant = Array.from(secret, (ch, i) => (flips[i] ? ch.toUpperCase() : ch.toLowerCase())).join("");
        const ci = new Redactor([{ name: "s1", value: secret, caseInsensitive: true }]).redact(`${before}${variant}!`);
        expect(ci.text.toLowerCase().includes(secret.toLowerCase())).toBe(false);
        const cs = new Redactor([{ name: "s1", value: secret }]).redact(`${before}${variant}!`);
        expect(cs.hits.length > 0).toBe(variant.includes(secret) || (before + variant).includes(secret));
      }),
      { numRuns: RUNS },
    );
  });

  it("redacts many secrets in one message and reports each hit once", () => {
    fc.assert(
      fc.property(fc.uniqueArray(secretArb, { minLength: 2, maxLength: 12 }), textArb, (secrets, filler) => {
        const r = new Redactor(secrets.map((value, i) => ({ name: `k${i}`, value })));
        const msg = secrets.map((s, i) => `${filler}${i % 2 === 0 ? s : utf8(s).toString("base64")}`).join(" | ") + secrets[0];
        const out = r.redact(msg);
        for (const s of secrets) expect(out.text.includes(s)).toBe(false);
        expect(new Set(out.hits).size).toBe(out.hits.length);
      }),
      { numRuns: 60 },
    );
  });

  it("leaves text without secrets untouched (identical string)", () => {
    const r = new Redactor([{ name: "ha_token", value: "eyJhbGciOiJIUzI1NiJ9.sEcReT" }, { name: "wifi", value: "correct horse battery" }]);
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: "binary" }), (text) => {
        fc.pre(!text.includes("eyJhbGciOiJIUzI1NiJ9") && !stripWs(text).includes("correcthorse"));
        const out = r.redact(text);
        expect(out.text).toBe(text);
        expect(out.hits).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("ignores values shorter than the minimum length", () => {
    const r = new Redactor([{ name: "pin", value: "12345" }, { name: "ok", value: "123456" }]);
    expect(r.size).toBe(1);
    expect(r.redact("pin 12345, code 123456").text).toBe("pin 12345, code {{secret:ok}}");
  });

  it("covers a secret that contains another secret with both handles", () => {
    const r = new Redactor([{ name: "outer", value: "prefix-INNER1234-suffix" }, { name: "inner", value: "INNER1234" }]);
    const out = r.redact("a prefix-INNER1234-suffix b INNER1234 c");
    expect(out.text).not.toContain("INNER1234");
    expect(out.text).toContain("{{secret:outer}}");
    expect(out.text.endsWith("b {{secret:inner}} c")).toBe(true);
    expect(out.hits.sort()).toEqual(["inner", "outer"]);
  });
});
