import { VaultError } from "../core/errors.ts";
import { KEY_BYTES, type KeyHeader, type MasterKeySource } from "./masterKey.ts";
import { getSodium, wipe } from "./sodium.ts";

/** The subset of keytar Hearth uses (lets callers pass a different backend). */
export interface KeychainBackend {
  /** Read a stored password, `null` if absent. */
  getPassword(service: string, account: string): Promise<string | null>;
  /** Store (or overwrite) a password. */
  setPassword(service: string, account: string, password: string): Promise<void>;
  /** Delete a stored password; `true` if something was deleted. */
  deletePassword(service: string, account: string): Promise<boolean>;
}

/** keytar service name under which Hearth stores vault master keys. */
export const KEYCHAIN_SERVICE = "hearth";

/** Message shown when no usable Secret Service / keychain is reachable. */
export const NO_KEYCHAIN_MESSAGE =
  "No OS keychain is available (on Linux: no Secret Service on the D-Bus session bus, e.g. a headless server). " +
  "Protect the vault with a passphrase file (set HEARTH_VAULT_PASSPHRASE_FILE to a chmod 600 file holding the passphrase) " +
  "or a key file (set HEARTH_VAULT_KEY_FILE to a chmod 600 file with 32 random bytes, e.g. `head -c 32 /dev/urandom | base64 > vault.key && chmod 600 vault.key`).";

/**
 * True if a keytar error means "there is no keychain service" rather than "the keychain refused".
 * libsecret reports D-Bus connection problems with messages like "Cannot autolaunch D-Bus without
 * X11 $DISPLAY", "Could not connect: No such file or directory" or
 * "The name org.freedesktop.secrets was not provided by any .service files".
 */
export function isNoKeychainError(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /d-?bus|autolaunch|could not connect|org\.freedesktop|secret ?service|no such (file|interface)|not provided by any|connection refused|libsecret/i.test(
    msg,
  );
}

async function loadKeytar(): Promise<KeychainBackend> {
  try {
    const mod = (await import("keytar")) as unknown as { default?: KeychainBackend } & KeychainBackend;
    return mod.default ?? mod;
  } catch (err) {
    // The native addon could not load (missing libsecret-1.so.0): the same remedy as "no service".
    throw new VaultError("VAULT_NO_KEYCHAIN", NO_KEYCHAIN_MESSAGE, { cause: err });
  }
}

/**
 * Wrap keychain calls so "no Secret Service" becomes a clear VaultError naming the alternatives,
 * and any other keychain failure says it came from the keychain.
 */
async function keychainCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof VaultError) throw err;
    if (isNoKeychainError(err)) throw new VaultError("VAULT_NO_KEYCHAIN", NO_KEYCHAIN_MESSAGE, { cause: err });
    throw new VaultError(
      "VAULT_KEYCHAIN_FAILED",
      `The OS keychain refused to ${what} (is it locked?). Unlock your keyring, or use a passphrase file or key file instead.`,
      { cause: err },
    );
  }
}

/** Options for {@link KeychainMasterKey}. */
export interface KeychainMasterKeyOptions {
  /** Keychain backend; defaults to the real keytar module. */
  backend?: KeychainBackend;
  /** keytar service name; default {@link KEYCHAIN_SERVICE}. */
  service?: string;
}

/**
 * Master key kept in the OS keychain via keytar (service `hearth`, account = vault id). The
 * keychain encrypts it at rest with the user's login secret; Hearth stores 32 random bytes base64.
 */
export class KeychainMasterKey implements MasterKeySource {
  readonly kind = "keychain" as const;
  readonly description: string;
  readonly #service: string;
  #backend: KeychainBackend | undefined;

  constructor(options: KeychainMasterKeyOptions = {}) {
    this.#backend = options.backend;
    this.#service = options.service ?? KEYCHAIN_SERVICE;
    this.description = `OS keychain (service "${this.#service}")`;
  }

  async #keytar(): Promise<KeychainBackend> {
    this.#backend ??= await loadKeytar();
    return this.#backend;
  }

  /** Check that a keychain answers at all; throws the "no Secret Service" VaultError if not. */
  async probe(): Promise<void> {
    const kt = await this.#keytar();
    await keychainCall("answer", () => kt.getPassword(this.#service, "__hearth_probe__"));
  }

  async enroll(vaultId: string): Promise<{ key: Uint8Array; header: KeyHeader }> {
    const key = await this.generateAndStore(vaultId);
    return { key, header: { kind: "keychain", service: this.#service, account: vaultId } };
  }

  /** Store a given key (used to roll back a failed rotation). */
  async store(account: string, key: Uint8Array): Promise<void> {
    const sodium = await getSodium();
    const kt = await this.#keytar();
    const encoded = sodium.to_base64(key, sodium.base64_variants.ORIGINAL);
    await keychainCall("store the vault key", () => kt.setPassword(this.#service, account, encoded));
  }

  /** Remove the vault's key from the keychain (after rotating to another source). */
  async forget(account: string): Promise<void> {
    const kt = await this.#keytar();
    await keychainCall("delete the vault key", () => kt.deletePassword(this.#service, account));
  }

  private async generateAndStore(account: string): Promise<Uint8Array> {
    const sodium = await getSodium();
    const key = sodium.randombytes_buf(KEY_BYTES);
    try {
      await this.store(account, key);
    } catch (err) {
      wipe(sodium, key);
      throw err;
    }
    return key;
  }

  async unlock(vaultId: string, header: KeyHeader): Promise<Uint8Array> {
    if (header.kind !== "keychain") throw wrongKind(header.kind, this.description);
    const kt = await this.#keytar();
    const stored = await keychainCall("read the vault key", () => kt.getPassword(header.service, header.account));
    if (stored === null) {
      throw new VaultError(
        "VAULT_KEYCHAIN_MISSING",
        `The OS keychain has no key for this vault (service "${header.service}", account "${header.account}"). ` +
          `Are you logged in as the user who created it? If the keychain was reset, the vault cannot be opened; restore the keyring from a backup.`,
      );
    }
    const sodium = await getSodium();
    let key: Uint8Array;
    try {
      key = sodium.from_base64(stored, sodium.base64_variants.ORIGINAL);
    } catch (err) {
      throw new VaultError("VAULT_KEYCHAIN_CORRUPT", "The vault key stored in the OS keychain is not valid base64.", { cause: err });
    }
    if (key.length !== KEY_BYTES) {
      wipe(sodium, key);
      throw new VaultError("VAULT_KEYCHAIN_CORRUPT", "The vault key stored in the OS keychain has the wrong length.");
    }
    void vaultId;
    return key;
  }
}

/** Error for "this source cannot open a vault protected by another kind of key". */
export function wrongKind(actual: KeyHeader["kind"], offered: string): VaultError {
  const how: Record<KeyHeader["kind"], string> = {
    keychain: "the OS keychain (enable the keychain option)",
    passphrase: "a passphrase (set HEARTH_VAULT_PASSPHRASE_FILE or enter it when asked)",
    keyfile: "a key file (set HEARTH_VAULT_KEY_FILE)",
  };
  return new VaultError(
    "VAULT_WRONG_SOURCE",
    `This vault is protected by ${how[actual]}, but ${offered} was offered.`,
  );
}
