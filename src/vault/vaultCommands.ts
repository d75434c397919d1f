import { access, readFile } from "node:fs/promises";
import { VaultError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";
import type { MasterKeySource } from "./masterKey.ts";
import { KeyFileMasterKey } from "./masterKeyFile.ts";
import { KeychainMasterKey, NO_KEYCHAIN_MESSAGE, type KeychainBackend } from "./masterKeyKeychain.ts";
import { PassphraseMasterKey, type Argon2Cost } from "./masterKeyPassphrase.ts";
import { parseVaultFile } from "./vaultFile.ts";
import { Vault, type VaultEntryInfo } from "./vault.ts";


const log = getLogger("vault");

/** Where the master key may come from; see {@link openVaultFromSources}. */
export interface VaultSourceOptions {
  /** Vault file path, e.g. `<home>/vault.json`. */
  path: string;
  /** Allow the OS keychain (preferred when available). */
  keychain: boolean;
  /** Passphrase given directly. */
  passphrase?: string;
  /** Owner-only file holding the passphrase (HEARTH_VAULT_PASSPHRASE_FILE). */
  passphraseFile?: string;
  /** Owner-only file holding 32 random bytes (HEARTH_VAULT_KEY_FILE). */
  keyFile?: string;
  /** Interactive no-echo prompt for a passphrase (CLI only; see promptHidden). */
  prompt?: () => Promise<string>;
  /** Argon2id cost for new passphrase vaults/rotations; default "moderate". */
  argon2?: Argon2Cost;
  /** Create the vault if the file does not exist (default false). */
  create?: boolean;
  /** Keychain backend override (default: keytar). */
  keychainBackend?: KeychainBackend;
  /** Cancels key derivation. */
  signal?: AbortSignal;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/**
 * Candidate sources in preference order: keychain, passphrase (direct, file, prompt), key file.
 * For an existing vault only sources of the kind recorded in its header are useful.
 */
function candidates(o: Omit<VaultSourceOptions, "path">): MasterKeySource[] {
  const out: MasterKeySource[] = [];
  if (o.keychain) out.push(new KeychainMasterKey(o.keychainBackend ? { backend: o.keychainBackend } : {}));
  if (o.passphrase !== undefined) out.push(new PassphraseMasterKey({ passphrase: o.passphrase, cost: o.argon2 }));
  else if (o.passphraseFile !== undefined) out.push(new PassphraseMasterKey({ passphraseFile: o.passphraseFile, cost: o.argon2 }));
  if (o.keyFile !== undefined) out.push(new KeyFileMasterKey(o.keyFile));
  return out;
}

/**
 * Open (or, with `create`, create) the vault, choosing the master-key source in preference
 * order: OS keychain → passphrase (given, file, then interactive prompt) → key file. For an
 * existing vault the kind recorded in its header decides; the error names the option to set.
 * When creating and the keychain is unavailable, falls back to the next configured source, or
 * fails with the "no Secret Service" message naming HEARTH_VAULT_PASSPHRASE_FILE and
 * HEARTH_VAULT_KEY_FILE.
 */
export async function openVaultFromSources(o: VaultSourceOptions): Promise<Vault> {
  const opts = o.signal === undefined ? {} : { signal: o.signal };
  if (await exists(o.path)) {
    const header = parseVaultFile(await readFile(o.path, "utf8"), o.path).key;
    let source = candidates(o).find((c) => c.kind === header.kind);
    if (source === undefined && header.kind === "passphrase" && o.prompt !== undefined) {
      source = new PassphraseMasterKey({ passphrase: await o.prompt(), cost: o.argon2 });
    }
    if (source === undefined) {
      const need = {
        keychain: "the OS keychain: enable the keychain option (and run where the Secret Service is available)",
        passphrase: "a passphrase: set HEARTH_VAULT_PASSPHRASE_FILE to a chmod 600 file holding it, or run the command in a terminal to be asked",
        keyfile: "a key file: set HEARTH_VAULT_KEY_FILE to its path",
      }[header.kind];
      throw new VaultError("VAULT_NO_SOURCE", `The vault ${o.path} is protected by ${need}.`);
    }
    return Vault.open(o.path, source, opts);
  }
  if (o.create !== true) {
    throw new VaultError("VAULT_NOT_FOUND", `There is no vault at ${o.path}. Add a first secret with \`hearth vault add NAME\` to create it.`);
  }
  const list = candidates(o);
  if (o.passphrase === undefined && o.passphraseFile === undefined && o.prompt !== undefined) {
    // Prompting comes after the keychain but before a key file: insert it in its place.
    const idx = list.findIndex((c) => c.kind === "keyfile");
    const lazy = lazyPromptSource(o.prompt, o.argon2);
    if (idx === -1) list.push(lazy);
    else list.splice(idx, 0, lazy);
  }
  if (list.length === 0) {
    throw new VaultError("VAULT_NO_SOURCE", `No way to protect the new vault was configured. ${NO_KEYCHAIN_MESSAGE}`);
  }
  let lastErr: unknown;
  for (const source of list) {
    try {
      if (source instanceof KeychainMasterKey) await source.probe();
      return await Vault.create(o.path, source, opts);
    } catch (err) {
      if (err instanceof VaultError && err.code === "VAULT_NO_KEYCHAIN") {
        log.warn("no OS keychain available; trying the next master-key source");
        lastErr = err;
        continue;
      }
      throw err;
    }
  }
  throw lastErr;
}

function lazyPromptSource(prompt: () => Promise<string>, cost: Argon2Cost | undefined): MasterKeySource {
  let inner: PassphraseMasterKey | undefined;
  const get = async (): Promise<PassphraseMasterKey> => (inner ??= new PassphraseMasterKey({ passphrase: await prompt(), cost }));
  return {
    kind: "passphrase",
    description: "passphrase",
    enroll: async (id, signal) => (await get()).enroll(id, signal),
    unlock: async (id, header, signal) => (await get()).unlock(id, header, signal),
  };
}

/** Build the master-key source for `rotate-key` from explicit options (first one given wins, in preference order). */
export function masterKeySourceFrom(o: Omit<VaultSourceOptions, "path">): MasterKeySource {
  const first = candidates(o)[0];
  if (first === undefined) {
    throw new VaultError("VAULT_NO_SOURCE", "Say which new master key to use: the keychain, a passphrase (file), or a key file.");
  }
  return first;
}

/** Read all of stdin as UTF-8, dropping one trailing newline (for `vault add NAME < file`). */
export async function readStdin(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  const buf = Buffer.concat(chunks);
  const text = buf.toString("utf8").replace(/\r?\n$/, "");
  buf.fill(0);
  return text;
}

/** `hearth vault add NAME [--allow-host H …]`: value from `value` or, if absent, `readValue()`. */
export async function vaultAddCommand(
  vault: Vault,
  name: string,
  options: { value?: string; readValue?: () => Promise<string>; allowHosts?: string[]; caseInsensitive?: boolean },
): Promise<{ name: string; handle: string; allowHosts: string[] }> {
  const value = options.value ?? (options.readValue ? await options.readValue() : undefined);
  if (value === undefined) throw new VaultError("VAULT_NO_VALUE", `No value given for "${name}". Pipe it on stdin or type it when asked.`);
  await vault.add(name, value, { allowHosts: options.allowHosts ?? [], caseInsensitive: options.caseInsensitive ?? false });
  return { name, handle: `{{secret:${name}}}`, allowHosts: vault.allowedHosts(name) };
}

/** `hearth vault list`: metadata only (JSON-able), never values. */
export function vaultListCommand(vault: Vault): VaultEntryInfo[] {
  return vault.list();
}

/** Human table for `vault list` (the CLI prints this unless `--json`). */
export function formatVaultList(entries: VaultEntryInfo[]): string {
  if (entries.length === 0) return "The vault is empty.";
  return entries
    .map((e) => `${e.damaged ? "DAMAGED " : ""}${e.handle}  hosts: ${e.allowHosts.join(", ") || "(none)"}  updated: ${e.updatedAt || "?"}`)
    .join("\n");
}

/** `hearth vault rm NAME`. */
export async function vaultRemoveCommand(vault: Vault, name: string): Promise<{ removed: boolean }> {
  const removed = await vault.remove(name);
  if (!removed) throw new VaultError("VAULT_NO_SUCH_SECRET", `There is no secret named "${name.slice(0, 80)}" in the vault.`);
  return { removed };
}

/** `hearth vault rotate-key [--reencrypt]`: protect the vault with `newSource`. */
export async function vaultRotateKeyCommand(vault: Vault, newSource: MasterKeySource, options: { reencrypt?: boolean } = {}): Promise<{ source: string; reencrypted: boolean }> {
  await vault.rotateKey(newSource, { reencrypt: options.reencrypt ?? false });
  return { source: newSource.kind, reencrypted: options.reencrypt ?? false };
}
