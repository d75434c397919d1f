import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccessDeniedError } from "../../src/core/errors.ts";
import { configureLogger } from "../../src/core/logger.ts";
import { KeyFileMasterKey } from "../../src/vault/masterKeyFile.ts";
import { handleVaultCommand, type VaultChatContext } from "../../src/vault/vaultChatCommand.ts";
import { Vault } from "../../src/vault/vault.ts";
import { makeTempDir } from "./helpers/tempDir.ts";

configureLogger({ level: "silent" });

describe("/vault chat command", { timeout: 60_000 }, () => {
  let tmp: { dir: string; cleanup: () => void };
  let vault: Vault;
  let ok: VaultChatContext;
  beforeAll(async () => {
    tmp = makeTempDir();
    vault = await Vault.create(join(tmp.dir, "vault.json"), new KeyFileMasterKey(join(tmp.dir, "k.key")));
    ok = { isAdmin: true, chatType: "direct", transport: "matrix", encrypted: true, vault };
  });
  afterAll(() => {
    vault.dispose();
    tmp.cleanup();
  });

  it("refuses non-admins, groups and unencrypted Matrix rooms without touching the vault", async () => {
    const denied: Partial<VaultChatContext>[] = [{ isAdmin: false }, { chatType: "group" }, { encrypted: false }];
    for (const d of denied) {
      await expect(handleVaultCommand(["add", "x_token", "value-123456"], { ...ok, ...d })).rejects.toBeInstanceOf(AccessDeniedError);
    }
    expect(vault.list()).toEqual([]);
    // Telegram has no E2E rooms; a direct chat from an admin is accepted.
    const reply = await handleVaultCommand(["add", "tg_token", "telegram-value-1", "api.telegram.org"], { ...ok, transport: "telegram", encrypted: false });
    expect(reply).toContain("{{secret:tg_token}}");
    expect(reply).not.toContain("telegram-value-1");
  });

  it("adds, lists and removes; replies never contain values; errors are readable", async () => {
    const added = await handleVaultCommand(["add", "ha_token", "ha-secret-value", "ha.local:8123"], ok);
    expect(added).toContain("{{secret:ha_token}}");
    expect(added).toContain("ha.local:8123");
    const list = await handleVaultCommand(["list"], ok);
    expect(list).toContain("{{secret:ha_token}}");
    expect(list).not.toContain("ha-secret-value");
    expect(await handleVaultCommand(["add", "Bad Name!", "x-secret-value"], ok)).toMatch(/not a valid secret name/);
    expect(await handleVaultCommand(["add", "pin", "123"], ok)).toMatch(/too short/);
    expect(await handleVaultCommand(["rm", "ha_token"], ok)).toBe("Removed ha_token.");
    expect(await handleVaultCommand(["rm", "ha_token"], ok)).toMatch(/no secret named/);
    expect(await handleVaultCommand(["frobnicate"], ok)).toMatch(/^Usage/);
    expect(vault.has("ha_token")).toBe(false);
  });
});
