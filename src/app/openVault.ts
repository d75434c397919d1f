import { existsSync } from "node:fs";
import type { LoadedConfig } from "../core/config.ts";
import { VaultError } from "../core/errors.ts";
import { isInteractive } from "../core/config.ts";
import type { Vault } from "../vault/vault.ts";

/** Options for {@link openVault}. */
export interface OpenVaultOptions {
  /** Create the vault when it does not exist yet. */
  create?: boolean;
  /** Ask for a passphrase at the terminal when needed (CLI commands, `hearth chat`). */
  prompt?: boolean;
  signal?: AbortSignal;
}

/**
 * Open the vault with the configured master-key sources, in preference order: OS keychain,
 * passphrase (file, environment, or a no-echo prompt), key file.
 */
export async function openVault(loaded: LoadedConfig, options: OpenVaultOptions = {}): Promise<Vault> {
  const { openVaultFromSources } = await import("../vault/vaultCommands.ts");
  const { promptHidden } = await import("../vault/promptPassword.ts");
  const creating = !existsSync(loaded.paths.vault);
  const env = loaded.vaultEnv;
  return openVaultFromSources({
    path: loaded.paths.vault,
    keychain: loaded.config.vault.keychain,
    ...(env.passphrase ? { passphrase: env.passphrase } : {}),
    ...(env.passphraseFile ? { passphraseFile: env.passphraseFile } : {}),
    ...(env.keyFile ? { keyFile: env.keyFile } : {}),
    ...(options.prompt && isInteractive()
      ? {
          prompt: async () => {
            if (creating) {
              process.stderr.write(
                "Hearth keeps secrets (API tokens, the key of your receipt images) in an encrypted vault.\n" +
                  "There is no OS keychain here, so choose a passphrase for it; you will type it when Hearth starts.\n" +
                  "(For an unattended server, press Ctrl-C and set HEARTH_VAULT_KEY_FILE to a chmod 600 key file instead.)\n",
              );
            }
            return promptHidden(creating ? "New vault passphrase:" : "Vault passphrase:", { confirm: creating });
          },
        }
      : {}),
    create: options.create ?? false,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/**
 * Open the vault for the running bot: create it when a master-key source is available, and
 * otherwise run without one (chat still works; receipts and secrets capture say how to set it up).
 */
export async function openVaultForBot(loaded: LoadedConfig, log: { warn(o: object, m: string): void }): Promise<Vault | undefined> {
  try {
    return await openVault(loaded, { create: true, prompt: true });
  } catch (err) {
    if (err instanceof VaultError && (err.code === "VAULT_NO_KEYCHAIN" || err.code === "VAULT_NO_SOURCE")) {
      log.warn({ reason: err.userMessage }, "running without a vault: receipts and secret capture are off until one is set up");
      return undefined;
    }
    throw err;
  }
}
