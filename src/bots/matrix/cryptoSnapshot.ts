import sodium from "libsodium-wrappers";
import { existsSync, mkdirSync, openSync, fsyncSync, closeSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { deserialize, serialize } from "node:v8";
import { VaultError } from "../../core/errors.ts";
import { getLogger } from "../../core/logger.ts";

/**
 * Persistence for the Rust crypto store in Node.
 *
 * matrix-js-sdk's Rust crypto can only persist into IndexedDB, which Node lacks. We give it
 * `fake-indexeddb` (in memory) and make that durable ourselves: every database whose name starts
 * with the transport's prefix is copied (schema + every record, structured-clone serialised) into
 * one file, encrypted with libsodium `crypto_secretbox` under a key derived from the pickle key,
 * written atomically (temp file, fsync, rename). On start the file is loaded back into
 * fake-indexeddb before `initRustCrypto` opens it. The records are additionally encrypted by the
 * Rust store itself (`storageKey`), so the file is protected twice.
 *
 * Snapshots are taken when a read-write transaction touched our databases (dirty flag) — the
 * transport calls {@link CryptoSnapshot.saveIfDirty} after every processed /sync response,
 * *before* the next /sync request acknowledges to-device messages, so room keys received are on
 * disk before the server forgets them.
 */

const MAGIC = Buffer.from("HEARTH-MXCRYPTO1");

// Minimal IndexedDB typings for what this file uses (the project compiles without the DOM lib).
type IdbKey = unknown;
interface IdbRequest<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}
interface IdbIndex {
  readonly name: string;
  readonly keyPath: string | string[];
  readonly unique: boolean;
  readonly multiEntry: boolean;
}
interface IdbObjectStore {
  readonly keyPath: string | string[] | null;
  readonly autoIncrement: boolean;
  readonly indexNames: Iterable<string>;
  index(name: string): IdbIndex;
  getAll(): IdbRequest<unknown[]>;
  getAllKeys(): IdbRequest<IdbKey[]>;
  createIndex(name: string, keyPath: string | string[], options: { unique: boolean; multiEntry: boolean }): IdbIndex;
  put(value: unknown, key?: IdbKey): IdbRequest<IdbKey>;
}
interface IdbTransaction {
  objectStore(name: string): IdbObjectStore;
  readonly error: unknown;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
interface IdbDatabase {
  readonly name: string;
  readonly version: number;
  readonly objectStoreNames: Iterable<string>;
  transaction(names: string | string[], mode?: string): IdbTransaction;
  createObjectStore(name: string, options: { keyPath: string | string[] | null; autoIncrement: boolean }): IdbObjectStore;
  close(): void;
}
interface IdbFactory {
  open(name: string, version?: number): IdbOpenRequest;
  deleteDatabase(name: string): IdbRequest<unknown>;
  databases(): Promise<{ name?: string; version?: number }[]>;
}

function idb(): IdbFactory {
  return (globalThis as unknown as { indexedDB: IdbFactory }).indexedDB;
}
const log = getLogger("matrix");

interface StoreDump {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexes: { name: string; keyPath: string | string[]; unique: boolean; multiEntry: boolean }[];
  records: { key: IdbKey; value: unknown }[];
}
interface DbDump {
  /** Name without the instance prefix. */
  suffix: string;
  version: number;
  stores: StoreDump[];
}

type DirtyListener = () => void;
const dirtyByPrefix = new Map<string, DirtyListener>();
let patched = false;

/** Make sure a global `indexedDB` exists (fake-indexeddb) and watch write transactions. */
export async function ensureIndexedDb(): Promise<void> {
  const g = globalThis as unknown as { indexedDB?: unknown; IDBDatabase: { prototype: IdbDatabase } };
  if (g.indexedDB === undefined) {
    const auto = "fake-indexeddb/auto"; // untyped side-effect module: installs indexedDB globals
    await import(auto);
  }
  if (patched) return;
  patched = true;
  // Hook the prototype of whichever IDBDatabase implementation is installed, so any write by the
  // Rust crypto store marks its owner's snapshot dirty without polling.
  const proto = g.IDBDatabase.prototype;
  const original = proto.transaction;
  proto.transaction = function (this: IdbDatabase, ...args: Parameters<IdbDatabase["transaction"]>) {
    if (args[1] === "readwrite") {
      for (const [prefix, listener] of dirtyByPrefix) if (this.name.startsWith(prefix)) listener();
    }
    return original.apply(this, args);
  } as IdbDatabase["transaction"];
}

function req<T>(r: IdbRequest<T>): Promise<T> {
  return new Promise((res, rej) => {
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
}

function openDb(name: string, version?: number, upgrade?: (db: IdbDatabase) => void): Promise<IdbDatabase> {
  return new Promise((res, rej) => {
    const r = version === undefined ? idb().open(name) : idb().open(name, version);
    r.onupgradeneeded = () => upgrade?.(r.result);
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
    r.onblocked = () => rej(new Error(`IndexedDB open of ${name} blocked`));
  });
}

async function dumpDb(name: string, suffix: string): Promise<DbDump> {
  const db = await openDb(name);
  try {
    const storeNames = Array.from(db.objectStoreNames);
    const stores: StoreDump[] = [];
    if (storeNames.length > 0) {
      // One read-only transaction over all stores: a consistent cut even while the SDK writes.
      const tx = db.transaction(storeNames, "readonly");
      for (const sn of storeNames) {
        const os = tx.objectStore(sn);
        const indexes = Array.from(os.indexNames).map((iname) => {
          const ix = os.index(iname);
          return { name: ix.name, keyPath: ix.keyPath, unique: ix.unique, multiEntry: ix.multiEntry };
        });
        const [keys, values] = await Promise.all([req(os.getAllKeys()), req(os.getAll())]);
        stores.push({
          name: sn,
          keyPath: os.keyPath,
          autoIncrement: os.autoIncrement,
          indexes,
          records: keys.map((key, i) => ({ key, value: values[i] })),
        });
      }
    }
    return { suffix, version: db.version, stores };
  } finally {
    db.close();
  }
}

async function loadDb(name: string, dump: DbDump): Promise<void> {
  const db = await openDb(name, dump.version, (d) => {
    for (const s of dump.stores) {
      const os = d.createObjectStore(s.name, { keyPath: s.keyPath, autoIncrement: s.autoIncrement });
      for (const ix of s.indexes) os.createIndex(ix.name, ix.keyPath, { unique: ix.unique, multiEntry: ix.multiEntry });
    }
  });
  try {
    if (dump.stores.length === 0) return;
    const tx = db.transaction(dump.stores.map((s) => s.name), "readwrite");
    const done = new Promise<void>((res, rej) => {
      tx.oncomplete = () => res();
      tx.onerror = () => rej(tx.error);
      tx.onabort = () => rej(tx.error ?? new Error("restore aborted"));
    });
    for (const s of dump.stores) {
      const os = tx.objectStore(s.name);
      for (const r of s.records) {
        if (s.keyPath === null) os.put(r.value, r.key);
        else os.put(r.value);
      }
    }
    await done;
  } finally {
    db.close();
  }
}

/** Derive independent 32-byte keys for the Rust store and the snapshot file from the pickle key. */
export async function deriveMatrixKeys(pickleKey: string): Promise<{ storeKey: Uint8Array; snapshotKey: Uint8Array }> {
  await sodium.ready;
  const master = sodium.crypto_generichash(32, sodium.from_string(pickleKey), null);
  return {
    storeKey: sodium.crypto_generichash(32, sodium.from_string("hearth matrix rust crypto store"), master),
    snapshotKey: sodium.crypto_generichash(32, sodium.from_string("hearth matrix crypto snapshot"), master),
  };
}

/** Encrypted, durable copy of the fake-indexeddb databases that back one Matrix device. */
export class CryptoSnapshot {
  readonly prefix: string;
  private readonly file: string;
  private readonly key: Uint8Array;
  private dirty = false;
  private saving: Promise<void> | undefined;
  private disposed = false;

  /**
   * @param file where the encrypted snapshot lives (under the transport's storeDir)
   * @param key 32-byte secretbox key (see {@link deriveMatrixKeys})
   * @param prefix IndexedDB name prefix of this instance; unique per process lifetime so a
   *   restarted transport never collides with databases an earlier instance still holds open
   */
  constructor(file: string, key: Uint8Array, prefix: string) {
    this.file = file;
    this.key = key;
    this.prefix = prefix;
  }

  /** Load the snapshot file (if any) into IndexedDB under {@link prefix}, then track writes. */
  async restore(): Promise<boolean> {
    await ensureIndexedDb();
    await sodium.ready;
    let restored = false;
    if (existsSync(this.file)) {
      const blob = readFileSync(this.file);
      const nonceLen = sodium.crypto_secretbox_NONCEBYTES;
      if (blob.length < MAGIC.length + nonceLen || !blob.subarray(0, MAGIC.length).equals(MAGIC)) {
        throw new VaultError(
          "MATRIX_CRYPTO_STORE_CORRUPT",
          `The Matrix encryption store ${this.file} is not a Hearth crypto snapshot. Restore it from backup, or move it away to start with a new device (you will need to re-verify the bot).`,
        );
      }
      const nonce = blob.subarray(MAGIC.length, MAGIC.length + nonceLen);
      let plain: Uint8Array;
      try {
        plain = sodium.crypto_secretbox_open_easy(blob.subarray(MAGIC.length + nonceLen), nonce, this.key);
      } catch (err) {
        throw new VaultError(
          "MATRIX_CRYPTO_STORE_KEY",
          `The Matrix encryption store ${this.file} cannot be opened with the current pickle key. Use the vault the bot was set up with, or move the file away to start with a new device.`,
          { cause: err },
        );
      }
      const dumps = deserialize(plain) as DbDump[];
      for (const d of dumps) await loadDb(this.prefix + d.suffix, d);
      restored = true;
    }
    dirtyByPrefix.set(this.prefix, () => {
      this.dirty = true;
    });
    return restored;
  }

  /** True when our databases changed since the last save. */
  get isDirty(): boolean {
    return this.dirty;
  }

  /** Write a snapshot if anything changed. Concurrent calls share one write. */
  async saveIfDirty(): Promise<void> {
    if (this.saving) await this.saving;
    if (!this.dirty || this.disposed) return;
    this.saving = this.write().finally(() => {
      this.saving = undefined;
    });
    await this.saving;
  }

  private async write(): Promise<void> {
    this.dirty = false; // cleared first: writes during the dump mark it dirty again
    try {
      const names = (await idb().databases()).map((d) => d.name ?? "").filter((n) => n.startsWith(this.prefix));
      const dumps: DbDump[] = [];
      for (const n of names) dumps.push(await dumpDb(n, n.slice(this.prefix.length)));
      const nonce = sodium.randombytes_buf(sodium.crypto_secretbox_NONCEBYTES);
      const sealed = sodium.crypto_secretbox_easy(new Uint8Array(serialize(dumps)), nonce, this.key);
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, Buffer.concat([MAGIC, nonce, sealed]), { mode: 0o600 });
      const fd = openSync(tmp, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
    } catch (err) {
      this.dirty = true;
      log.error({ err }, "could not save the Matrix crypto snapshot; will retry");
      throw err;
    }
  }

  /** Final save, stop tracking, and drop our in-memory databases. */
  async dispose(): Promise<void> {
    await this.saveIfDirty().catch(() => undefined);
    this.disposed = true;
    dirtyByPrefix.delete(this.prefix);
    const names = (await idb().databases()).map((d) => d.name ?? "").filter((n) => n.startsWith(this.prefix));
    for (const n of names) {
      // Best effort: a connection the SDK never closed blocks deletion; the unique prefix means
      // leftovers are harmless, so do not wait for it.
      await Promise.race([
        new Promise<void>((res) => {
          const r = idb().deleteDatabase(n);
          r.onsuccess = () => res();
          r.onerror = () => res();
        }),
        new Promise<void>((res) => setTimeout(res, 500).unref()),
      ]);
    }
  }
}
