import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VaultError } from "../../src/core/errors.ts";
import { configureLogger } from "../../src/core/logger.ts";
import { KeyFileMasterKey, decodeKeyFile } from "../../src/vault/masterKeyFile.ts";
import { PassphraseMasterKey } from "../../src/vault/masterKeyPassphrase.ts";
import { Vault } from "../../src/vault/vault.ts";
import { makeTempDir } from "./helpers/tempDir.ts";

configureLogger({ level: "silent" });

describe("key file and passphrase file sources", { timeout: 60_000 }, () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = makeTempDir()));
  afterEach(() => cleanup());

  it("refuses a group- or world-readable key file, saying chmod 600 FILE", async () => {
    const keyFile = join(dir, "vault.key");
    const vaultPath = join(dir, "vault.json");
    (await Vault.create(vaultPath, new KeyFileMasterKey(keyFile))).dispose();
    const before = readFileSync(vaultPath);
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      chmodSync(keyFile, mode);
      const err = await Vault.open(vaultPath, new KeyFileMasterKey(keyFile)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(VaultError);
      expect((err as VaultError).code).toBe("VAULT_KEYFILE_PERMISSIONS");
      expect((err as VaultError).userMessage).toContain(`chmod 600 ${keyFile}`);
    }
    expect(readFileSync(vaultPath).equals(before)).toBe(true);
    chmodSync(keyFile, 0o600);
    const v = await Vault.open(vaultPath, new KeyFileMasterKey(keyFile));
    v.dispose();
    chmodSync(keyFile, 0o400);
    (await Vault.open(vaultPath, new KeyFileMasterKey(keyFile))).dispose();
  });

  it("accepts raw and base64 (std or url-safe) keys and rejects anything else by path", () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 251) & 0xff));
    expect(Buffer.from(decodeKeyFile(key, "k")).equals(key)).toBe(true);
    expect(Buffer.from(decodeKeyFile(Buffer.from(key.toString("base64") + "\n"), "k")).equals(key)).toBe(true);
    expect(Buffer.from(decodeKeyFile(Buffer.from(key.toString("base64url")), "k")).equals(key)).toBe(true);
    for (const bad of [Buffer.alloc(31), Buffer.from("not a key"), Buffer.from(Buffer.alloc(16).toString("base64"))]) {
      expect(() => decodeKeyFile(bad, "/x/vault.key")).toThrow(/\/x\/vault\.key must hold exactly 32 random bytes/);
    }
  });

  it("a different key file with the same format is a wrong key, not a crash", async () => {
    const k1 = join(dir, "k1.key");
    const k2 = join(dir, "k2.key");
    writeFileSync(k2, Buffer.alloc(32, 1), { mode: 0o600 });
    const path = join(dir, "vault.json");
    const v = await Vault.create(path, new KeyFileMasterKey(k1));
    await v.add("tok", "token-value-xyz");
    v.dispose();
    await expect(Vault.open(path, new KeyFileMasterKey(k2))).rejects.toMatchObject({ code: "VAULT_WRONG_KEY" });
  });

  it("reads a passphrase file (trailing newline ignored) and refuses a readable one", async () => {
    const pf = join(dir, "pass.txt");
    writeFileSync(pf, "my long passphrase\n", { mode: 0o600 });
    const path = join(dir, "vault.json");
    const v = await Vault.create(path, new PassphraseMasterKey({ passphraseFile: pf, cost: "interactive" }));
    await v.add("tok", "token-value-xyz");
    v.dispose();
    const direct = await Vault.open(path, new PassphraseMasterKey({ passphrase: "my long passphrase" }));
    expect(direct.get("tok")).toBe("token-value-xyz");
    direct.dispose();
    chmodSync(pf, 0o644);
    await expect(Vault.open(path, new PassphraseMasterKey({ passphraseFile: pf }))).rejects.toMatchObject({
      code: "VAULT_KEYFILE_PERMISSIONS",
      userMessage: expect.stringContaining(`chmod 600 ${pf}`),
    });
    writeFileSync(join(dir, "empty.txt"), "\n", { mode: 0o600 });
    await expect(Vault.open(path, new PassphraseMasterKey({ passphraseFile: join(dir, "empty.txt") }))).rejects.toMatchObject({ code: "VAULT_EMPTY_PASSPHRASE" });
  });

  it("validates Argon2id limits", () => {
    expect(() => new PassphraseMasterKey({ passphrase: "x", cost: { opslimit: 0, memlimit: 1 << 20 } })).toThrow(VaultError);
  });
});
