import type { LoadedConfig } from "../core/config.ts";
import { isInteractive } from "../core/config.ts";
import { VaultError } from "../core/errors.ts";
import { openVault } from "../app/openVault.ts";
import { KeyFileMasterKey } from "../vault/masterKeyFile.ts";
import { KeychainMasterKey } from "../vault/masterKeyKeychain.ts";
import { PassphraseMasterKey } from "../vault/masterKeyPassphrase.ts";
import type { MasterKeySource } from "../vault/masterKey.ts";
import { promptHidden } from "../vault/promptPassword.ts";
import { formatVaultList, readStdin, vaultAddCommand, vaultListCommand, vaultRemoveCommand, vaultRotateKeyCommand } from "../vault/vaultCommands.ts";

/** `hearth vault add NAME`: value from a no-echo prompt, or stdin when piped. */
export async function vaultAdd(loaded: LoadedConfig, name: string, opts: { allowHost?: string[]; caseInsensitive?: boolean }): Promise<void> {
  const vault = await openVault(loaded, { create: true, prompt: true });
  try {
    const readValue = async () => {
      if (process.stdin.isTTY) return promptHidden(`Value for ${name} (not shown):`);
      const v = (await readStdin()).replace(/\r?\n$/, "");
      if (v === "") throw new VaultError("VAULT_NO_VALUE", `Nothing arrived on stdin for "${name}". Pipe the value in, e.g. \`printf %s "$TOKEN" | hearth vault add ${name}\`.`);
      return v;
    };
    const r = await vaultAddCommand(vault, name, { readValue, allowHosts: opts.allowHost ?? [], caseInsensitive: opts.caseInsensitive ?? false });
    process.stdout.write(`Stored ${r.handle}${r.allowHosts.length ? ` (may be sent to ${r.allowHosts.join(", ")})` : " (not allowed for any host yet)"}.\n`);
  } finally {
    vault.dispose();
  }
}

/** `hearth vault list [--json]`. */
export async function vaultList(loaded: LoadedConfig, opts: { json?: boolean }): Promise<void> {
  const vault = await openVault(loaded, { prompt: true });
  try {
    const entries = vaultListCommand(vault);
    process.stdout.write(opts.json ? `${JSON.stringify(entries, null, 2)}\n` : `${formatVaultList(entries)}\n`);
  } finally {
    vault.dispose();
  }
}

/** `hearth vault rm NAME`. */
export async function vaultRemove(loaded: LoadedConfig, name: string): Promise<void> {
  const vault = await openVault(loaded, { prompt: true });
  try {
    await vaultRemoveCommand(vault, name);
    process.stdout.write(`Removed {{secret:${name}}}.\n`);
  } finally {
    vault.dispose();
  }
}

/** `hearth vault rotate-key --to keychain|passphrase|key-file`. */
export async function vaultRotate(loaded: LoadedConfig, opts: { to?: string; keyFile?: string; passphraseFile?: string; reencrypt?: boolean }): Promise<void> {
  let source: MasterKeySource;
  switch (opts.to) {
    case "keychain":
      source = new KeychainMasterKey();
      break;
    case "key-file":
      if (!opts.keyFile) throw new VaultError("VAULT_USAGE", "Say which key file: hearth vault rotate-key --to key-file --key-file FILE (chmod 600, 32 random bytes).");
      source = new KeyFileMasterKey(opts.keyFile);
      break;
    case "passphrase":
      if (opts.passphraseFile) source = new PassphraseMasterKey({ passphraseFile: opts.passphraseFile });
      else if (isInteractive()) source = new PassphraseMasterKey({ passphrase: await promptHidden("New vault passphrase:", { confirm: true }) });
      else throw new VaultError("VAULT_USAGE", "Give the new passphrase with --passphrase-file FILE (chmod 600), or run in a terminal to be asked.");
      break;
    default:
      throw new VaultError("VAULT_USAGE", "Say where the new master key lives: --to keychain, --to passphrase [--passphrase-file FILE] or --to key-file --key-file FILE.");
  }
  const vault = await openVault(loaded, { prompt: true });
  try {
    const r = await vaultRotateKeyCommand(vault, source, { reencrypt: opts.reencrypt ?? false });
    process.stdout.write(`The vault is now protected by the ${r.source}${r.reencrypted ? "; every secret was re-encrypted under a new data key" : ""}.\n`);
    if (opts.to !== "passphrase" && loaded.vaultEnv.passphraseFile) process.stdout.write("Remember to update HEARTH_VAULT_PASSPHRASE_FILE / HEARTH_VAULT_KEY_FILE for the service.\n");
  } finally {
    vault.dispose();
  }
}
