import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configureLogger } from "../../src/core/logger.ts";
import { KeyFileMasterKey } from "../../src/vault/masterKeyFile.ts";
import { captureSecrets, detectSecrets, looksRandom } from "../../src/vault/secretDetector.ts";
import { Vault } from "../../src/vault/vault.ts";
import { makeTempDir } from "./helpers/tempDir.ts";

configureLogger({ level: "silent" });

// Assembled at runtime so this file itself does not look like it leaks credentials.
const GH = "ghp_" + "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx";
const AWS = "AKIA" + "2OGYBAH6STMMNXNN";
const SLACK = "xoxb-" + "123456789012-1234567890123-abcdefghijABCDEFGHIJklmn";
const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." +
  "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
const PEM = [
  "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
  "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
  "QyNTUxOQAAACDhR8kzx2QcYh7b9Yx3Lk3sXr0m1yF1Xq4dXbJk0Xz7AAAAJgAAAAAAAAAA",
  "-----END " + "OPENSSH PRIVATE KEY-----",
].join("\n");

describe("detectSecrets", { timeout: 60_000 }, () => {
  const cases: [string, string, string][] = [
    ["GitHub PAT", `my token is ${GH} thanks`, GH],
    ["AWS access key id", `aws_access_key_id = ${AWS}`, AWS],
    ["Slack token", `slack: ${SLACK}`, SLACK],
    ["private key block", `here:\n${PEM}\nbye`, PEM],
    ["JWT", `Authorization: Bearer ${JWT}`, JWT],
    ["password: form", "the wifi password: Tr0ub4dor&3 ok?", "Tr0ub4dor&3"],
    ["password= form", 'db password="s3cr3t-pa55" please', "s3cr3t-pa55"],
    ["api_key= form", "api_key=Zx81kLq0pW2mN5vB, thanks", "Zx81kLq0pW2mN5vB"],
    ["basic auth URL", "use https://admin:hunter2hunter@nas.local/share", "hunter2hunter"],
    ["random token", "the pairing code is q8Z3vN1xK7pL2mR9tB4wY6cJ0dF5hG.", "q8Z3vN1xK7pL2mR9tB4wY6cJ0dF5hG"],
  ];
  for (const [label, text, secret] of cases) {
    it(`finds a ${label}`, async () => {
      const found = await detectSecrets(text);
      expect(found.map((f) => f.value)).toContain(secret);
      const f = found.find((x) => x.value === secret);
      expect(text.slice(f?.start, f?.end)).toBe(secret);
    });
  }

  it("does not flag receipts, ordinary chat, URLs, numbers and dates", async () => {
    const receipt = [
      "WALGREENS #04521 1234 MAIN ST SPRINGFIELD IL 62701",
      "DATE 03/14/2024 TIME 14:32:07 REG 003 TRN 4521 CSHR 012",
      "RX#6012345-07821 AMOXICILLIN 500MG CAP QTY 30  $12.99",
      "HSA ELIGIBLE ITEM  SUBTOTAL $12.99 TAX $0.00 TOTAL $12.99",
      "VISA ************4421 AUTH# 084521 REF 402918376512 INVOICE INV-2024-0003381",
      "Order ID 112-4928371-2837465 tracking 1Z999AA10123456784 9400111899223344556677",
    ].join("\n");
    const chat = [
      "Hey mom, can you pick up the kids at 3:30? Supercalifragilisticexpialidocious!",
      "Look: https://www.example.com/products/very-long-product-name-with-many-words?ref=abc123XYZ&utm_source=newsletter2024",
      "My password manager is great and the token booth at the fair costs 5 dollars.",
      "Meeting 2024-03-14T14:32:07.123Z in room B-204; call +1 (555) 123-4567 or mail jane.doe+family@example.org",
      "Java class SomeVeryLongJavaClassNameFactoryBean2 and getElementsByClassName are fine.",
      "The recipe needs 250g flour, 2 eggs; total 1,234,567.89 steps lol",
    ].join("\n");
    expect(await detectSecrets(receipt)).toEqual([]);
    expect(await detectSecrets(chat)).toEqual([]);
  });

  it("entropy heuristic: random tokens yes, words and numbers no", () => {
    expect(looksRandom("q8Z3vN1xK7pL2mR9tB4wY6cJ0dF5hG")).toBe(true);
    expect(looksRandom("Supercalifragilisticexpialidocious")).toBe(false);
    expect(looksRandom("12345678901234567890123")).toBe(false);
    expect(looksRandom("2024-03-14T14:32:07.123Z")).toBe(false);
    expect(looksRandom("INV-2024-000338100012")).toBe(false);
  });
});

describe("captureSecrets", { timeout: 60_000 }, () => {
  let tmp: { dir: string; cleanup: () => void };
  let vault: Vault;
  beforeAll(async () => {
    tmp = makeTempDir();
    vault = await Vault.create(join(tmp.dir, "vault.json"), new KeyFileMasterKey(join(tmp.dir, "k.key")));
  });
  afterAll(() => {
    vault.dispose();
    tmp.cleanup();
  });

  it("stores each pasted secret under a generated name and returns handles instead", async () => {
    await vault.add("ha_token", "known-ha-token-value");
    const text = `token ${GH}\npassword: Tr0ub4dor&3\nagain ${GH}\nand my HA one known-ha-token-value\nand pin code: 1234`;
    const res = await captureSecrets(text, vault);
    expect(res.handles).toEqual(["{{secret:pasted_github_token_1}}", "{{secret:pasted_password_1}}"]);
    expect(res.known).toEqual(["{{secret:ha_token}}"]);
    expect(res.dropped).toBe(1);
    expect(res.text).toBe(
      "token {{secret:pasted_github_token_1}}\npassword: {{secret:pasted_password_1}}\nagain {{secret:pasted_github_token_1}}\nand my HA one {{secret:ha_token}}\nand pin code: [redacted]",
    );
    expect(vault.get("pasted_github_token_1")).toBe(GH);
    expect(vault.allowedHosts("pasted_github_token_1")).toEqual([]);
    // A second paste of a different token of the same kind gets the next number.
    const other = GH.slice(0, -4) + "AbCd";
    const res2 = await captureSecrets(`new one: ${other}`, vault);
    expect(res2.handles).toEqual(["{{secret:pasted_github_token_2}}"]);
  });

  it("returns ordinary text unchanged and stores nothing", async () => {
    const before = vault.list().length;
    const res = await captureSecrets("Dinner at 7? Bring the receipt for $12.99 from 03/14/2024.", vault);
    expect(res).toEqual({ text: "Dinner at 7? Bring the receipt for $12.99 from 03/14/2024.", handles: [], known: [], dropped: 0 });
    expect(vault.list().length).toBe(before);
  });
});
