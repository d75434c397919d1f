import { describe, it, expect, afterEach } from "vitest";
import { readFileSync, writeFileSync, readdirSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { ImageStore } from "../../src/receipts/imageStore.ts";
import { tempDir } from "./helpers.ts";

let cleanup = (): void => {};
afterEach(() => cleanup());

describe("ImageStore", () => {
  it("round-trips images of several chunk sizes and de-duplicates equal content", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const store = await ImageStore.open(t.dir, randomBytes(32));
    for (const size of [0, 1, 65_535, 65_536, 65_537, 300_000]) {
      const bytes = randomBytes(size);
      const ref = store.put(bytes);
      expect(Buffer.from(store.get(ref)).equals(bytes)).toBe(true);
      expect(store.put(bytes)).toBe(ref);
    }
    expect(store.listRefs()).toHaveLength(6);
  });

  it("names files with a keyed hash, not the plain sha256, and never stores plaintext", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const key = randomBytes(32);
    const store = await ImageStore.open(t.dir, key);
    const bytes = Buffer.from("PLAINTEXT-MARKER-".repeat(100));
    const ref = store.put(bytes);
    expect(ref).not.toBe(createHash("sha256").update(bytes).digest("hex"));
    const other = await ImageStore.open(t.dir, randomBytes(32));
    expect(other.refFor(bytes)).not.toBe(ref);
    const file = readFileSync(path.join(t.dir, `${ref}.img`));
    expect(file.includes(Buffer.from("PLAINTEXT-MARKER"))).toBe(false);
  });

  it("detects tampering, truncation and the wrong key", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const key = randomBytes(32);
    const store = await ImageStore.open(t.dir, key);
    const ref = store.put(randomBytes(100_000));
    const file = path.join(t.dir, `${ref}.img`);
    const good = readFileSync(file);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 10]! ^= 1;
    writeFileSync(file, flipped);
    expect(() => store.get(ref)).toThrow(/cannot be decrypted/);
    writeFileSync(file, good.subarray(0, good.length - 70_000));
    expect(() => store.get(ref)).toThrow(/cannot be decrypted/);
    writeFileSync(file, good);
    const wrongKey = await ImageStore.open(t.dir, randomBytes(32));
    expect(() => wrongKey.get(ref)).toThrow(/cannot be decrypted/);
    expect(() => store.get("f".repeat(64))).toThrow(/missing/);
    expect(readdirSync(t.dir).filter((f) => f.startsWith(".tmp-"))).toEqual([]);
  });

  it("refuses keys that are not 32 bytes", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    await expect(ImageStore.open(t.dir, new Uint8Array(16))).rejects.toThrow(/32 bytes/);
  });
});
