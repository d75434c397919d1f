import { VaultError } from "../core/errors.ts";
import type { KeyHeader } from "./masterKey.ts";

/** Value of the `format` field that identifies a Hearth vault file. */
export const VAULT_FORMAT = "hearth-vault";
/** Current on-disk format version. */
export const VAULT_FORMAT_VERSION = 1;

/** The wrapped (encrypted) data key. */
export interface WrappedDataKey {
  /** Bumped whenever the data key itself is replaced; bound into every entry's associated data. */
  generation: number;
  /** Base64 24-byte XChaCha20 nonce. */
  nonce: string;
  /** Base64 AEAD ciphertext of the 32-byte data key under the master key. */
  ciphertext: string;
}

/** One sealed secret as stored. Everything except the value is plaintext but authenticated. */
export interface VaultFileEntry {
  /** Incremented on every overwrite of this name. */
  version: number;
  /** Base64 24-byte nonce. */
  nonce: string;
  /** Base64 AEAD ciphertext of the UTF-8 value. */
  ciphertext: string;
  /** Hosts the value may be sent to (`host` or `host:port`), lower-case. */
  allowHosts: string[];
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601. */
  updatedAt: string;
  /** Redact case variants too (for case-insensitive secrets such as some PINs or hex keys). */
  caseInsensitive: boolean;
}

/** The whole vault file. `entries` stay `unknown` until validated so a damaged one is kept as-is. */
export interface VaultFileData {
  format: typeof VAULT_FORMAT;
  formatVersion: number;
  /** Random vault id (also the keychain account). */
  id: string;
  /** How to obtain the master key again. */
  key: KeyHeader;
  dataKey: WrappedDataKey;
  entries: Record<string, unknown>;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function corrupt(path: string, what: string, cause?: unknown): VaultError {
  return new VaultError(
    "VAULT_CORRUPT",
    `The vault file ${path} is damaged (${what}). Nothing was changed. Restore it from ${path}.bak or your backups.`,
    cause === undefined ? undefined : { cause },
  );
}

function validKeyHeader(k: unknown): k is KeyHeader {
  if (!isObj(k)) return false;
  if (k.kind === "keychain") return typeof k.service === "string" && typeof k.account === "string";
  if (k.kind === "passphrase") {
    return k.alg === "argon2id13" && typeof k.salt === "string" && Number.isInteger(k.opslimit) && Number.isInteger(k.memlimit);
  }
  return k.kind === "keyfile";
}

/** Parse and structurally check a vault file's text (not its cryptography). */
export function parseVaultFile(text: string, path: string): VaultFileData {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw corrupt(path, text.length === 0 ? "empty" : "truncated or not JSON", err);
  }
  if (!isObj(data) || data.format !== VAULT_FORMAT) throw corrupt(path, "not a Hearth vault file");
  if (data.formatVersion !== VAULT_FORMAT_VERSION) {
    throw new VaultError("VAULT_VERSION", `The vault file ${path} has format version ${String(data.formatVersion)}; this Hearth understands ${VAULT_FORMAT_VERSION}. Upgrade Hearth.`);
  }
  if (typeof data.id !== "string" || !/^[a-z0-9-]{8,64}$/.test(data.id)) throw corrupt(path, "bad vault id");
  if (!validKeyHeader(data.key)) throw corrupt(path, "bad key header");
  const dk = data.dataKey;
  if (!isObj(dk) || !Number.isInteger(dk.generation) || typeof dk.nonce !== "string" || typeof dk.ciphertext !== "string") {
    throw corrupt(path, "bad data key");
  }
  if (!isObj(data.entries)) throw corrupt(path, "bad entry table");
  return data as unknown as VaultFileData;
}

/** Structurally validate one entry; `undefined` if it is malformed (reported as damaged by name). */
export function asEntry(raw: unknown): VaultFileEntry | undefined {
  if (!isObj(raw)) return undefined;
  const { version, nonce, ciphertext, allowHosts, createdAt, updatedAt, caseInsensitive } = raw;
  if (!Number.isInteger(version) || typeof nonce !== "string" || typeof ciphertext !== "string") return undefined;
  if (!Array.isArray(allowHosts) || !allowHosts.every((h) => typeof h === "string")) return undefined;
  if (typeof createdAt !== "string" || typeof updatedAt !== "string" || typeof caseInsensitive !== "boolean") return undefined;
  return { version: version as number, nonce, ciphertext, allowHosts: allowHosts as string[], createdAt, updatedAt, caseInsensitive };
}

/**
 * Associated data binding a sealed value to its vault, data-key generation, name, version and
 * metadata: moving a ciphertext to another name, or widening its host allowlist by editing the
 * file, makes decryption fail instead of leaking the value to a new host.
 */
export function entryAssociatedData(vaultId: string, generation: number, name: string, e: Omit<VaultFileEntry, "nonce" | "ciphertext">): string {
  return JSON.stringify(["hearth-vault-entry/v1", vaultId, generation, name, e.version, e.allowHosts, e.caseInsensitive, e.createdAt, e.updatedAt]);
}

/** Associated data for the wrapped data key. */
export function dataKeyAssociatedData(vaultId: string, generation: number, key: KeyHeader): string {
  return JSON.stringify(["hearth-vault-datakey/v1", vaultId, generation, key]);
}

/** Canonical file text (stable key order within an object is JSON.stringify's insertion order). */
export function serializeVaultFile(data: VaultFileData): string {
  return JSON.stringify(data, null, 1) + "\n";
}
