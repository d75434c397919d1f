import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { MatrixClient } from "matrix-js-sdk";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openVault } from "../../src/app/openVault.ts";
import { buildApp, type Runtime } from "../../src/app/runtime.ts";
import { createTransports } from "../../src/app/transports.ts";
import { configureLogger } from "../../src/core/logger.ts";
import { collectFrom, encryptAttachment, startFamilyClient, stopClient, waitFor } from "../bots/matrix/familyClient.ts";
import { registerUser, uniqueLocalpart, type RegisteredUser } from "../bots/matrix/synapse.ts";
import { ScriptedEngine } from "../helpers/scriptedEngine.ts";
import { tempHome } from "../helpers/tempHome.ts";

/**
 * Hearth in Matrix end to end against the run's real Synapse: the whole app (pipeline, access
 * policy, receipts ledger) behind the Matrix transport, a family member on a second SDK client.
 */
const synapse = inject("synapse");
const ENCRYPTION = { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } };
const fixture = join(import.meta.dirname, "../fixtures/receipts/sroie/X51005685355.jpg");

describe("Hearth on Matrix", { timeout: 240_000 }, () => {
  let home: ReturnType<typeof tempHome>;
  let rt: Runtime;
  let engine: ScriptedEngine;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  let bot: RegisteredUser;
  let aliceClient: MatrixClient;
  let bobClient: MatrixClient;
  let dm = "";

  beforeAll(async () => {
    if (!synapse) throw new Error("No Synapse for this run: run scripts/synapse/setup.sh (needs python3-venv); tests/bots/matrix/globalSetup.ts starts it.");
    configureLogger({ level: "silent" });
    bot = await registerUser(synapse, uniqueLocalpart("hearth"));
    alice = await registerUser(synapse, uniqueLocalpart("alice"));
    bob = await registerUser(synapse, uniqueLocalpart("bob"));
    home = tempHome({
      log: { level: "silent" },
      matrix: { enabled: true, homeserverUrl: synapse.baseUrl, userId: bot.userId, allowedInviters: [alice.userId], editIntervalMs: 250 },
      receipts: { dateOrder: "DMY" },
      people: [{ name: "alice", role: "admin", identities: [`matrix:${alice.userId}`] }],
    });
    const keyFile = join(home.dir, "vault.key");
    writeFileSync(keyFile, randomBytes(32));
    chmodSync(keyFile, 0o600);
    const loaded = { ...home, vaultEnv: { ...home.vaultEnv, keyFile }, config: { ...home.config, vault: { ...home.config.vault, keychain: false } } };
    const vault = await openVault(loaded, { create: true });
    await vault.add("matrix_token", bot.accessToken, { allowHosts: [new URL(synapse.baseUrl).host] });
    await vault.add("matrix_device_id", bot.deviceId);
    vault.dispose();
    engine = new ScriptedEngine();
    rt = await buildApp(loaded, { engine });
    for (const t of await createTransports(rt.app, loaded, rt.vault)) await rt.app.attach(t);
    aliceClient = await startFamilyClient(synapse, alice);
    bobClient = await startFamilyClient(synapse, bob);
  }, 240_000);

  afterAll(async () => {
    await rt?.app.dispose(200);
    for (const c of [aliceClient, bobClient]) if (c) stopClient(c);
    home?.cleanup();
  });

  it("answers in an encrypted direct chat, and /help works", async () => {
    const { room_id } = await aliceClient.createRoom({ is_direct: true, preset: "trusted_private_chat" as never, invite: [bot.userId], initial_state: [ENCRYPTION] });
    dm = room_id;
    await waitFor("bot to join", () => aliceClient.getRoom(room_id)?.getMember(bot.userId)?.membership === "join");
    const replies = collectFrom(aliceClient, room_id, bot.userId);
    await aliceClient.sendMessage(room_id, { msgtype: "m.text" as never, body: "hello hearth" });
    const reply = await waitFor("model reply", () => replies.find((e) => e.getContent().body === "echo: hello hearth"));
    expect(reply.isEncrypted()).toBe(true);
    await aliceClient.sendMessage(room_id, { msgtype: "m.text" as never, body: "/help" });
    await waitFor("help", () => replies.find((e) => /\/receipts/.test(String(e.getContent().body ?? ""))));
  });

  it("in a family room: silent without a mention, answers a mention, ignores a stranger at no model cost", async () => {
    const { room_id } = await aliceClient.createRoom({ preset: "private_chat" as never, invite: [bot.userId, bob.userId], initial_state: [ENCRYPTION] });
    await bobClient.joinRoom(room_id);
    await waitFor("bot to join", () => aliceClient.getRoom(room_id)?.getMember(bot.userId)?.membership === "join");
    await waitFor("alice sees bob", () => aliceClient.getRoom(room_id)?.getMember(bob.userId)?.membership === "join");
    const replies = collectFrom(aliceClient, room_id, bot.userId);
    const before = engine.requests.length;
    await aliceClient.sendMessage(room_id, { msgtype: "m.text" as never, body: "what are we doing saturday" });
    await bobClient.sendMessage(room_id, { msgtype: "m.text" as never, body: "Hearth, tell me a secret", "m.mentions": { user_ids: [bot.userId] } } as never);
    await aliceClient.sendMessage(room_id, { msgtype: "m.text" as never, body: "Hearth, any ideas?", "m.mentions": { user_ids: [bot.userId] } } as never);
    await waitFor("mention reply", () => replies.find((e) => e.getContent().body === "echo: Alice: Hearth, any ideas?" || /any ideas/.test(String(e.getContent().body))));
    await new Promise((r) => setTimeout(r, 2000));
    expect(engine.requests.length).toBe(before + 1);
    expect(replies.every((e) => !/secret|only talk/.test(String(e.getContent().body)))).toBe(true);
    expect(replies.every((e) => e.isEncrypted())).toBe(true);
  });

  it("files an encrypted receipt photo in the ledger", async () => {
    const original = new Uint8Array(readFileSync(fixture));
    const { ciphertext, file } = encryptAttachment(original);
    const up = await aliceClient.uploadContent(ciphertext, { type: "application/octet-stream", name: "receipt.jpg" });
    const replies = collectFrom(aliceClient, dm, bot.userId);
    await aliceClient.sendMessage(dm, {
      msgtype: "m.image" as never,
      body: "receipt.jpg",
      file: { ...file, url: up.content_uri },
      info: { mimetype: "image/jpeg", size: original.byteLength },
    } as never);
    const filed = await waitFor("filing reply", () => replies.find((e) => /Filed as receipt #\d+/.test(String(e.getContent().body))), 150_000);
    expect(String(filed.getContent().body)).toMatch(/5\.30/);
    await aliceClient.sendMessage(dm, { msgtype: "m.text" as never, body: "/receipts" });
    await waitFor("ledger listing", () => replies.find((e) => /#1 .*5\.30/.test(String(e.getContent().body))));
  });
});
