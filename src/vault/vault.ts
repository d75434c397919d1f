import { randomUUID } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { VaultError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";
import { writeFileAtomic } from "./atomicWrite.ts";
import { acquireFileLock } from "./fileLock.ts";
import { formatHandle, isValidSecretName } from "./handles.ts";
import { KEY_BYTES, type KeyHeader, type MasterKeySource } from "./masterKey.ts";
import { KeychainMasterKey } from "./masterKeyKeychain.ts";
import { MIN_SECRET_LENGTH, Redactor, isIgnorable } from "./redactor.ts";
import { getSodium, wipe, type Sodium } from "./sodium.ts";
import {
  VAULT_FORMAT,
  VAULT_FORMAT_VERSION,
  asEntry,
  dataKeyAssociatedData,
  entryAssociatedData,
  parseVaultFile,
  serializeVaultFile,
  type VaultFileData,
  type VaultFileEntry,
} from "./vaultFile.ts";

const log = getLogger("vault");

/** What `list()` reports about a secret — never its value. */
export interface VaultEntryInfo {
  name: string;
  /** `{{secret:name}}`. */
  handle: string;
  allowHosts: string[];
  createdAt: string;
  updatedAt: string;
  caseInsensitive: boolean;
  /** True if the entry failed to decrypt or is malformed (tampered or truncated). */
  damaged: boolean;
}

/** Options for {@link Vault.add}. */
export interface AddSecretOptions {
  /** Hosts (`host` or `host:port`) the value may be sent to by tools. Default: none. */
  allowHosts?: readonly string[];
  /** Redact upper/lower-case variants of the value too. Default false. */
  caseInsensitive?: boolean;
}

/** Options for {@link Vault.create} / {@link Vault.open}. */
export interface VaultOpenOptions {
  /** Cancels key derivation and lock waiting. */
  signal?: AbortSignal;
  /** How long to wait for another process's write lock (ms); default 15 000. */
  lockTimeoutMs?: number;
}

/** Options for {@link Vault.rotateKey}. */
export interface RotateKeyOptions {
  /** Also replace the data key and re-encrypt every entry (default: only re-wrap the data key). */
  reencrypt?: boolean;
  /** Cancels key derivation. */
  signal?: AbortSignal;
}

interface Unlocked {
  value: string;
  info: VaultEntryInfo;
}

/**
 * Normalise an allowlist entry to `host` or `host:port` (lower-case, no trailing dot, IPv6 in
 * brackets). Throws a VaultError on anything that is not a plain host.
 */
export function normalizeAllowedHost(entry: string): string {
  const trimmed = entry.trim().toLowerCase();
  let url: URL;
  try {
    if (trimmed === "" || /[/?#@\s*]/.test(trimmed)) throw new Error("bad");
    url = new URL(`http://${trimmed}`);
  } catch (err) {
    throw new VaultError("VAULT_BAD_HOST", `"${entry}" is not a host name. Give a host like "homeassistant.local" or "api.example.com:8443", without scheme or path.`, { cause: err });
  }
  const host = url.hostname.replace(/\.$/, "");
  // URL drops the default port 80 for http:; keep what the user typed.
  const m = /:(\d{1,5})$/.exec(trimmed);
  return m ? `${host}:${Number(m[1])}` : host;
}

function b64(sodium: Sodium, bytes: Uint8Array): string {
  return sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
}
function unb64(sodium: Sodium, text: string): Uint8Array {
  return sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
}

function damagedError(name: string, path: string): VaultError {
  return new VaultError(
    "VAULT_ENTRY_DAMAGED",
    `The secret "${name}" in ${path} is damaged (tampered with or truncated) and cannot be read. Other secrets are unaffected. Remove it with \`hearth vault rm ${name}\` and add it again.`,
  );
}

/**
 * The encrypted secrets vault: one JSON file; each value sealed with XChaCha20-Poly1305 (IETF)
 * under a random data key, with associated data binding it to its name, version and metadata;
 * the data key wrapped by the master key (keychain, Argon2id passphrase or key file).
 *
 * While open, values live in process memory (needed to redact them); keys are wiped on
 * {@link dispose}. Every write happens under a cross-process lock and re-reads the file first, so
 * concurrent writers (bot + CLI) lose nothing; writes are atomic.
 */
export class Vault {
  /** Vault file path. */
  readonly path: string;
  #sodium: Sodium;
  #id: string;
  #keyHeader: KeyHeader;
  #masterKey: Uint8Array;
  #dataKey: Uint8Array;
  #wrapped: VaultFileData["dataKey"];
  #entries = new Map<string, Unlocked>();
  #damaged = new Map<string, VaultEntryInfo>();
  #redactor: Redactor | undefined;
  #listeners = new Set<() => void>();
  #lockTimeoutMs: number;
  #disposed = false;

  private constructor(path: string, sodium: Sodium, file: VaultFileData, masterKey: Uint8Array, dataKey: Uint8Array, lockTimeoutMs: number) {
    this.path = path;
    this.#sodium = sodium;
    this.#id = file.id;
    this.#keyHeader = file.key;
    this.#masterKey = masterKey;
    this.#dataKey = dataKey;
    this.#wrapped = file.dataKey;
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#load(file);
  }

  /** Create a new, empty vault at `path` protected by `source`. Fails if the file exists. */
  static async create(path: string, source: MasterKeySource, options: VaultOpenOptions = {}): Promise<Vault> {
    const sodium = await getSodium();
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    if (await readFile(path).then(() => true, () => false)) {
      // Checked before enrolling so no keychain entry or key file is made for nothing.
      throw new VaultError("VAULT_EXISTS", `A vault already exists at ${path}. Open it instead, or move it away to start over.`);
    }
    const id = randomUUID();
    const { key: masterKey, header } = await source.enroll(id, options.signal);
    const dataKey = sodium.randombytes_buf(KEY_BYTES);
    const wrapped = wrapDataKey(sodium, id, 1, header, dataKey, masterKey);
    const file: VaultFileData = { format: VAULT_FORMAT, formatVersion: VAULT_FORMAT_VERSION, id, key: header, dataKey: wrapped, entries: {} };
    const lock = await acquireFileLock(`${path}.lock`, { timeoutMs: options.lockTimeoutMs, signal: options.signal });
    try {
      if (await readFile(path).then(() => true, () => false)) {
        wipe(sodium, masterKey);
        wipe(sodium, dataKey);
        throw new VaultError("VAULT_EXISTS", `A vault already exists at ${path}. Open it instead, or move it away to start over.`);
      }
      await writeFileAtomic(path, serializeVaultFile(file));
    } finally {
      await lock.release();
    }
    log.info({ path, source: source.kind }, "vault created");
    return new Vault(path, sodium, file, masterKey, dataKey, options.lockTimeoutMs ?? 15_000);
  }

  /** Open an existing vault. A wrong key is a VaultError (`VAULT_WRONG_KEY`); nothing is written. */
  static async open(path: string, source: MasterKeySource, options: VaultOpenOptions = {}): Promise<Vault> {
    const sodium = await getSodium();
    const file = await readVaultFile(path);
    const masterKey = await source.unlock(file.id, file.key, options.signal);
    let dataKey: Uint8Array;
    try {
      dataKey = unwrapDataKey(sodium, file, masterKey);
    } catch (err) {
      wipe(sodium, masterKey);
      throw new VaultError(
        "VAULT_WRONG_KEY",
        `Cannot unlock the vault ${path}: the ${source.description} does not open it (wrong passphrase or key, or the file's key header was altered). Nothing was changed.`,
        { cause: err },
      );
    }
    return new Vault(path, sodium, file, masterKey, dataKey, options.lockTimeoutMs ?? 15_000);
  }

  /** Random id of this vault (keychain account name). */
  get id(): string {
    return this.#id;
  }

  /** Kind of master key protecting the vault. */
  get keyKind(): KeyHeader["kind"] {
    return this.#keyHeader.kind;
  }

  #check(): void {
    if (this.#disposed) throw new VaultError("VAULT_LOCKED", "The vault is locked (closed). Restart Hearth or reopen the vault.");
  }

  /** Decrypt every entry of `file` into memory; damaged ones are recorded by name. */
  #load(file: VaultFileData): void {
    const entries = new Map<string, Unlocked>();
    const damaged = new Map<string, VaultEntryInfo>();
    for (const [name, raw] of Object.entries(file.entries)) {
      const e = asEntry(raw);
      const value = e !== undefined && isValidSecretName(name) ? this.#open(name, e) : undefined;
      const info: VaultEntryInfo = {
        name,
        handle: isValidSecretName(name) ? formatHandle(name) : name,
        allowHosts: e?.allowHosts ?? [],
        createdAt: e?.createdAt ?? "",
        updatedAt: e?.updatedAt ?? "",
        caseInsensitive: e?.caseInsensitive ?? false,
        damaged: value === undefined,
      };
      if (value === undefined) damaged.set(name, info);
      else entries.set(name, { value, info });
    }
    if (damaged.size > 0) log.warn({ names: [...damaged.keys()] }, "vault entries damaged");
    this.#entries = entries;
    this.#damaged = damaged;
    this.#redactor = undefined;
  }

  #open(name: string, e: VaultFileEntry): string | undefined {
    const s = this.#sodium;
    try {
      const plain = s.crypto_aead_xchacha20poly1305_ietf_decrypt(
        null,
        unb64(s, e.ciphertext),
        entryAssociatedData(this.#id, this.#wrapped.generation, name, e),
        unb64(s, e.nonce),
        this.#dataKey,
      );
      const value = new TextDecoder("utf-8", { fatal: true }).decode(plain);
      wipe(s, plain);
      return value;
    } catch {
      return undefined;
    }
  }

  #seal(name: string, value: string, meta: Omit<VaultFileEntry, "nonce" | "ciphertext">, dataKey: Uint8Array, generation: number): VaultFileEntry {
    const s = this.#sodium;
    const nonce = s.randombytes_buf(s.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    const plain = new TextEncoder().encode(value);
    const ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, entryAssociatedData(this.#id, generation, name, meta), null, nonce, dataKey);
    wipe(s, plain);
    return { ...meta, nonce: b64(s, nonce), ciphertext: b64(s, ct) };
  }

  /**
   * Run a change under the cross-process lock: re-read the file (picking up other writers'
   * changes), apply `change` to the fresh data, write atomically, then adopt the result.
   */
  async #mutate(change: (file: VaultFileData) => void): Promise<void> {
    this.#check();
    const lock = await acquireFileLock(`${this.path}.lock`, { timeoutMs: this.#lockTimeoutMs });
    try {
      const before = await readFile(this.path, "utf8").catch((err: unknown) => {
        throw new VaultError("VAULT_UNREADABLE", `Cannot read the vault file ${this.path}. Was it moved or deleted?`, { cause: err });
      });
      const file = parseVaultFile(before, this.path);
      this.#adoptKeys(file);
      change(file);
      // Keep the previous version as a backup; written atomically too so it is never half a file.
      await writeFileAtomic(`${this.path}.bak`, before);
      await writeFileAtomic(this.path, serializeVaultFile(file));
      this.#keyHeader = file.key;
      this.#wrapped = file.dataKey;
      this.#load(file);
    } finally {
      await lock.release();
    }
    for (const l of this.#listeners) {
      try {
        l();
      } catch (err) {
        log.error({ err }, "vault change listener failed");
      }
    }
  }

  /** If another process re-wrapped or replaced the data key, follow it (or fail clearly). */
  #adoptKeys(file: VaultFileData): void {
    if (file.id !== this.#id) throw new VaultError("VAULT_REPLACED", `The vault file ${this.path} was replaced by a different vault. Restart Hearth.`);
    if (file.dataKey.ciphertext === this.#wrapped.ciphertext && file.dataKey.nonce === this.#wrapped.nonce) return;
    let dk: Uint8Array;
    try {
      dk = unwrapDataKey(this.#sodium, file, this.#masterKey);
    } catch (err) {
      throw new VaultError("VAULT_REKEYED", `The vault's master key was changed by another process. Reopen the vault with the new key.`, { cause: err });
    }
    wipe(this.#sodium, this.#dataKey);
    this.#dataKey = dk;
    this.#keyHeader = file.key;
    this.#wrapped = file.dataKey;
  }

  /** Re-read the file (e.g. after the CLI changed it while the bot runs). */
  async reload(): Promise<void> {
    this.#check();
    const file = await readVaultFile(this.path);
    this.#adoptKeys(file);
    this.#load(file);
  }

  /**
   * Store (or overwrite) a secret. Name: `[a-z0-9_]{1,64}`. Value: at least
   * {@link MIN_SECRET_LENGTH} non-whitespace characters.
   */
  async add(name: string, value: string, options: AddSecretOptions = {}): Promise<void> {
    if (!isValidSecretName(name)) {
      throw new VaultError("VAULT_BAD_NAME", `"${name.slice(0, 80)}" is not a valid secret name. Use 1–64 characters from a–z, 0–9 and _ (e.g. ha_token).`);
    }
    let meaningful = 0;
    for (let i = 0; i < value.length; i++) if (!isIgnorable(value.charCodeAt(i))) meaningful++;
    if (meaningful < MIN_SECRET_LENGTH) {
      throw new VaultError("VAULT_VALUE_TOO_SHORT", `The value for "${name}" is too short: secrets need at least ${MIN_SECRET_LENGTH} non-space characters to be reliably hidden from the model and logs.`);
    }
    const allowHosts = [...new Set((options.allowHosts ?? []).map(normalizeAllowedHost))].sort();
    const caseInsensitive = options.caseInsensitive ?? false;
    await this.#mutate((file) => {
      const prev = asEntry(file.entries[name]);
      const now = new Date().toISOString();
      const meta = { version: (prev?.version ?? 0) + 1, allowHosts, createdAt: prev?.createdAt ?? now, updatedAt: now, caseInsensitive };
      file.entries[name] = this.#seal(name, value, meta, this.#dataKey, file.dataKey.generation);
    });
    log.info({ name, allowHosts }, "secret stored");
  }

  /** Remove a secret (also a damaged one). Returns false if there was none. */
  async remove(name: string): Promise<boolean> {
    let existed = false;
    await this.#mutate((file) => {
      existed = Object.hasOwn(file.entries, name);
      delete file.entries[name];
    });
    if (existed) log.info({ name }, "secret removed");
    return existed;
  }

  /** The value of a secret. Throws a VaultError naming it if unknown or damaged. */
  get(name: string): string {
    this.#check();
    const e = this.#entries.get(name);
    if (e !== undefined) return e.value;
    if (this.#damaged.has(name)) throw damagedError(name, this.path);
    throw new VaultError("VAULT_NO_SUCH_SECRET", `There is no secret named "${name.slice(0, 80)}" in the vault. See \`hearth vault list\`.`);
  }

  /** True if a readable secret with this name exists. */
  has(name: string): boolean {
    this.#check();
    return this.#entries.has(name);
  }

  /** Hosts the secret may be sent to (normalised `host` / `host:port`). */
  allowedHosts(name: string): string[] {
    this.#check();
    const e = this.#entries.get(name);
    if (e === undefined) this.get(name); // throws the right error
    return [...(e as Unlocked).info.allowHosts];
  }

  /** Metadata of every secret, sorted by name; damaged ones are included with `damaged: true`. */
  list(): VaultEntryInfo[] {
    this.#check();
    const all = [...[...this.#entries.values()].map((e) => e.info), ...this.#damaged.values()];
    return all.map((i) => ({ ...i, allowHosts: [...i.allowHosts] })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Redactor over the current secrets (rebuilt lazily after changes). */
  redactor(): Redactor {
    this.#check();
    this.#redactor ??= new Redactor([...this.#entries].map(([name, e]) => ({ name, value: e.value, caseInsensitive: e.info.caseInsensitive })));
    return this.#redactor;
  }

  /** Call `listener` after every change made through this instance. Returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Protect the vault with a new master key. By default only the data key is re-wrapped (fast;
   * entries untouched). With `reencrypt`, a new data key is generated and every readable entry
   * re-sealed (damaged entries are kept as they are). The `.bak` copy is replaced too so the old
   * key no longer opens anything Hearth keeps.
   */
  async rotateKey(newSource: MasterKeySource, options: RotateKeyOptions = {}): Promise<void> {
    this.#check();
    const s = this.#sodium;
    const oldHeader = this.#keyHeader;
    const oldMaster = this.#masterKey;
    const oldDataKey = this.#dataKey;
    const enrolled = await newSource.enroll(this.#id, options.signal);
    let newDataKey: Uint8Array | undefined;
    try {
      await this.#mutate((file) => {
        let generation = file.dataKey.generation;
        let dataKey = this.#dataKey;
        if (options.reencrypt === true) {
          newDataKey = s.randombytes_buf(KEY_BYTES);
          dataKey = newDataKey;
          generation++;
          for (const [name, raw] of Object.entries(file.entries)) {
            const e = asEntry(raw);
            const cur = this.#entries.get(name);
            if (e === undefined || cur === undefined || cur.info.damaged) continue;
            file.entries[name] = this.#seal(name, cur.value, { ...e, version: e.version }, dataKey, generation);
          }
        }
        file.key = enrolled.header;
        file.dataKey = wrapDataKey(s, this.#id, generation, enrolled.header, dataKey, enrolled.key);
        if (newDataKey !== undefined) {
          // #load (run by #mutate after writing) must decrypt with the new key.
          this.#dataKey = newDataKey;
        }
      });
    } catch (err) {
      if (newDataKey !== undefined && this.#dataKey === newDataKey) {
        // The write failed after switching keys in memory: nothing on disk changed, so switch back.
        this.#dataKey = oldDataKey;
        wipe(s, newDataKey);
      }
      if (enrolled.header.kind === "keychain" && oldHeader.kind === "keychain" && newSource instanceof KeychainMasterKey) {
        // The keychain entry was overwritten by enroll; restore it so the unchanged file still opens.
        await newSource.store(oldHeader.account, oldMaster).catch(() => undefined);
      }
      wipe(s, enrolled.key);
      throw err;
    }
    await writeFileAtomic(`${this.path}.bak`, await readFile(this.path));
    if (newDataKey !== undefined) {
      wipe(s, oldDataKey);
      log.info("vault data key replaced and entries re-encrypted");
    }
    this.#masterKey = enrolled.key;
    wipe(s, oldMaster);
    if (oldHeader.kind === "keychain" && enrolled.header.kind !== "keychain") {
      await new KeychainMasterKey({ service: oldHeader.service }).forget(oldHeader.account).catch((err: unknown) => {
        log.warn({ err }, "could not delete the old vault key from the OS keychain");
      });
    }
    log.info({ source: newSource.kind }, "vault master key rotated");
  }

  /** Lock the vault: wipe keys and forget values. Further calls throw `VAULT_LOCKED`. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    wipe(this.#sodium, this.#masterKey);
    wipe(this.#sodium, this.#dataKey);
    this.#entries.clear();
    this.#damaged.clear();
    this.#redactor = undefined;
    this.#listeners.clear();
  }
}

async function readVaultFile(path: string): Promise<VaultFileData> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VaultError(
      code === "ENOENT" ? "VAULT_NOT_FOUND" : "VAULT_UNREADABLE",
      code === "ENOENT" ? `There is no vault at ${path}. Create one first (\`hearth vault add NAME\` creates it).` : `Cannot read the vault file ${path} (${code ?? "error"}). Check its permissions.`,
      { cause: err },
    );
  }
  return parseVaultFile(text, path);
}

function wrapDataKey(s: Sodium, id: string, generation: number, header: KeyHeader, dataKey: Uint8Array, masterKey: Uint8Array): VaultFileData["dataKey"] {
  const nonce = s.randombytes_buf(s.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  const ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(dataKey, dataKeyAssociatedData(id, generation, header), null, nonce, masterKey);
  return { generation, nonce: b64(s, nonce), ciphertext: b64(s, ct) };
}

function unwrapDataKey(s: Sodium, file: VaultFileData, masterKey: Uint8Array): Uint8Array {
  const dk = s.crypto_aead_xchacha20poly1305_ietf_decrypt(
    null,
    unb64(s, file.dataKey.ciphertext),
    dataKeyAssociatedData(file.id, file.dataKey.generation, file.key),
    unb64(s, file.dataKey.nonce),
    masterKey,
  );
  if (dk.length !== KEY_BYTES) throw new Error("data key has wrong length");
  return dk;
}
