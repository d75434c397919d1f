/**
 * Child-process helper for the multi-process tests. Usage:
 *   node vaultChild.ts add <vaultPath> <keyFile> <name> <value> [count]
 *   node vaultChild.ts keychain-create <vaultPath> <name> <value>
 *   node vaultChild.ts keychain-open <vaultPath> <name>
 *   node vaultChild.ts keychain-probe
 * Prints one JSON line with the result; exit code 0 on success, 2 on a VaultError.
 */
import { HearthError } from "../../../src/core/errors.ts";
import { configureLogger } from "../../../src/core/logger.ts";
import { KeyFileMasterKey } from "../../../src/vault/masterKeyFile.ts";
import { KeychainMasterKey } from "../../../src/vault/masterKeyKeychain.ts";
import { Vault } from "../../../src/vault/vault.ts";

configureLogger({ level: "silent" });
const [cmd, ...args] = process.argv.slice(2);

async function main(): Promise<unknown> {
  switch (cmd) {
    case "add": {
      const [path, keyFile, name, value, countText] = args as [string, string, string, string, string?];
      const count = Number(countText ?? "1");
      const v = await Vault.open(path, new KeyFileMasterKey(keyFile));
      for (let i = 0; i < count; i++) await v.add(count === 1 ? name : `${name}_${i}`, `${value}_${i}`);
      v.dispose();
      return { ok: true };
    }
    case "keychain-create": {
      const [path, name, value] = args as [string, string, string];
      const v = await Vault.create(path, new KeychainMasterKey());
      await v.add(name, value);
      const id = v.id;
      v.dispose();
      return { ok: true, id };
    }
    case "keychain-open": {
      const [path, name] = args as [string, string];
      const v = await Vault.open(path, new KeychainMasterKey());
      const value = v.get(name);
      v.dispose();
      return { ok: true, value };
    }
    case "keychain-probe": {
      await new KeychainMasterKey().probe();
      return { ok: true };
    }
    default:
      throw new Error(`unknown command ${String(cmd)}`);
  }
}

main().then(
  (r) => {
    process.stdout.write(JSON.stringify(r) + "\n");
  },
  (err: unknown) => {
    const e = err as HearthError;
    process.stdout.write(JSON.stringify({ ok: false, code: e.code ?? "UNKNOWN", userMessage: e instanceof HearthError ? e.userMessage : String(err) }) + "\n");
    process.exitCode = err instanceof HearthError ? 2 : 1;
  },
);
