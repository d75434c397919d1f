import { createPrivateKey, createPublicKey } from "node:crypto";
import type { MatrixClient } from "matrix-js-sdk";
import { decodeRecoveryKey, encodeRecoveryKey, type Curve25519AuthData, type CryptoApi, type KeyBackupInfo } from "matrix-js-sdk/lib/crypto-api/index.js";
import { getLogger } from "../../core/logger.ts";

/**
 * Optional server-side key backup (the Matrix "room key backup", `m.megolm_backup.v1`) for the
 * bot, with its recovery key kept by the caller (Hearth's vault).
 *
 * Why the backup decryption key itself is the recovery key, and not secret storage (4S): 4S is
 * only useful together with cross-signing, and uploading cross-signing keys needs interactive
 * user-interactive auth (UIA), which a token-only bot cannot do. Creating a backup version
 * (`POST /room_keys/version`) needs no UIA. The backup's decryption key is a Curve25519 private
 * key; encoded with the spec's recovery-key format (`encodeRecoveryKey`) it is exactly what Element
 * accepts as a "Security Key" for key backup, so a human can still read the bot's history with it.
 *
 * With a usable backup, matrix-js-sdk 43 (Rust crypto) uploads every room key the bot receives on
 * its own, and on a decryption failure with a missing key it fetches that one session from the
 * backup (`PerSessionKeyBackupDownloader`), then re-decrypts and emits `Decrypted`. That is how a
 * fresh crypto store (new device, lost storeDir) reads older messages: no bulk restore needed.
 */

/** Key-backup options of the Matrix transport. */
export interface KeyBackupOptions {
  /** The recovery key of the existing backup (from the vault), if the caller has one. */
  recoveryKey?: string;
  /**
   * Receives the recovery key when the bot created a new backup — or when the caller's key is
   * missing or stale but this device holds the key of the server's current backup. Store it
   * secretly; it decrypts every message the bot ever received. It is never logged.
   */
  onRecoveryKeyCreated?: (key: string) => Promise<void> | void;
}

/**
 * What {@link ensureKeyBackup} did:
 * - `created`: there was no backup; a new one was created and its key handed out;
 * - `active`: the backup was already usable by this device;
 * - `restored`: the recovery key unlocked the existing backup for this device;
 * - `no-key`: a backup exists but no recovery key was given — left alone, backup off;
 * - `wrong-key`: the recovery key does not belong to the server's backup — left alone, backup off;
 * - `unsupported`: the server's backup uses an algorithm this code does not handle.
 */
export type KeyBackupOutcome = "created" | "active" | "restored" | "no-key" | "wrong-key" | "unsupported";

const log = getLogger("matrix");
const CURVE25519_BACKUP = "m.megolm_backup.v1.curve25519-aes-sha2";
// DER PKCS#8 header of a raw X25519 private key (RFC 8410), so node:crypto can derive its public key.
const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/** Unpadded base64 Curve25519 public key of a backup decryption key, as in the backup's auth_data. */
export function backupPublicKey(privateKey: Uint8Array): string {
  const key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, privateKey]), format: "der", type: "pkcs8" });
  const x = createPublicKey(key).export({ format: "jwk" }).x ?? "";
  return Buffer.from(x, "base64url").toString("base64").replace(/=+$/, "");
}

/**
 * The server's current backup version, or null when it has none. Asked directly (not via
 * `CryptoApi.getKeyBackupInfo`, which reports "could not check" as null too) because "no backup"
 * leads to `resetKeyBackup`, which deletes every existing version: a network error must throw.
 */
