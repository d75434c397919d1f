import { randomBytes } from "node:crypto";
import { maxImageBytes, type LoadedConfig } from "../core/config.ts";
import { ConfigError } from "../core/errors.ts";
import type { Transport } from "../core/transport.ts";
import type { Vault } from "../vault/vault.ts";

/** Vault names of the Matrix device and the key that encrypts its crypto state at rest. */
export const MATRIX_DEVICE_SECRET = "matrix_device_id";
export const MATRIX_PICKLE_SECRET = "matrix_pickle_key";
/** Vault name of the recovery key of the bot's server-side key backup (only with `matrix.keyBackup`). */
export const MATRIX_RECOVERY_SECRET = "matrix_recovery_key";

/** The pickle key, created on first use: it encrypts the bot's end-to-end keys on disk. */
export async function matrixPickleKey(vault: Vault): Promise<string> {
  if (!vault.has(MATRIX_PICKLE_SECRET)) await vault.add(MATRIX_PICKLE_SECRET, randomBytes(32).toString("base64url"), { allowHosts: [] });
  return vault.get(MATRIX_PICKLE_SECRET);
}

/** Build the Matrix transport from config and the vault (token and device from `hearth matrix login`). */
export async function createMatrixTransport(loaded: LoadedConfig, vault: Vault): Promise<Transport> {
  const m = loaded.config.matrix;
  if (!m.homeserverUrl || !m.userId) throw new ConfigError("Matrix is enabled but matrix.homeserverUrl and matrix.userId are not both set.");
  if (!vault.has(m.accessTokenHandle)) {
    throw new ConfigError(`Matrix is enabled but the vault has no "${m.accessTokenHandle}". Run \`hearth matrix login\` once to log the bot in.`);
  }
  const { MatrixTransport } = await import("../bots/matrix/matrixTransport.ts");
  return new MatrixTransport({
    homeserverUrl: m.homeserverUrl,
    userId: m.userId,
    accessToken: vault.get(m.accessTokenHandle),
    ...(vault.has(MATRIX_DEVICE_SECRET) ? { deviceId: vault.get(MATRIX_DEVICE_SECRET) } : {}),
    storeDir: loaded.paths.matrixStore,
    pickleKey: await matrixPickleKey(vault),
    allowedInviters: m.allowedInviters,
    displayName: loaded.config.botName,
    mentionNames: [loaded.config.botName],
    streamEdits: m.streamEdits,
    editIntervalMs: m.editIntervalMs,
    maxImageBytes: maxImageBytes(loaded.config),
    ...(m.keyBackup
      ? {
          keyBackup: {
            ...(vault.has(MATRIX_RECOVERY_SECRET) ? { recoveryKey: vault.get(MATRIX_RECOVERY_SECRET) } : {}),
            // allowHosts: [] — no tool may ever send it anywhere; the vault also redacts it from logs.
            onRecoveryKeyCreated: (key: string) => vault.add(MATRIX_RECOVERY_SECRET, key, { allowHosts: [] }),
          },
        }
      : {}),
  });
}
