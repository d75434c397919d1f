import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configureLogger } from "../../src/core/logger.ts";
import { acquireFileLock } from "../../src/vault/fileLock.ts";
import { KeyFileMasterKey } from "../../src/vault/masterKeyFile.ts";
import { Vault } from "../../src/vault/vault.ts";
import { makeTempDir } from "./helpers/tempDir.ts";

configureLogger({ level: "silent" });
const CHILD = fileURLToPath(new URL("./helpers/vaultChild.ts", import.meta.url));

function runChild(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CHILD, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("close", (code) => resolve({ code, out, err }));
  });
}

describe("concurrent writers", { timeout: 120_000 }, () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = makeTempDir()));
  afterEach(() => cleanup());

  it("several processes adding different secrets at once lose nothing", async () => {
    const path = join(dir, "vault.json");
    const keyFile = join(dir, "vault.key");
    (await Vault.create(path, new KeyFileMasterKey(keyFile))).dispose();
    const WRITERS = 4;
    const EACH = 5;
    const results = await Promise.all(
      Array.from({ length: WRITERS }, (_, w) => runChild(["add", path, keyFile, `writer${w}`, `value-of-writer-${w}`, String(EACH)])),
    );
    for (const r of results) expect(r.code, r.out + r.err).toBe(0);
    const v = await Vault.open(path, new KeyFileMasterKey(keyFile));
    expect(v.list().length).toBe(WRITERS * EACH);
    for (let w = 0; w < WRITERS; w++) for (let i = 0; i < EACH; i++) expect(v.get(`writer${w}_${i}`)).toBe(`value-of-writer-${w}_${i}`);
    v.dispose();
  });

  it("breaks a stale lock left by a dead process, but waits for a live one", async () => {
    const lockPath = join(dir, "vault.json.lock");
    // A pid that cannot be alive (above pid_max on Linux).
    writeFileSync(lockPath, JSON.stringify({ pid: 2 ** 22 + 12345, host: (await import("node:os")).hostname(), token: "dead", time: 0 }));
    const lock = await acquireFileLock(lockPath, { timeoutMs: 5_000 });
    // Held by us (alive): a second acquirer must time out with a clear message.
    await expect(acquireFileLock(lockPath, { timeoutMs: 300 })).rejects.toMatchObject({ code: "VAULT_BUSY" });
    await lock.release();
    const again = await acquireFileLock(lockPath, { timeoutMs: 1_000 });
    await again.release();
  });
});
