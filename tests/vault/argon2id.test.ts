import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveArgon2id, sodiumArgon2id } from "../../src/vault/masterKeyPassphrase.ts";

describe("Argon2id", () => {
  it("the native derivation equals libsodium's crypto_pwhash (so vaults move between Node versions)", async () => {
    for (const limits of [
      { opslimit: 1, memlimit: 8192 * 1024 },
      { opslimit: 3, memlimit: 16 * 1024 * 1024 },
    ]) {
      const pass = new TextEncoder().encode(`correct horse ${randomBytes(4).toString("hex")}`);
      const salt = new Uint8Array(randomBytes(16));
      const a = await deriveArgon2id(pass, salt, limits);
      const b = await sodiumArgon2id(pass, salt, limits);
      expect(Buffer.from(a).toString("hex")).toBe(Buffer.from(b).toString("hex"));
      const other = await sodiumArgon2id(new TextEncoder().encode("wrong"), salt, limits);
      expect(Buffer.from(other).equals(Buffer.from(a))).toBe(false);
    }
  });
});
