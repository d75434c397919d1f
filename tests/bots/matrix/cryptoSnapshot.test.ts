import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { VaultError } from "../../../src/core/errors.ts";
import { CryptoSnapshot, deriveMatrixKeys, ensureIndexedDb } from "../../../src/bots/matrix/cryptoSnapshot.ts";

const dir = mkdtempSync(join(tmpdir(), "hearth-mxsnap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Idb {
  open(name: string, version?: number): { result: IdbDb; onupgradeneeded: (() => void) | null; onsuccess: (() => void) | null; onerror: (() => void) | null; error: unknown };
}
interface IdbDb {
  createObjectStore(n: string, o?: { keyPath?: string | null; autoIncrement?: boolean }): { createIndex(n: string, k: string, o: { unique: boolean }): void };
  transaction(s: string[], m: string): { objectStore(n: string): { put(v: unknown, k?: unknown): void; get(k: unknown): { onsuccess: (() => void) | null; result: unknown } }; oncomplete: (() => void) | null };
  close(): void;
}
const idb = (): Idb => (globalThis as unknown as { indexedDB: Idb }).indexedDB;

function open(name: string, version?: number, upgrade?: (db: IdbDb) => void): Promise<IdbDb> {
  return new Promise((res, rej) => {
    const r = idb().open(name, version);
    r.onupgradeneeded = () => upgrade?.(r.result);
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
}

async function write(db: IdbDb, store: string, value: unknown, key?: unknown): Promise<void> {
  const tx = db.transaction([store], "readwrite");
  tx.objectStore(store).put(value, key);
  await new Promise<void>((r) => (tx.oncomplete = () => r()));
}

async function read(db: IdbDb, store: string, key: unknown): Promise<unknown> {
  const tx = db.transaction([store], "readonly");
  const r = tx.objectStore(store).get(key);
  return await new Promise((res) => (r.onsuccess = () => res(r.result)));
}

describe("CryptoSnapshot", () => {
  it("round-trips schema and records (incl. binary values) across prefixes, encrypted at rest", async () => {
    await ensureIndexedDb();
    const { snapshotKey } = await deriveMatrixKeys("pickle-key-for-tests-0123456789");
    const file = join(dir, "a.bin");
    const snapA = new CryptoSnapshot(file, snapshotKey, "pa-");
    expect(await snapA.restore()).toBe(false);
    const db = await open("pa-::crypto", 3, (d) => {
      d.createObjectStore("kv");
      d.createObjectStore("sessions", { keyPath: "id" }).createIndex("by_room", "room", { unique: false });
    });
    const secretBytes = new Uint8Array([1, 2, 3, 250]);
    await write(db, "kv", { blob: secretBytes, note: "very-secret-marker" }, "account");
    await write(db, "sessions", { id: "s1", room: "!r" });
    expect(snapA.isDirty).toBe(true);
    await snapA.saveIfDirty();
    expect(snapA.isDirty).toBe(false);
    db.close();
    expect(readFileSync(file).includes(Buffer.from("very-secret-marker"))).toBe(false);

    const snapB = new CryptoSnapshot(file, snapshotKey, "pb-");
    expect(await snapB.restore()).toBe(true);
    const db2 = await open("pb-::crypto");
    expect(await read(db2, "kv", "account")).toEqual({ blob: secretBytes, note: "very-secret-marker" });
    expect(await read(db2, "sessions", "s1")).toEqual({ id: "s1", room: "!r" });
    db2.close();
    await snapA.dispose();
    await snapB.dispose();
  });

  it("refuses a wrong pickle key or a foreign file without touching it", async () => {
    const file = join(dir, "b.bin");
    const good = await deriveMatrixKeys("the-right-pickle-key-000000000");
    const snap = new CryptoSnapshot(file, good.snapshotKey, "pc-");
    await snap.restore();
    const db = await open("pc-::x", 1, (d) => d.createObjectStore("kv"));
    await write(db, "kv", "v", "k");
    db.close();
    await snap.dispose();
    const before = readFileSync(file);

    const wrong = await deriveMatrixKeys("a-wrong-pickle-key-11111111111");
    const err = await new CryptoSnapshot(file, wrong.snapshotKey, "pd-").restore().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VaultError);
    expect((err as VaultError).userMessage).toMatch(/pickle key/);
    expect(readFileSync(file).equals(before)).toBe(true);

    const foreign = join(dir, "c.bin");
    writeFileSync(foreign, "not a snapshot");
    await expect(new CryptoSnapshot(foreign, good.snapshotKey, "pe-").restore()).rejects.toMatchObject({ code: "MATRIX_CRYPTO_STORE_CORRUPT" });
    expect(existsSync(foreign)).toBe(true);
  });

  it("derives distinct keys per purpose and per pickle key", async () => {
    const a = await deriveMatrixKeys("pickle-one-aaaaaaaaaaaaaaaa");
    const b = await deriveMatrixKeys("pickle-two-bbbbbbbbbbbbbbbb");
    expect(Buffer.from(a.storeKey).equals(Buffer.from(a.snapshotKey))).toBe(false);
    expect(Buffer.from(a.storeKey).equals(Buffer.from(b.storeKey))).toBe(false);
    expect(a.storeKey).toHaveLength(32);
  });
});
