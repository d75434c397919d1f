import { mkdirSync, openSync, writeSync, fsyncSync, closeSync, renameSync, readFileSync, readdirSync, unlinkSync, existsSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import sodium from "libsodium-wrappers";
import { HearthError, InputError } from "../core/errors.ts";

/** Thrown when a stored image cannot be decrypted (wrong key, tampering, truncation). */
export class ImageStoreError extends HearthError {
  constructor(code: string, userMessage: string, options?: { cause?: unknown }) {
    super(code, userMessage, options);
  }
}

const MAGIC = new TextEncoder().encode("HEARTHIMG1");
const CHUNK = 64 * 1024;
const KDF_CONTEXT = "hrthimgs"; // exactly crypto_kdf_CONTEXTBYTES (8) characters

/**
 * Encrypted, content-addressed store for original receipt images.
 *
 * - Each file is `crypto_secretstream_xchacha20poly1305` ciphertext (64 KiB chunks, last chunk
 *   tagged FINAL so truncation is detected), with the file name bound in as associated data so
 *   files cannot be swapped.
 * - The file name is a keyed BLAKE2b of the plaintext: equal images collide (de-duplication), but
 *   without the key nobody can confirm a guessed image from the directory listing.
 * - Writes are atomic: temp file → fsync → rename → fsync directory.
 *
 * Encryption and naming use separate subkeys derived from the caller's 32-byte key.
 */
export class ImageStore {
  readonly dir: string;
  readonly #nameKey: Uint8Array;
  readonly #encKey: Uint8Array;

  private constructor(dir: string, nameKey: Uint8Array, encKey: Uint8Array) {
    this.dir = dir;
    this.#nameKey = nameKey;
    this.#encKey = encKey;
  }

  /** Open (creating if needed) the store in `dir` with a 32-byte key (from the vault). */
  static async open(dir: string, key: Uint8Array): Promise<ImageStore> {
    await sodium.ready;
    if (key.length !== 32) throw new InputError("IMAGE_KEY_INVALID", "The receipt image key must be 32 bytes; check the vault entry for the receipts key.");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const nameKey = sodium.crypto_kdf_derive_from_key(32, 1, KDF_CONTEXT, key);
    const encKey = sodium.crypto_kdf_derive_from_key(32, 2, KDF_CONTEXT, key);
    return new ImageStore(dir, nameKey, encKey);
  }

  /** The content address of `bytes` (hex keyed BLAKE2b-256). */
  refFor(bytes: Uint8Array): string {
    return sodium.crypto_generichash(32, bytes, this.#nameKey, "hex");
  }

  #pathOf(ref: string): string {
    if (!/^[0-9a-f]{64}$/.test(ref)) throw new ImageStoreError("IMAGE_REF_INVALID", "That receipt image reference is malformed.");
    return path.join(this.dir, `${ref}.img`);
  }

  /** True when the image file for `ref` exists. */
  has(ref: string): boolean {
    return existsSync(this.#pathOf(ref));
  }

  /**
   * Encrypt and store `bytes`; returns its ref. Storing the same content twice is a no-op.
   * When this returns, the file and its directory entry are on disk.
   */
  put(bytes: Uint8Array): string {
    const ref = this.refFor(bytes);
    const final = this.#pathOf(ref);
    if (existsSync(final)) return ref;
    const tmp = path.join(this.dir, `.tmp-${randomBytes(8).toString("hex")}`);
    const fd = openSync(tmp, "wx", 0o600);
    try {
      const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(this.#encKey);
      writeSync(fd, MAGIC);
      writeSync(fd, header);
      const ad = new TextEncoder().encode(ref);
      for (let off = 0; off === 0 || off < bytes.length; off += CHUNK) {
        const last = off + CHUNK >= bytes.length;
        const tag = last ? sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL : sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
        const c = sodium.crypto_secretstream_xchacha20poly1305_push(state, bytes.subarray(off, off + CHUNK), ad, tag);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(c.length);
        writeSync(fd, len);
        writeSync(fd, c);
        if (last) break;
      }
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
      throw err;
    }
    closeSync(fd);
    renameSync(tmp, final);
    this.#fsyncDir();
    return ref;
  }

  #fsyncDir(): void {
    const dfd = openSync(this.dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }

  /** Decrypt the image stored under `ref`. Throws {@link ImageStoreError} if missing or tampered. */
  get(ref: string): Uint8Array {
    const file = this.#pathOf(ref);
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (err) {
      throw new ImageStoreError("IMAGE_MISSING", "The stored image for this receipt is missing; run the receipts check (reconcile) and re-attach the photo.", { cause: err });
    }
    const bad = (why: string): ImageStoreError =>
      new ImageStoreError("IMAGE_TAMPERED", `The stored image for this receipt cannot be decrypted (${why}); it was damaged or the key is wrong.`);
    if (data.length < MAGIC.length + 24 || !Buffer.from(MAGIC).equals(data.subarray(0, MAGIC.length))) throw bad("bad header");
    const header = data.subarray(MAGIC.length, MAGIC.length + 24);
    const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, this.#encKey);
    const ad = new TextEncoder().encode(ref);
    const parts: Uint8Array[] = [];
    let off = MAGIC.length + 24;
    let finished = false;
    while (off < data.length) {
      if (finished) throw bad("data after the end");
      if (off + 4 > data.length) throw bad("truncated");
      const len = data.readUInt32BE(off);
      off += 4;
      if (off + len > data.length) throw bad("truncated");
      let res: { message: Uint8Array; tag: number } | false;
      try {
        res = sodium.crypto_secretstream_xchacha20poly1305_pull(state, data.subarray(off, off + len), ad);
      } catch (err) {
        throw new ImageStoreError("IMAGE_TAMPERED", "The stored image for this receipt cannot be decrypted; it was damaged or the key is wrong.", { cause: err });
      }
      if (!res) throw bad("authentication failed");
      parts.push(res.message);
      off += len;
      if (res.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL) finished = true;
    }
    if (!finished) throw bad("truncated");
    return Buffer.concat(parts);
  }

  /** Delete the image for `ref` (no error if absent). */
  remove(ref: string): void {
    try {
      unlinkSync(this.#pathOf(ref));
      this.#fsyncDir();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  /** All refs on disk. */
  listRefs(): string[] {
    return readdirSync(this.dir)
      .filter((f) => /^[0-9a-f]{64}\.img$/.test(f))
      .map((f) => f.slice(0, 64));
  }

  /** Remove temp files left by a crash mid-write (older than `olderThanMs`, default 0). */
  removeStaleTemps(olderThanMs = 0): number {
    let n = 0;
    for (const f of readdirSync(this.dir)) {
      if (!f.startsWith(".tmp-")) continue;
      const p = path.join(this.dir, f);
      if (Date.now() - statSync(p).mtimeMs >= olderThanMs) {
        unlinkSync(p);
        n++;
      }
    }
    return n;
  }
}
