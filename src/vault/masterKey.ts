/**
 * Master-key sources. The master key never touches the vault file: the file only records *how*
 * to obtain it again (the {@link KeyHeader}), and the key itself only wraps the random data key
 * that seals the entries. Sources in order of preference: OS keychain, Argon2id passphrase, key
 * file.
 */

/** Length of every master and data key (XChaCha20-Poly1305 key size). */
export const KEY_BYTES = 32;

/** What the vault file stores about the master key: never the key, only how to get it back. */
export type KeyHeader =
  | {
      /** Key lives in the OS keychain (Secret Service / Keychain / Credential Vault). */
      kind: "keychain";
      /** keytar service name (`hearth`). */
      service: string;
      /** keytar account name (the vault id). */
      account: string;
    }
  | {
      /** Key is stretched from a passphrase with Argon2id. */
      kind: "passphrase";
      /** Always `argon2id13` (libsodium's `crypto_pwhash_ALG_ARGON2ID13`). */
      alg: "argon2id13";
      /** Base64 16-byte random salt. */
      salt: string;
      /** Argon2 passes (libsodium opslimit). */
      opslimit: number;
      /** Argon2 memory in bytes (libsodium memlimit). */
      memlimit: number;
    }
  | {
      /** Key is 32 bytes read from an owner-only file. */
      kind: "keyfile";
    };

/** Kinds of master-key source, in preference order. */
export type MasterKeyKind = KeyHeader["kind"];

/** A way to obtain the vault's master key. Implementations never log or persist the key. */
export interface MasterKeySource {
  /** Which header kind this source understands. */
  readonly kind: MasterKeyKind;
  /** Human description for messages, never secret (e.g. `key file /etc/hearth/vault.key`). */
  readonly description: string;
  /**
   * Produce a new master key for a new vault or a key rotation, plus the header to store.
   * The caller owns the returned key and must wipe it.
   */
  enroll(vaultId: string, signal?: AbortSignal): Promise<{ key: Uint8Array; header: KeyHeader }>;
  /**
   * Re-create the master key described by `header`. Throws a VaultError if the source cannot
   * (wrong kind, missing keychain entry, unreadable file). A *wrong* key is only detected when
   * the data key fails to open, by the vault.
   */
  unlock(vaultId: string, header: KeyHeader, signal?: AbortSignal): Promise<Uint8Array>;
}
