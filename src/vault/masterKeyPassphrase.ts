import * as nodeCrypto from "node:crypto";
import { AbortedError, VaultError } from "../core/errors.ts";
import { KEY_BYTES, type KeyHeader, type MasterKeySource } from "./masterKey.ts";
import { wrongKind } from "./masterKeyKeychain.ts";
import { readOwnerOnlyFile } from "./ownerOnlyFile.ts";
import { getSodium } from "./sodium.ts";

/**
 * Argon2id cost presets, identical to libsodium's `crypto_pwhash_OPSLIMIT_*` / `MEMLIMIT_*`
 * (opslimit = passes, memlimit = bytes, parallelism 1). MODERATE (3 passes, 256 MiB) takes
 * about 1 s on a small home server and is the default; INTERACTIVE is for weak machines and
 * tests; SENSITIVE (4 passes, 1 GiB) for the paranoid with RAM to spare.
 */
export const ARGON2ID_LIMITS = {
  interactive: { opslimit: 2, memlimit: 64 * 1024 * 1024 },
  moderate: { opslimit: 3, memlimit: 256 * 1024 * 1024 },
  sensitive: { opslimit: 4, memlimit: 1024 * 1024 * 1024 },
} as const;

/** Argon2id cost: a preset name or explicit libsodium-style limits. */
export type Argon2Cost = keyof typeof ARGON2ID_LIMITS | { opslimit: number; memlimit: number };

const SALT_BYTES = 16;
/** libsodium's crypto_pwhash_argon2id minimums; below this the KDF is not worth its name. */
const MIN_OPSLIMIT = 1;
const MIN_MEMLIMIT = 8192;

/** Options for {@link PassphraseMasterKey}. Exactly one of `passphrase` / `passphraseFile`. */
export interface PassphraseMasterKeyOptions {
  /** The passphrase itself (the CLI prompts for it; Hearth never stores it). */
  passphrase?: string;
  /** A chmod-600 file whose content (minus one trailing newline) is the passphrase. */
  passphraseFile?: string;
  /** Cost used when enrolling (creating / rotating); unlocking uses the cost stored in the header. */
  cost?: Argon2Cost;
}

/**
 * libsodium's `crypto_pwhash` (Argon2id v1.3), from the sumo build: the reference used where Node
 * has no native Argon2 (before 24.7), and by the tests that pin the two to the same output.
 */
export async function sodiumArgon2id(passphrase: Uint8Array, salt: Uint8Array, limits: { opslimit: number; memlimit: number }): Promise<Uint8Array> {
  const mod = (await import("libsodium-wrappers-sumo")) as unknown as { default: typeof import("libsodium-wrappers-sumo") };
  const sodium = mod.default;
  await sodium.ready;
  return sodium.crypto_pwhash(KEY_BYTES, passphrase, salt, limits.opslimit, limits.memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
}

type NativeArgon2 = (
  algorithm: "argon2id",
  params: { message: Uint8Array; nonce: Uint8Array; parallelism: number; tagLength: number; memory: number; passes: number },
  callback: (err: Error | null, key: Buffer) => void,
) => void;

/**
 * Derive 32 bytes with Argon2id, with exactly libsodium `crypto_pwhash(ALG_ARGON2ID13)` semantics
 * (opslimit = passes, memlimit = bytes, parallelism 1). On Node ≥ 24.7 this runs natively and
 * asynchronously (`crypto.argon2`), so a 1-second hash does not freeze the bot's event loop; older
 * Node falls back to libsodium's own `crypto_pwhash`. Both give identical keys.
 */
export function deriveArgon2id(
  passphrase: Uint8Array,
  salt: Uint8Array,
  limits: { opslimit: number; memlimit: number },
  signal?: AbortSignal,
): Promise<Uint8Array> {
  if (signal?.aborted) return Promise.reject(new AbortedError({ cause: signal.reason }));
  const argon2 = (nodeCrypto as unknown as { argon2?: NativeArgon2 }).argon2;
  if (argon2 === undefined) {
    return sodiumArgon2id(passphrase, salt, limits).catch((err: unknown) => {
      throw new VaultError("VAULT_KDF_FAILED", "Deriving the key from the passphrase failed (not enough memory for the Argon2id limits?).", { cause: err });
    });
  }
  return new Promise((resolve, reject) => {
    argon2(
      "argon2id",
      {
        message: passphrase,
        nonce: salt,
        parallelism: 1,
        tagLength: KEY_BYTES,
        memory: Math.floor(limits.memlimit / 1024),
        passes: limits.opslimit,
      },
      (err, key) => {
        if (signal?.aborted) {
          key?.fill(0);
          reject(new AbortedError({ cause: signal.reason }));
        } else if (err) reject(new VaultError("VAULT_KDF_FAILED", "Deriving the key from the passphrase failed (not enough memory for the Argon2id limits?).", { cause: err }));
        else resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength));
      },
    );
  });
}

