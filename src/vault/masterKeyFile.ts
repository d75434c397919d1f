import { open } from "node:fs/promises";
import { VaultError } from "../core/errors.ts";
import { KEY_BYTES, type KeyHeader, type MasterKeySource } from "./masterKey.ts";
import { wrongKind } from "./masterKeyKeychain.ts";
import { readOwnerOnlyFile } from "./ownerOnlyFile.ts";
import { getSodium, wipe } from "./sodium.ts";

const HOW_TO_MAKE = "head -c 32 /dev/urandom | base64 > FILE && chmod 600 FILE";

/** Parse key-file content: 32 raw bytes, or their base64 (standard or URL-safe, padded or not). */
export function decodeKeyFile(content: Uint8Array, path: string): Uint8Array {
  const text = Buffer.from(content).toString("latin1").trim();
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const key = new Uint8Array(Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64"));
    if (key.length === KEY_BYTES) return key;
  }
  if (content.length === KEY_BYTES) return new Uint8Array(content);
  throw new VaultError(
    "VAULT_KEYFILE_INVALID",
    `The key file ${path} must hold exactly 32 random bytes, raw or base64. Create one with: ${HOW_TO_MAKE.replaceAll("FILE", path)}`,
  );
}

/**
 * Master key read from a key file (32 random bytes, base64 or raw) that only its owner may read.
 * Enrolling creates the file (base64, mode 600) if it does not exist yet.
 */
export class KeyFileMasterKey implements MasterKeySource {
  readonly kind = "keyfile" as const;
  readonly description: string;
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
    this.description = `key file ${path}`;
  }

  async #read(): Promise<Uint8Array> {
    const raw = await readOwnerOnlyFile(this.#path, "key file");
    try {
      return decodeKeyFile(raw, this.#path);
    } finally {
      raw.fill(0);
    }
  }

  async enroll(): Promise<{ key: Uint8Array; header: KeyHeader }> {
    const sodium = await getSodium();
    const fresh = sodium.randombytes_buf(KEY_BYTES);
    const text = Buffer.from(sodium.to_base64(fresh, sodium.base64_variants.ORIGINAL) + "\n", "latin1");
    wipe(sodium, fresh);
    try {
      // "wx": never overwrite an existing key file — it may protect another vault.
      const fh = await open(this.#path, "wx", 0o600);
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new VaultError("VAULT_KEYFILE_UNREADABLE", `Cannot create the key file ${this.#path}. Check that its directory exists and is writable.`, { cause: err });
      }
    } finally {
      text.fill(0);
    }
    return { key: await this.#read(), header: { kind: "keyfile" } };
  }

  async unlock(_vaultId: string, header: KeyHeader): Promise<Uint8Array> {
    if (header.kind !== "keyfile") throw wrongKind(header.kind, this.description);
    return this.#read();
  }
}
