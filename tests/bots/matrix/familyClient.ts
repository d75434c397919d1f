import { createCipheriv, createHash, randomBytes } from "node:crypto";
import {
  ClientEvent,
  createClient,
  MatrixEventEvent,
  RoomEvent,
  SyncState,
  type MatrixClient,
  type MatrixEvent,
} from "matrix-js-sdk";
import type { Logger as SdkLogger } from "matrix-js-sdk/lib/logger.js";
import type { RegisteredUser, SynapseInfo } from "./synapse.ts";

/**
 * Test helper: a family member's real matrix-js-sdk client with Rust crypto (in-memory store), and
 * small wait utilities. Waits poll with generous deadlines because CI boxes are slow.
 */

const quiet: SdkLogger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  getChild: () => quiet,
};

/** Start a logged-in, synced client for `user`, with E2EE unless `crypto: false`. */
export async function startFamilyClient(info: SynapseInfo, user: RegisteredUser, options: { crypto?: boolean } = {}): Promise<MatrixClient> {
  const client = createClient({
    baseUrl: info.baseUrl,
    userId: user.userId,
    deviceId: user.deviceId,
    accessToken: user.accessToken,
    logger: quiet,
  });
  if (options.crypto ?? true) await client.initRustCrypto({ useIndexedDB: false });
  const prepared = new Promise<void>((res) => {
    client.on(ClientEvent.Sync, (s) => {
      if (s === SyncState.Prepared) res();
    });
  });
  await client.startClient({ initialSyncLimit: 10 });
  await prepared;
  return client;
}

/** Log `user` in again with a password, giving a brand-new device. */
export async function loginNewDevice(info: SynapseInfo, user: RegisteredUser): Promise<RegisteredUser> {
  const c = createClient({ baseUrl: info.baseUrl, logger: quiet });
  const res = await c.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: user.userId }, password: user.password });
  return { ...user, accessToken: res.access_token, deviceId: res.device_id };
}

/** Poll `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(what: string, check: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Collect decrypted timeline events from `sender` in `roomId` as they arrive. */
export function collectFrom(client: MatrixClient, roomId: string, sender: string): MatrixEvent[] {
  const seen: MatrixEvent[] = [];
  const ids = new Set<string>();
  const push = (ev: MatrixEvent): void => {
    if (ev.getRoomId() !== roomId || ev.getSender() !== sender || ev.isDecryptionFailure() || ev.isBeingDecrypted()) return;
    if (ev.getType() !== "m.room.message" || ids.has(ev.getId()!)) return;
    ids.add(ev.getId()!);
    seen.push(ev);
  };
  client.on(RoomEvent.Timeline, (ev) => {
    if (ev.isEncrypted() && (ev.isBeingDecrypted() || ev.getClearContent() === null)) {
      ev.once(MatrixEventEvent.Decrypted, () => push(ev));
      // Rust crypto may already be done by the time we subscribe.
      void client.decryptEventIfNeeded(ev).then(() => push(ev));
    } else push(ev);
  });
  return seen;
}

/** Encrypt bytes like a Matrix client does for an encrypted attachment (AES-256-CTR + SHA-256). */
export function encryptAttachment(plain: Uint8Array): { ciphertext: Buffer; file: Omit<import("../../../src/bots/matrix/mapMatrixEvent.ts").EncryptedFileInfo, "url"> } {
  const key = randomBytes(32);
  const iv = Buffer.concat([randomBytes(8), Buffer.alloc(8)]);
  const c = createCipheriv("aes-256-ctr", key, iv);
  const ciphertext = Buffer.concat([c.update(plain), c.final()]);
  return {
    ciphertext,
    file: {
      key: { kty: "oct", alg: "A256CTR", k: key.toString("base64url"), key_ops: ["encrypt", "decrypt"], ext: true },
      iv: iv.toString("base64").replace(/=+$/, ""),
      hashes: { sha256: createHash("sha256").update(ciphertext).digest("base64").replace(/=+$/, "") },
      v: "v2",
    },
  };
}

/** Stop a client and free its crypto. */
export function stopClient(client: MatrixClient): void {
  client.stopClient();
  client.removeAllListeners();
}
