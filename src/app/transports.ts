import type { HearthApp } from "./hearthApp.ts";
import { maxImageBytes, type LoadedConfig } from "../core/config.ts";
import { ConfigError, VaultError } from "../core/errors.ts";
import type { Transport } from "../core/transport.ts";
import type { Vault } from "../vault/vault.ts";

/** Build the Matrix and Telegram transports the config enables, with their secrets from the vault. */
export async function createTransports(app: HearthApp, loaded: LoadedConfig, vault: Vault | undefined): Promise<Transport[]> {
  const { config } = loaded;
  const out: Transport[] = [];
  if (!vault) {
    throw new VaultError(
      "VAULT_REQUIRED",
      "Matrix and Telegram credentials live in the vault, and it could not be opened. Set up a master key (README: How Hearth keeps secrets), e.g. HEARTH_VAULT_KEY_FILE for a headless server.",
    );
  }
  if (config.telegram.enabled) {
    const handle = config.telegram.tokenHandle;
    if (!vault.has(handle)) {
      throw new ConfigError(`Telegram is enabled but the vault has no "${handle}". Store the BotFather token with: hearth vault add ${handle} --allow-host api.telegram.org`);
    }
    const { TelegramTransport } = await import("../bots/telegram/telegramTransport.ts");
    const webhookSecret = config.telegram.mode === "webhook" && vault.has("telegram_webhook_secret") ? vault.get("telegram_webhook_secret") : undefined;
    if (config.telegram.mode === "webhook" && (!config.telegram.webhookUrl || !webhookSecret)) {
      throw new ConfigError("Webhook mode needs telegram.webhookUrl and a secret: hearth vault add telegram_webhook_secret (letters, digits, _ and -).");
    }
    out.push(
      new TelegramTransport({
        token: vault.get(handle),
        apiRoot: config.telegram.apiRoot,
        mode: config.telegram.mode,
        ...(webhookSecret && config.telegram.webhookUrl ? { webhook: { url: config.telegram.webhookUrl, port: config.telegram.webhookPort, secretToken: webhookSecret } } : {}),
        streamEdits: config.telegram.streamEdits,
        maxImageBytes: maxImageBytes(config),
        commands: app.commands.list(false).map((c) => ({ command: c.name, description: c.description.slice(0, 256) })),
      }),
    );
  }
  if (config.matrix.enabled) {
    const { createMatrixTransport } = await import("./matrixSetup.ts");
    out.push(await createMatrixTransport(loaded, vault));
  }
  return out;
}