async function serverBackup(client: MatrixClient): Promise<KeyBackupInfo | null> {
  const url = `${client.getHomeserverUrl().replace(/\/$/, "")}/_matrix/client/v3/room_keys/version`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${client.getAccessToken() ?? ""}` }, signal: AbortSignal.timeout(30_000) });
  const body = (await res.json().catch(() => ({}))) as KeyBackupInfo & { errcode?: string };
  if (res.status === 404 && body.errcode === "M_NOT_FOUND") return null;
  if (!res.ok) throw new Error(`the homeserver answered HTTP ${res.status} ${body.errcode ?? ""} when asked for its key backup`);
  return body;
}

function decodeOrUndefined(recoveryKey: string | undefined): Uint8Array | undefined {
  if (!recoveryKey) return undefined;
  try {
    return decodeRecoveryKey(recoveryKey.trim());
  } catch {
    return undefined;
  }
}

/** Give the caller the recovery key; false (logged) if storing it failed — retried on the next start. */
async function handOut(opts: KeyBackupOptions, privateKey: Uint8Array): Promise<boolean> {
  try {
    const recoveryKey = encodeRecoveryKey(privateKey);
    if (!recoveryKey) throw new Error("could not encode the key backup recovery key");
    await opts.onRecoveryKeyCreated?.(recoveryKey);
    return true;
  } catch (err) {
    // The device keeps the key, so the next start hands it out again (see the "active" branch).
    log.error({ err: err instanceof Error ? err.message : String(err) }, "could not store the Matrix key backup's recovery key; will retry at the next start");
    return false;
  }
}

/**
 * Make sure the bot backs its room keys up to the server: enable the existing backup (with the
 * recovery key when this device does not have it yet) or create one if the server has none.
 *
 * Never deletes or replaces an existing backup: without the right key it logs why and leaves
 * backup off. `persist` is awaited after new key material entered the crypto store, before the
 * key is handed out, so the store and the caller agree even if the process dies right after.
 * Throws on homeserver errors; the caller decides whether that is fatal (the transport: it is not).
 */
export async function ensureKeyBackup(client: MatrixClient, opts: KeyBackupOptions, persist: () => Promise<void>): Promise<KeyBackupOutcome> {
  const crypto: CryptoApi | undefined = client.getCrypto();
  if (!crypto) throw new Error("key backup needs end-to-end encryption to be initialised first");
  const info = await serverBackup(client);

  if (!info) {
    await crypto.resetKeyBackup();
    const key = await crypto.getSessionBackupPrivateKey();
    if (!key) throw new Error("matrix-js-sdk created a key backup but did not keep its key");
    await persist();
    const stored = await handOut(opts, key);
    log.info({ version: await crypto.getActiveSessionBackupVersion(), recoveryKeyStored: stored }, "created a Matrix key backup");
    return "created";
  }
  if (info.algorithm !== CURVE25519_BACKUP) {
    log.warn({ version: info.version, algorithm: info.algorithm }, "the homeserver's Matrix key backup uses an unsupported algorithm; key backup stays off");
    return "unsupported";
  }
  const serverPublic = (info.auth_data as Curve25519AuthData).public_key;
  const given = decodeOrUndefined(opts.recoveryKey);
  const givenMatches = given !== undefined && backupPublicKey(given) === serverPublic;

  const trust = await crypto.isKeyBackupTrusted(info);
  if (trust.matchesDecryptionKey) {
    // The usual restart: this device already holds the key (and the SDK enabled the backup at
    // crypto init). Re-check only if that background check has not switched it on yet.
    if ((await crypto.getActiveSessionBackupVersion()) !== info.version) await crypto.checkKeyBackupAndEnable();
    if (!givenMatches) {
      // The caller lost the key, or a vault write failed after creation: give it the working one.
      const key = await crypto.getSessionBackupPrivateKey();
      if (key && (await handOut(opts, key))) {
        log.info({ version: info.version }, "stored the Matrix key backup's recovery key again (the vault had none or a stale one)");
      }
    }
    log.debug({ version: info.version }, "Matrix key backup active");
    return "active";
  }

  if (!opts.recoveryKey) {
    log.warn(
      { version: info.version },
      "the homeserver has a Matrix key backup this device cannot use and the vault has no recovery key for it; key backup stays off (the backup is left untouched)",
    );
    return "no-key";
  }
  if (!given || !givenMatches) {
    log.error(
      { version: info.version, malformed: given === undefined },
      "the vault's Matrix recovery key does not open the homeserver's key backup; key backup stays off (the backup is left untouched)",
    );
    return "wrong-key";
  }
  await crypto.storeSessionBackupPrivateKey(given, info.version);
  // A key matching the backup's public key makes the backup usable per spec even though the
  // device that signed it is not verified, so this enables uploads and on-demand downloads.
  await crypto.checkKeyBackupAndEnable();
  await persist();
  log.info({ version: info.version, enabled: (await crypto.getActiveSessionBackupVersion()) === info.version }, "unlocked the Matrix key backup with the vault's recovery key");
  return "restored";
}