function resolveCost(cost: Argon2Cost | undefined): { opslimit: number; memlimit: number } {
  const c = typeof cost === "object" ? cost : ARGON2ID_LIMITS[cost ?? "moderate"];
  if (c === undefined || !Number.isInteger(c.opslimit) || !Number.isInteger(c.memlimit) || c.opslimit < MIN_OPSLIMIT || c.memlimit < MIN_MEMLIMIT) {
    throw new VaultError(
      "VAULT_KDF_LIMITS",
      `Argon2id limits must be "interactive", "moderate", "sensitive" or integers with opslimit ≥ ${MIN_OPSLIMIT} and memlimit ≥ ${MIN_MEMLIMIT} bytes.`,
    );
  }
  return { opslimit: c.opslimit, memlimit: c.memlimit };
}

/** Master key stretched from a passphrase (given directly or read from an owner-only file). */
export class PassphraseMasterKey implements MasterKeySource {
  readonly kind = "passphrase" as const;
  readonly description: string;
  readonly #options: PassphraseMasterKeyOptions;
  readonly #cost: { opslimit: number; memlimit: number };

  constructor(options: PassphraseMasterKeyOptions) {
    if ((options.passphrase === undefined) === (options.passphraseFile === undefined)) {
      throw new TypeError("PassphraseMasterKey needs exactly one of passphrase / passphraseFile");
    }
    this.#options = options;
    this.#cost = resolveCost(options.cost);
    this.description = options.passphraseFile !== undefined ? `passphrase file ${options.passphraseFile}` : "passphrase";
  }

  async #passphraseBytes(): Promise<Buffer> {
    let bytes: Buffer;
    if (this.#options.passphraseFile !== undefined) {
      bytes = await readOwnerOnlyFile(this.#options.passphraseFile, "passphrase file");
      // Editors and `echo` add one trailing newline; it is not part of the passphrase.
      let end = bytes.length;
      if (end > 0 && bytes[end - 1] === 0x0a) end--;
      if (end > 0 && bytes[end - 1] === 0x0d) end--;
      bytes = bytes.subarray(0, end);
    } else {
      bytes = Buffer.from(this.#options.passphrase ?? "", "utf8");
    }
    if (bytes.length === 0) {
      throw new VaultError("VAULT_EMPTY_PASSPHRASE", `The ${this.description} is empty. Put a long passphrase in it.`);
    }
    return bytes;
  }

  async enroll(_vaultId: string, signal?: AbortSignal): Promise<{ key: Uint8Array; header: KeyHeader }> {
    const sodium = await getSodium();
    const salt = sodium.randombytes_buf(SALT_BYTES);
    const pass = await this.#passphraseBytes();
    try {
      const key = await deriveArgon2id(pass, salt, this.#cost, signal);
      return {
        key,
        header: {
          kind: "passphrase",
          alg: "argon2id13",
          salt: sodium.to_base64(salt, sodium.base64_variants.ORIGINAL),
          opslimit: this.#cost.opslimit,
          memlimit: this.#cost.memlimit,
        },
      };
    } finally {
      pass.fill(0);
    }
  }

  async unlock(_vaultId: string, header: KeyHeader, signal?: AbortSignal): Promise<Uint8Array> {
    if (header.kind !== "passphrase") throw wrongKind(header.kind, this.description);
    const sodium = await getSodium();
    const salt = sodium.from_base64(header.salt, sodium.base64_variants.ORIGINAL);
    const limits = resolveCost({ opslimit: header.opslimit, memlimit: header.memlimit });
    const pass = await this.#passphraseBytes();
    try {
      return await deriveArgon2id(pass, salt, limits, signal);
    } finally {
      pass.fill(0);
    }
  }
}
