import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VaultError } from "../../src/core/errors.ts";
import { configureLogger } from "../../src/core/logger.ts";
import { KeyFileMasterKey } from "../../src/vault/masterKeyFile.ts";
import type { KeychainBackend } from "../../src/vault/masterKeyKeychain.ts";
import {
  formatVaultList,
  masterKeySourceFrom,
  openVaultFromSources,
  readStdin,
  vaultAddCommand,
  vaultListCommand,
  vaultRemoveCommand,
  vaultRotateKeyCommand,
} from "../../src/vault/vaultCommands.ts";
import { makeTempDir } from "./helpers/tempDir.ts";

configureLogger({ level: "silent" });

/** Behaves like libsecret with no session bus (the exact message keytar throws on a headless box). */
const noBus: KeychainBackend = {
  getPassword: () => Promise.reject(new Error("Cannot autolaunch D-Bus without X11 $DISPLAY")),
  setPassword: () => Promise.reject(new Error("Cannot autolaunch D-Bus without X11 $DISPLAY")),
  deletePassword: () => Promise.reject(new Error("Cannot autolaunch D-Bus without X11 $DISPLAY")),
};

describe("vault CLI functions", { timeout: 60_000 }, () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = makeTempDir()));
  afterEach(() => cleanup());

  it("falls back from an unavailable keychain to the passphrase file when creating, then reopens by header kind", async () => {
    const path = join(dir, "vault.json");
    const pf = join(dir, "pass");
    writeFileSync(pf, "family passphrase\n", { mode: 0o600 });
    const v = await openVaultFromSources({ path, keychain: true, keychainBackend: noBus, passphraseFile: pf, argon2: "interactive", create: true });
    expect(v.keyKind).toBe("passphrase");
    await vaultAddCommand(v, "ha_token", { readValue: () => readStdin(Readable.from([Buffer.from("stdin-secret-value\n")])), allowHosts: ["ha.local"] });
    expect(v.get("ha_token")).toBe("stdin-secret-value");
    v.dispose();
    const prompted: string[] = [];
    const v2 = await openVaultFromSources({ path, keychain: true, keychainBackend: noBus, prompt: async () => (prompted.push("asked"), "family passphrase") });
    expect(prompted).toEqual(["asked"]);
    const listed = vaultListCommand(v2);
    expect(JSON.parse(JSON.stringify(listed))).toEqual(listed);
    expect(listed.map((e) => [e.name, e.allowHosts])).toEqual([["ha_token", ["ha.local"]]]);
    expect(formatVaultList(listed)).not.toContain("stdin-secret-value");
    await expect(vaultRemoveCommand(v2, "missing")).rejects.toMatchObject({ code: "VAULT_NO_SUCH_SECRET" });
    const keyFile = join(dir, "new.key");
    expect(await vaultRotateKeyCommand(v2, masterKeySourceFrom({ keychain: false, keyFile }), { reencrypt: true })).toEqual({ source: "keyfile", reencrypted: true });
    v2.dispose();
    const v3 = await openVaultFromSources({ path, keychain: false, keyFile });
    expect(v3.get("ha_token")).toBe("stdin-secret-value");
    expect(await vaultRemoveCommand(v3, "ha_token")).toEqual({ removed: true });
    v3.dispose();
  });

  it("fails clearly when no source fits", async () => {
    const path = join(dir, "vault.json");
    const err = await openVaultFromSources({ path, keychain: true, keychainBackend: noBus, create: true }).catch((e: unknown) => e);
    expect((err as VaultError).code).toBe("VAULT_NO_KEYCHAIN");
    expect((err as VaultError).userMessage).toMatch(/HEARTH_VAULT_PASSPHRASE_FILE.*HEARTH_VAULT_KEY_FILE/s);
    await expect(openVaultFromSources({ path, keychain: false })).rejects.toMatchObject({ code: "VAULT_NOT_FOUND" });
    const keyFile = join(dir, "k.key");
    (await openVaultFromSources({ path, keychain: false, keyFile, create: true })).dispose();
    await expect(openVaultFromSources({ path, keychain: false, passphrase: "x" })).rejects.toMatchObject({
      code: "VAULT_NO_SOURCE",
      userMessage: expect.stringContaining("HEARTH_VAULT_KEY_FILE"),
    });
    chmodSync(keyFile, 0o644);
    await expect(openVaultFromSources({ path, keychain: false, keyFile })).rejects.toMatchObject({ code: "VAULT_KEYFILE_PERMISSIONS" });
    await expect(vaultAddCommand(await (chmodSync(keyFile, 0o600), openVaultFromSources({ path, keychain: false, keyFile: keyFile })), "x_y", {})).rejects.toMatchObject({
      code: "VAULT_NO_VALUE",
    });
    void KeyFileMasterKey;
  });
});
