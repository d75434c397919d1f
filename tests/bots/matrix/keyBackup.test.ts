import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MatrixClient } from "matrix-js-sdk";
import { decodeRecoveryKey, encodeRecoveryKey } from "matrix-js-sdk/lib/crypto-api/index.js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { InboundMessage } from "../../../src/core/message.ts";
import { backupPublicKey } from "../../../src/bots/matrix/keyBackup.ts";
import { MatrixTransport, type MatrixTransportOptions } from "../../../src/bots/matrix/matrixTransport.ts";
import { loginNewDevice, startFamilyClient, stopClient, waitFor } from "./familyClient.ts";
import { registerUser, uniqueLocalpart, type RegisteredUser, type SynapseInfo } from "./synapse.ts";

/**
 * Server-side key backup against the run's real Synapse: the bot creates a backup and hands out a
 * recovery key, backs up the room keys it receives, keeps the backup across restarts, refuses a
 * wrong key without touching the backup, and a brand-new device with a fresh store and the
 * recovery key reads a message sent before it existed (the SDK fetches the key from the backup).
 */

const synapse = inject("synapse");
const ENCRYPTION = { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } };

describe("Matrix key backup against Synapse", { timeout: 120_000 }, () => {
  let info: SynapseInfo;
  let bot: RegisteredUser;
  let alice: RegisteredUser;
  let aliceClient: MatrixClient | undefined;
  const dirs: string[] = [];
  const transports: MatrixTransport[] = [];
  const received: InboundMessage[] = [];
  const created: string[] = [];
  let room = "";
  let older: { eventId: string; body: string } | undefined;
  let version = "";
  let firstStoreDir = "";

  const newDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), "hearth-matrix-backup-"));
    dirs.push(d);
    return d;
  };

  async function startBot(creds: RegisteredUser, storeDir: string, keyBackup: MatrixTransportOptions["keyBackup"]): Promise<MatrixTransport> {
    const t = new MatrixTransport({
      homeserverUrl: info.baseUrl,
      userId: creds.userId,
      accessToken: creds.accessToken,
      storeDir,
      pickleKey: "backup-test-pickle-key-0123456789",
      allowedInviters: [alice.userId],
      ...(keyBackup ? { keyBackup } : {}),
    });
    transports.push(t);
    await t.start(async (msg) => void received.push(msg));
    return t;
  }

  /** GET on the client-server API as `user`; returns status and JSON body. */
  async function api(user: RegisteredUser, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${info.baseUrl}/_matrix/client/v3${path}`, { headers: { authorization: `Bearer ${user.accessToken}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  beforeAll(async () => {
    if (!synapse) throw new Error("No Synapse for this run: tests/bots/matrix/globalSetup.ts must be the vitest globalSetup.");
    info = synapse;
    bot = await registerUser(info, uniqueLocalpart("hearth-kb"));
    alice = await registerUser(info, uniqueLocalpart("alice-kb"));
    aliceClient = await startFamilyClient(info, alice);
  }, 120_000);

  afterAll(async () => {
    for (const t of transports) await t.dispose();
    if (aliceClient) stopClient(aliceClient);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("creates a backup, hands out its recovery key and backs up the room keys it receives", async () => {
    const storeDir = newDir();
    firstStoreDir = storeDir;
    const t = await startBot(bot, storeDir, { onRecoveryKeyCreated: (k) => void created.push(k) });
    expect(await t.keyBackupOutcome).toBe("created");
    expect(created).toHaveLength(1);
    const crypto = t.sdkClient!.getCrypto()!;
    const server = await api(bot, "/room_keys/version");
    expect(server.status).toBe(200);
    version = server.body.version as string;
    expect(await crypto.getActiveSessionBackupVersion()).toBe(version);
    // The recovery key is the backup's decryption key, and it matches the backup's public key.
    const key = decodeRecoveryKey(created[0]!);
    expect(Buffer.from(key).equals(Buffer.from((await crypto.getSessionBackupPrivateKey())!))).toBe(true);
    expect(backupPublicKey(key)).toBe((server.body.auth_data as { public_key: string }).public_key);

    const ac = aliceClient!;
    ({ room_id: room } = await ac.createRoom({ preset: "private_chat" as never, invite: [bot.userId], initial_state: [ENCRYPTION] }));
    await waitFor("bot to join", () => ac.getRoom(room)?.getMember(bot.userId)?.membership === "join");
    const body = `backed-up secret ${randomBytes(3).toString("hex")}`;
    const sent = await ac.sendMessage(room, { msgtype: "m.text" as never, body });
    older = { eventId: sent.event_id, body };
    await waitFor("bot to receive the message", () => received.find((m) => m.id === sent.event_id));
    // Its megolm session must reach the backup (the SDK uploads after a random delay of up to 10 s).
    const raw = await api(alice, `/rooms/${encodeURIComponent(room)}/event/${encodeURIComponent(sent.event_id)}`);
    const sessionId = (raw.body.content as { session_id: string }).session_id;
    const keyPath = `/room_keys/keys/${encodeURIComponent(room)}/${encodeURIComponent(sessionId)}?version=${encodeURIComponent(version)}`;
    await waitFor("room key in the backup", async () => (await api(bot, keyPath)).status === 200, 45_000);
    expect(((await api(bot, "/room_keys/version")).body.count as number) >= 1).toBe(true);

    // A restart with the stored key keeps using the same backup and creates nothing new.
    await t.dispose();
    const again = await startBot(bot, storeDir, { recoveryKey: created[0]!, onRecoveryKeyCreated: (k) => void created.push(k) });
    expect(await again.keyBackupOutcome).toBe("active");
    expect(await again.sdkClient!.getCrypto()!.getActiveSessionBackupVersion()).toBe(version);
    expect(created).toHaveLength(1);
    await again.dispose();

    // A vault that lost the key (or failed to store it) gets the working key again from the device.
    const reissued: string[] = [];
    const healed = await startBot(bot, storeDir, { onRecoveryKeyCreated: (k) => void reissued.push(k) });
    expect(await healed.keyBackupOutcome).toBe("active");
    expect(reissued).toEqual([created[0]]);
    await healed.dispose();
  });

  it("leaves the backup alone and keeps running when the recovery key is wrong", async () => {
    const device = await loginNewDevice(info, bot);
    const wrong = encodeRecoveryKey(randomBytes(32))!;
    const t = await startBot(device, newDir(), { recoveryKey: wrong, onRecoveryKeyCreated: (k) => void created.push(k) });
    expect(await t.keyBackupOutcome).toBe("wrong-key");
    expect(await t.sdkClient!.getCrypto()!.getActiveSessionBackupVersion()).toBeNull();
    expect((await api(bot, "/room_keys/version")).body.version).toBe(version);
    expect(created).toHaveLength(1);
    await t.dispose();
  });

  it("on a new device with a fresh store, the recovery key unlocks the backup and an older message decrypts", async () => {
    const device = await loginNewDevice(info, bot);
    const t = await startBot(device, newDir(), { recoveryKey: created[0]!, onRecoveryKeyCreated: (k) => void created.push(k) });
    expect(await t.keyBackupOutcome).toBe("restored");
    const client = t.sdkClient!;
    expect(await client.getCrypto()!.getActiveSessionBackupVersion()).toBe(version);
    expect(created).toHaveLength(1);
    // The message was encrypted before this device existed; only the backup has its key.
    const ev = await waitFor("older event in the timeline", () => client.getRoom(room)?.findEventById(older!.eventId));
    await waitFor("older event decrypted from the backup", () => !ev.isDecryptionFailure() && ev.getContent().body === older!.body, 45_000);
    await t.dispose();
  });

  it("after moving to a new device, a message sent while down is decrypted from the backup and delivered", async () => {
    // Sent while no bot device runs: the new device below gets no copy of the room key from
    // alice; the backup holds the session (from its first message on), which decrypts this one.
    const body = `while you moved ${randomBytes(3).toString("hex")}`;
    const sent = await aliceClient!.sendMessage(room, { msgtype: "m.text" as never, body });
    const device = await loginNewDevice(info, bot);
    // The first bot's storeDir: its crypto store is moved aside for the new device, its ledger
    // stays, so catch-up considers everything after the last handled message.
    const t = await startBot(device, firstStoreDir, { recoveryKey: created[0]!, onRecoveryKeyCreated: (k) => void created.push(k) });
    expect(await t.keyBackupOutcome).toBe("restored");
    const msg = await waitFor("message delivered after the key came from the backup", () => received.find((m) => m.id === sent.event_id), 45_000);
    expect(msg).toMatchObject({ text: body, encrypted: true });
    expect(received.filter((m) => m.id === older!.eventId)).toHaveLength(1);
    await t.dispose();
  });
});
