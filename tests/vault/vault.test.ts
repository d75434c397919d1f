import { chmodSync, readFileSync, statSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VaultError } from "../../src/core/errors.ts";
import { configureLogger } from "../../src/core/logger.ts";
import { KeyFileMasterKey } from "../../src/vault/masterKeyFile.ts";
import { PassphraseMasterKey } from "../../src/vault/masterKeyPassphrase.ts";
import { Vault } from "../../src/vault/vault.ts";
import { makeTempDir } from "./helpers/tempDir.ts";

configureLogger({ level: "silent" });

// Tests use the cheapest Argon2id cost; the default (moderate) is measured in bench/vault.ts.
const pass = (p: string): PassphraseMasterKey => new PassphraseMasterKey({ passphrase: p, cost: "interactive" });

async function expectVaultError(p: Promise<unknown> | (() => unknown), code: string): Promise<VaultError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(VaultError);
    expect((err as VaultError).code).toBe(code);
    return err as VaultError;
  }
  throw new Error(`expected VaultError ${code}`);
}

describe("Vault", { timeout: 60_000 }, () => {
  let dir: string;
  let cleanup: () => void;
  let path: string;
  beforeEach(() => {
    ({ dir, cleanup } = makeTempDir());
    path = join(dir, "home", "vault.json");
  });
  afterEach(() => cleanup());

  it("round-trips secrets across processes' worth of open/close, never storing values or keys in plaintext", async () => {
    const v = await Vault.create(path, pass("correct horse"));
    await v.add("ha_token", "eyJhbGciOi.ha-token-value-ÄÖÜ-🔑", { allowHosts: ["HomeAssistant.local:8123", "ha.example.com."] });
    await v.add("wifi", "correct battery staple");
    expect(v.has("ha_token")).toBe(true);
    expect(v.allowedHosts("ha_token")).toEqual(["ha.example.com", "homeassistant.local:8123"]);
    v.dispose();
    const raw = readFileSync(path, "utf8");
    expect(raw).not.toContain("ha-token-value");
    expect(raw).not.toContain("correct battery");
    expect(raw).not.toContain("correct horse");
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const v2 = await Vault.open(path, pass("correct horse"));
    expect(v2.get("ha_token")).toBe("eyJhbGciOi.ha-token-value-ÄÖÜ-🔑");
    expect(v2.get("wifi")).toBe("correct battery staple");
    expect(v2.list().map((e) => [e.name, e.damaged])).toEqual([["ha_token", false], ["wifi", false]]);
    expect(JSON.stringify(v2.list())).not.toContain("ha-token-value");
    expect(await v2.remove("wifi")).toBe(true);
    expect(await v2.remove("wifi")).toBe(false);
    await expectVaultError(() => v2.get("wifi"), "VAULT_NO_SUCH_SECRET");
    v2.dispose();
    await expectVaultError(() => v2.get("ha_token"), "VAULT_LOCKED");
  });

  it("rejects bad names, short values and malformed hosts without writing", async () => {
    const v = await Vault.create(path, pass("pw"));
    const before = readFileSync(path);
    await expectVaultError(v.add("Bad-Name", "abcdefgh"), "VAULT_BAD_NAME");
    await expectVaultError(v.add("x".repeat(65), "abcdefgh"), "VAULT_BAD_NAME");
    const short = await expectVaultError(v.add("pin", "12 34 5"), "VAULT_VALUE_TOO_SHORT");
    expect(short.userMessage).toContain("at least 6");
    await expectVaultError(v.add("tok", "abcdefgh", { allowHosts: ["https://evil.com/x"] }), "VAULT_BAD_HOST");
    expect(readFileSync(path).equals(before)).toBe(true);
    v.dispose();
  });

  it("reports a tampered entry by name while the others stay readable", async () => {
    const v = await Vault.create(path, pass("pw"));
    await v.add("alpha", "alpha-secret-1");
    await v.add("beta", "beta-secret-2");
    await v.add("gamma", "gamma-secret-3");
    v.dispose();
    const file = JSON.parse(readFileSync(path, "utf8"));
    const ct = Buffer.from(file.entries.beta.ciphertext, "base64");
    ct[3] = (ct[3] as number) ^ 0x01; // flip one bit of beta's ciphertext
    file.entries.beta.ciphertext = ct.toString("base64");
    writeFileSync(path, JSON.stringify(file));

    const v2 = await Vault.open(path, pass("pw"));
    expect(v2.get("alpha")).toBe("alpha-secret-1");
    expect(v2.get("gamma")).toBe("gamma-secret-3");
    const err = await expectVaultError(() => v2.get("beta"), "VAULT_ENTRY_DAMAGED");
    expect(err.userMessage).toContain('"beta"');
    expect(err.userMessage).not.toContain("beta-secret");
    expect(v2.list().find((e) => e.name === "beta")?.damaged).toBe(true);
    expect(v2.list().filter((e) => e.damaged).map((e) => e.name)).toEqual(["beta"]);
    // Writing something else keeps the damaged entry as it is (nothing is silently dropped).
    await v2.add("delta", "delta-secret-4");
    expect(JSON.parse(readFileSync(path, "utf8")).entries.beta.ciphertext).toBe(file.entries.beta.ciphertext);
    v2.dispose();
  });

  it("treats widening an entry's allowlist by editing the file as tampering", async () => {
    const v = await Vault.create(path, pass("pw"));
    await v.add("ha_token", "ha-token-value", { allowHosts: ["ha.local"] });
    v.dispose();
    const file = JSON.parse(readFileSync(path, "utf8"));
    file.entries.ha_token.allowHosts.push("evil.example");
    writeFileSync(path, JSON.stringify(file));
    const v2 = await Vault.open(path, pass("pw"));
    await expectVaultError(() => v2.allowedHosts("ha_token"), "VAULT_ENTRY_DAMAGED");
    v2.dispose();
  });

  it("reports a truncated entry and a truncated file clearly", async () => {
    const v = await Vault.create(path, pass("pw"));
    await v.add("one", "one-secret-1");
    await v.add("two", "two-secret-2");
    v.dispose();
    const text = readFileSync(path, "utf8");
    const file = JSON.parse(text);
    file.entries.two.ciphertext = file.entries.two.ciphertext.slice(0, 10);
    delete file.entries.one.nonce;
    writeFileSync(path, JSON.stringify(file));
    const v2 = await Vault.open(path, pass("pw"));
    expect(v2.list().map((e) => [e.name, e.damaged])).toEqual([["one", true], ["two", true]]);
    v2.dispose();

    writeFileSync(path, text.slice(0, Math.floor(text.length / 2)));
    const truncated = readFileSync(path);
    const err = await expectVaultError(Vault.open(path, pass("pw")), "VAULT_CORRUPT");
    expect(err.userMessage).toContain(path);
    expect(err.userMessage).toContain(".bak");
    expect(readFileSync(path).equals(truncated)).toBe(true);
    // The backup made before the last write is a complete, openable vault.
    writeFileSync(path, readFileSync(`${path}.bak`));
    const v3 = await Vault.open(path, pass("pw"));
    expect(v3.get("one")).toBe("one-secret-1");
    v3.dispose();
  });

  it("refuses a wrong passphrase with a clear error and leaves the file byte-identical", async () => {
    const v = await Vault.create(path, pass("right passphrase"));
    await v.add("tok", "token-value-123");
    v.dispose();
    const before = readFileSync(path);
    const err = await expectVaultError(Vault.open(path, pass("wrong passphrase")), "VAULT_WRONG_KEY");
    expect(err.userMessage).toMatch(/wrong passphrase or key/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(existsSync(`${path}.lock`)).toBe(false);
    // The wrong kind of source is named too.
    const keyFile = join(dir, "k.key");
    writeFileSync(keyFile, Buffer.alloc(32, 7), { mode: 0o600 });
    const kind = await expectVaultError(Vault.open(path, new KeyFileMasterKey(keyFile)), "VAULT_WRONG_SOURCE");
    expect(kind.userMessage).toContain("passphrase");
  });

  it("rejects a vault whose key header (Argon2 cost) was downgraded", async () => {
    const v = await Vault.create(path, pass("pw"));
    v.dispose();
    const file = JSON.parse(readFileSync(path, "utf8"));
    file.key.opslimit = 1;
    writeFileSync(path, JSON.stringify(file));
    await expectVaultError(Vault.open(path, pass("pw")), "VAULT_WRONG_KEY");
  });

  it("rotates the master key (re-wrap, and re-encrypt with a new data key)", async () => {
    const v = await Vault.create(path, pass("old"));
    await v.add("a", "alpha-value-1", { allowHosts: ["a.example"] });
    await v.add("b", "bravo-value-2");
    const keyFile = join(dir, "new.key");
    await v.rotateKey(new KeyFileMasterKey(keyFile));
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const entriesAfterRewrap = JSON.parse(readFileSync(path, "utf8")).entries;
    await v.rotateKey(pass("newer"), { reencrypt: true });
    const after = JSON.parse(readFileSync(path, "utf8"));
    expect(after.dataKey.generation).toBe(2);
    expect(after.entries.a.ciphertext).not.toBe(entriesAfterRewrap.a.ciphertext);
    expect(v.get("a")).toBe("alpha-value-1");
    await v.add("c", "charlie-value-3");
    v.dispose();
    await expectVaultError(Vault.open(path, pass("old")), "VAULT_WRONG_KEY");
    await expectVaultError(Vault.open(path, new KeyFileMasterKey(keyFile)), "VAULT_WRONG_SOURCE");
    // The backup no longer holds data readable with the old key either.
    const bak = JSON.parse(readFileSync(`${path}.bak`, "utf8"));
    expect(bak.key.kind).toBe("passphrase");
    const v2 = await Vault.open(path, pass("newer"));
    expect([v2.get("a"), v2.get("b"), v2.get("c")]).toEqual(["alpha-value-1", "bravo-value-2", "charlie-value-3"]);
    expect(v2.allowedHosts("a")).toEqual(["a.example"]);
    v2.dispose();
  });

  it("writes atomically: no temp files left and readers never see a partial file", async () => {
    const v = await Vault.create(path, pass("pw"));
    const reader = (async () => {
      let reads = 0;
      for (let i = 0; i < 200; i++) {
        const text = readFileSync(path, "utf8");
        JSON.parse(text); // throws on a torn write
        reads++;
        await new Promise((r) => setImmediate(r));
      }
      return reads;
    })();
    for (let i = 0; i < 20; i++) await v.add(`k${i}`, `value-number-${i}`);
    expect(await reader).toBe(200);
    expect(readdirSync(join(dir, "home")).sort()).toEqual(["vault.json", "vault.json.bak"]);
    v.dispose();
  });

  it("picks up changes made by another instance and merges instead of overwriting", async () => {
    const a = await Vault.create(path, pass("pw"));
    const b = await Vault.open(path, pass("pw"));
    await a.add("from_a", "value-from-a");
    await b.add("from_b", "value-from-b"); // b never saw from_a in memory
    expect(b.get("from_a")).toBe("value-from-a");
    await a.reload();
    expect(a.get("from_b")).toBe("value-from-b");
    a.dispose();
    b.dispose();
  });

  it("refuses to create over an existing vault", async () => {
    (await Vault.create(path, pass("pw"))).dispose();
    const before = readFileSync(path);
    await expectVaultError(Vault.create(path, pass("pw")), "VAULT_EXISTS");
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it("says clearly when there is no vault file", async () => {
    const err = await expectVaultError(Vault.open(join(dir, "nope.json"), pass("pw")), "VAULT_NOT_FOUND");
    expect(err.userMessage).toContain("nope.json");
    chmodSync(dir, 0o700);
  });
});
