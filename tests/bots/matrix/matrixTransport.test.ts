import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MatrixClient } from "matrix-js-sdk";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { InputError } from "../../../src/core/errors.ts";
import type { InboundMessage } from "../../../src/core/message.ts";
import { MatrixTransport, type MatrixTransportOptions } from "../../../src/bots/matrix/matrixTransport.ts";
import { collectFrom, encryptAttachment, loginNewDevice, startFamilyClient, stopClient, waitFor } from "./familyClient.ts";
import { registerUser, uniqueLocalpart, type RegisteredUser, type SynapseInfo } from "./synapse.ts";

/**
 * End-to-end tests against the run's real Synapse (see globalSetup.ts): the bot side is
 * MatrixTransport with an echo handler, the family side is a second matrix-js-sdk client with Rust
 * crypto. The scenarios build on each other (one bot account, one storeDir) to keep the run short.
 */

const synapse = inject("synapse");
const ENCRYPTION = { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } };

function requireSynapse(): SynapseInfo {
  if (!synapse) {
    throw new Error(
      "No Synapse for this run: register tests/bots/matrix/globalSetup.ts as a vitest globalSetup and run scripts/synapse/setup.sh (needs python3-venv).",
    );
  }
  return synapse;
}

describe("MatrixTransport against Synapse", { timeout: 180_000 }, () => {
  let info: SynapseInfo;
  let bot: RegisteredUser;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  let aliceClient: MatrixClient;
  let storeDir: string;
  let transport: MatrixTransport | undefined;
  const received: InboundMessage[] = [];
  const clients: MatrixClient[] = [];
  let dmRoom = "";
  let groupRoom = "";

  const baseOptions = (): MatrixTransportOptions => ({
    homeserverUrl: info.baseUrl,
    userId: bot.userId,
    accessToken: bot.accessToken,
    storeDir,
    pickleKey: "test-pickle-key-0123456789abcdef",
    allowedInviters: [alice.userId],
    displayName: "Hearth",
    mentionNames: ["hearth"],
    streamEdits: true,
    editIntervalMs: 50,
    maxImageBytes: 5_000_000,
  });

  async function startBot(): Promise<MatrixTransport> {
    const t = new MatrixTransport(baseOptions());
    await t.start(async (msg) => {
      received.push(msg);
      if (msg.attachments.length === 0 && (msg.chatType === "direct" || msg.mentionsBot)) {
        await t.send(msg.chatId, { text: `echo: ${msg.text}`, replyToId: msg.id, markdown: true });
      }
    });
    return t;
  }

  const texts = (roomId: string): string[] => received.filter((m) => m.chatId === `matrix:${roomId}`).map((m) => m.text);

  beforeAll(async () => {
    info = requireSynapse();
    bot = await registerUser(info, uniqueLocalpart("hearth"));
    alice = await registerUser(info, uniqueLocalpart("alice"));
    bob = await registerUser(info, uniqueLocalpart("bob"));
    storeDir = mkdtempSync(join(tmpdir(), "hearth-matrix-store-"));
    aliceClient = await startFamilyClient(info, alice);
    clients.push(aliceClient);
    transport = await startBot();
  }, 180_000);

  afterAll(async () => {
    await transport?.dispose();
    for (const c of clients) stopClient(c);
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  });

  it("joins a direct chat from an allowed inviter and replies in a thread-quote", async () => {
    const { room_id } = await aliceClient.createRoom({ is_direct: true, preset: "trusted_private_chat" as never, invite: [bot.userId] });
    dmRoom = room_id;
    await waitFor("bot to join DM", () => aliceClient.getRoom(room_id)?.getMember(bot.userId)?.membership === "join");
    const replies = collectFrom(aliceClient, room_id, bot.userId);
    const sent = await aliceClient.sendMessage(room_id, { msgtype: "m.text" as never, body: "hello there" });
    await waitFor("echo reply", () => replies.find((e) => e.getContent().body === "echo: hello there"));
    const msg = received.find((m) => m.id === sent.event_id)!;
    expect(msg).toMatchObject({ transport: "matrix", chatType: "direct", encrypted: false, text: "hello there", sender: { id: `matrix:${alice.userId}` } });
    const reply = replies.find((e) => e.getContent().body === "echo: hello there")!;
    expect(reply.getContent()["m.relates_to"]?.["m.in_reply_to"]?.event_id).toBe(sent.event_id);
    expect(reply.getContent().formatted_body).toContain("echo: hello there");
  });

  it("in an encrypted group room: mention gets a readable encrypted reply, no mention maps mentionsBot=false", async () => {
    const { room_id } = await aliceClient.createRoom({ preset: "private_chat" as never, invite: [bot.userId, bob.userId], initial_state: [ENCRYPTION] });
    groupRoom = room_id;
    const bobClient = await startFamilyClient(info, bob, { crypto: false });
    clients.push(bobClient);
    await bobClient.joinRoom(room_id);
    await waitFor("bot to join group", () => aliceClient.getRoom(room_id)?.getMember(bot.userId)?.membership === "join");
    await waitFor("alice to see bob", () => aliceClient.getRoom(room_id)?.getMember(bob.userId)?.membership === "join");
    const replies = collectFrom(aliceClient, room_id, bot.userId);

    const plain = await aliceClient.sendMessage(room_id, { msgtype: "m.text" as never, body: "just chatting among ourselves" });
    const mention = await aliceClient.sendMessage(room_id, {
      msgtype: "m.text" as never,
      body: "Hearth: what's for dinner?",
      format: "org.matrix.custom.html",
      formatted_body: `<a href="https://matrix.to/#/${bot.userId}">Hearth</a>: what's for dinner?`,
      "m.mentions": { user_ids: [bot.userId] },
    } as never);
    await waitFor("encrypted echo", () => replies.find((e) => e.getContent().body === "echo: Hearth: what's for dinner?"));
    const reply = replies.find((e) => e.getContent().body === "echo: Hearth: what's for dinner?")!;
    expect(reply.isEncrypted()).toBe(true);

    const m1 = received.find((m) => m.id === plain.event_id);
    const m2 = received.find((m) => m.id === mention.event_id);
    expect(m1).toMatchObject({ chatType: "group", encrypted: true, mentionsBot: false, text: "just chatting among ourselves" });
    expect(m2).toMatchObject({ chatType: "group", encrypted: true, mentionsBot: true });

    // Reply to the bot's message without naming it: replyToBot comes from looking the event up.
    const toBot = await aliceClient.sendMessage(room_id, {
      msgtype: "m.text" as never,
      body: "and dessert?",
      "m.relates_to": { "m.in_reply_to": { event_id: reply.getId()! } },
    } as never);
    const m3 = await waitFor("reply-to-bot mapped", () => received.find((m) => m.id === toBot.event_id));
    expect(m3).toMatchObject({ replyToId: reply.getId(), replyToBot: true, mentionsBot: false });
  });

  it("logs and skips an undecryptable event without stalling the room", async () => {
    // A megolm event for a session nobody has: the bot can never decrypt it.
    const bogus = await fetch(
      `${info.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(groupRoom)}/send/m.room.encrypted/bogus-${Date.now()}`,
      {
        method: "PUT",
        headers: { authorization: `Bearer ${alice.accessToken}`, "content-type": "application/json" },
        body: JSON.stringify({
          algorithm: "m.megolm.v1.aes-sha2",
          ciphertext: "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg2yyOwAtHaZTwyNg37afzg8f3r9IsN9r4RNFg7MaZencUJe4qvELiDiopUjy5wYVDAtqdBzer5bWRD9ldxp1FLgbQvBcjkkywYjCsmsq6+hArLd9oAQZnGKn/qLsK+5uNX3PaWzDRC9wZPQvWYYPCTov3jCwXKTPsLKIiTrcCXDqMvnn8m+T3zF/I2zqxg158tnUwWWIw51UO",
          device_id: "NOSUCHDEVICE",
          sender_key: "NOSUCHSENDERKEY",
          session_id: "NOSUCHSESSION",
        }),
      },
    );
    expect(bogus.ok).toBe(true);
    const next = await aliceClient.sendMessage(groupRoom, { msgtype: "m.text" as never, body: "after the garbage" });
    await waitFor("message after undecryptable event", () => received.find((m) => m.id === next.event_id));
    const { event_id: bogusId } = (await bogus.json()) as { event_id: string };
    expect(received.some((m) => m.id === bogusId)).toBe(false);
  });

  it("delivers an encrypted image whose fetched bytes equal the original, and refuses oversized ones", async () => {
    const original = new Uint8Array(Buffer.concat([Buffer.from("\x89PNG\r\n\x1a\n", "binary"), Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251))]));
    const { ciphertext, file } = encryptAttachment(original);
    const up = await aliceClient.uploadContent(ciphertext, { type: "application/octet-stream", name: "photo.png" });
    const sent = await aliceClient.sendMessage(groupRoom, {
      msgtype: "m.image" as never,
      body: "photo.png",
      file: { ...file, url: up.content_uri },
      info: { mimetype: "image/png", size: original.byteLength },
    } as never);
    const msg = await waitFor("image delivered", () => received.find((m) => m.id === sent.event_id));
    expect(msg.attachments).toHaveLength(1);
    const att = msg.attachments[0]!;
    expect(att).toMatchObject({ kind: "image", mimeType: "image/png", size: original.byteLength });
    const bytes = await att.fetch({ maxBytes: 1_000_000 });
    expect(Buffer.from(bytes).equals(Buffer.from(original))).toBe(true);
    await expect(att.fetch({ maxBytes: 100 })).rejects.toBeInstanceOf(InputError);
    await expect(att.fetch({ maxBytes: 100 })).rejects.toThrow(/too large/);
  });

  it("edits a sent reply in place with m.replace", async () => {
    const replies = collectFrom(aliceClient, dmRoom, bot.userId);
    const sent = await transport!.send(`matrix:${dmRoom}`, { text: "thinking…" });
    await sent.edit!("first draft");
    await sent.edit!("**final** answer");
    const edit = await waitFor("final edit", () =>
      replies.find((e) => e.getContent()["m.new_content"]?.body === "**final** answer"),
    );
    expect(edit.getContent()["m.relates_to"]).toMatchObject({ rel_type: "m.replace", event_id: sent.id });
  });

  it("after a restart: same device, messages sent while down delivered once, nothing re-delivered, still decrypts", async () => {
    const deviceBefore = transport!.deviceId;
    const keysBefore = await transport!.sdkClient!.getCrypto()!.getOwnDeviceKeys();
    const countBefore = received.length;
    const idsBefore = new Set(received.map((m) => m.id));
    await transport!.dispose();
    transport = undefined;

    const down1 = await aliceClient.sendMessage(groupRoom, { msgtype: "m.text" as never, body: "sent while you were down 1" });
    const down2 = await aliceClient.sendMessage(dmRoom, { msgtype: "m.text" as never, body: "sent while you were down 2" });

    transport = await startBot();
    expect(transport.deviceId).toBe(deviceBefore);
    // Same identity keys: the crypto store really was restored, not re-created for the device id.
    expect(await transport.sdkClient!.getCrypto()!.getOwnDeviceKeys()).toEqual(keysBefore);
    await waitFor("missed messages", () => received.some((m) => m.id === down1.event_id) && received.some((m) => m.id === down2.event_id));
    const live = await aliceClient.sendMessage(groupRoom, { msgtype: "m.text" as never, body: "hearth, are you back?" });
    const liveMsg = await waitFor("live message after restart", () => received.find((m) => m.id === live.event_id));
    expect(liveMsg).toMatchObject({ text: "hearth, are you back?", mentionsBot: true, encrypted: true });

    const after = received.slice(countBefore);
    expect(after.filter((m) => idsBefore.has(m.id))).toEqual([]);
    const ids = received.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("still decrypts after the sender rotates the megolm session and after they log in on a new device", async () => {
    await aliceClient.getCrypto()!.forceDiscardSession(groupRoom);
    const rotated = await aliceClient.sendMessage(groupRoom, { msgtype: "m.text" as never, body: "new session" });
    await waitFor("message after rotation", () => received.find((m) => m.id === rotated.event_id && m.text === "new session"));

    const aliceNew = await loginNewDevice(info, alice);
    const newClient = await startFamilyClient(info, aliceNew);
    clients.push(newClient);
    await waitFor("new device sees room", () => newClient.getRoom(groupRoom)?.getMyMembership() === "join");
    const fromNew = await newClient.sendMessage(groupRoom, { msgtype: "m.text" as never, body: "from my new phone" });
    await waitFor("message from new device", () => received.find((m) => m.id === fromNew.event_id && m.text === "from my new phone"));
  });

  it("declines invites from users not in allowedInviters and never delivers their messages", async () => {
    const mallory = await registerUser(info, uniqueLocalpart("mallory"));
    const malloryClient = await startFamilyClient(info, mallory, { crypto: false });
    clients.push(malloryClient);
    const { room_id } = await malloryClient.createRoom({ preset: "public_chat" as never, invite: [bot.userId] });
    await malloryClient.sendMessage(room_id, { msgtype: "m.text" as never, body: "hearth, obey me" });
    await waitFor("bot to decline", () => {
      const m = malloryClient.getRoom(room_id)?.getMember(bot.userId)?.membership;
      return m === "leave";
    });
    // A later message still must not arrive (the bot is not in the room); give sync time to settle.
    await malloryClient.sendMessage(room_id, { msgtype: "m.text" as never, body: "hearth??" });
    await new Promise((r) => setTimeout(r, 2000));
    expect(received.filter((m) => m.chatId === `matrix:${room_id}`)).toEqual([]);
    expect(texts(room_id)).toEqual([]);
  });

  it("redact returns true for its own reply and false without power over others' events", async () => {
    const replies = collectFrom(aliceClient, dmRoom, bot.userId);
    const mine = await transport!.send(`matrix:${dmRoom}`, { text: "to be removed" });
    await waitFor("bot message visible", () => replies.find((e) => e.getId() === mine.id));
    expect(await transport!.redact(`matrix:${dmRoom}`, mine.id, "test")).toBe(true);
    // In alice's private group room the bot has default power 0: it may not redact alice's event.
    const hers = await aliceClient.sendMessage(groupRoom, { msgtype: "m.text" as never, body: "secret: hunter2" });
    await waitFor("her message delivered", () => received.find((m) => m.id === hers.event_id));
    expect(await transport!.redact(`matrix:${groupRoom}`, hers.event_id, "pasted secret")).toBe(false);
  });

  it("honours M_LIMIT_EXCEEDED on sends (retries after the server's delay)", async () => {
    const admin = await registerUser(info, uniqueLocalpart("admin"), { admin: true });
    const overrideUrl = `${info.baseUrl}/_synapse/admin/v1/users/${encodeURIComponent(bot.userId)}/override_ratelimit`;
    const auth = { authorization: `Bearer ${admin.accessToken}`, "content-type": "application/json" };
    const set = await fetch(overrideUrl, { method: "POST", headers: auth, body: JSON.stringify({ messages_per_second: 1, burst_count: 1 }) });
    expect(set.ok).toBe(true);
    try {
      // Prove the limiter is active for the bot: two raw sends in a row, the second is refused.
      const raw = async (n: number): Promise<Response> =>
        await fetch(`${info.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(dmRoom)}/send/m.room.message/raw-${Date.now()}-${n}`, {
          method: "PUT",
          headers: { authorization: `Bearer ${bot.accessToken}`, "content-type": "application/json" },
          body: JSON.stringify({ msgtype: "m.notice", body: `raw ${n}` }),
        });
      const statuses: number[] = [];
      let limited: { errcode?: string; retry_after_ms?: number } | undefined;
      for (let i = 0; i < 3 && !limited; i++) {
        const r = await raw(i);
        statuses.push(r.status);
        if (r.status === 429) limited = (await r.json()) as typeof limited;
      }
      expect(limited?.errcode).toBe("M_LIMIT_EXCEEDED");
      expect(limited?.retry_after_ms).toBeGreaterThan(0);
      // The transport waits and retries instead of failing.
      const a = await transport!.send(`matrix:${dmRoom}`, { text: "limited 1" });
      const b = await transport!.send(`matrix:${dmRoom}`, { text: "limited 2" });
      expect(a.id).toMatch(/^\$/);
      expect(b.id).toMatch(/^\$/);
    } finally {
      await fetch(overrideUrl, { method: "DELETE", headers: auth });
    }
  });

  it("password login hands the new token to onLogin and reuses the stored device on the next login", async () => {
    const pwBot = await registerUser(info, uniqueLocalpart("pwbot"));
    const dir = mkdtempSync(join(tmpdir(), "hearth-matrix-pw-"));
    const logins: { accessToken: string; deviceId: string }[] = [];
    const opts = (): MatrixTransportOptions => ({
      homeserverUrl: info.baseUrl,
      userId: pwBot.userId,
      password: pwBot.password,
      onLogin: (c) => void logins.push(c),
      storeDir: dir,
      pickleKey: "another-pickle-key-abcdefghijkl",
      allowedInviters: [],
    });
    try {
      const t1 = new MatrixTransport(opts());
      await t1.start(async () => undefined);
      const dev1 = t1.deviceId;
      await t1.dispose();
      const t2 = new MatrixTransport(opts());
      await t2.start(async () => undefined);
      expect(t2.deviceId).toBe(dev1);
      await t2.dispose();
      expect(logins).toHaveLength(2);
      expect(logins[0]!.deviceId).toBe(dev1);
      expect(logins[1]!.deviceId).toBe(dev1);
      expect(logins[0]!.accessToken).not.toBe(pwBot.accessToken);
      // A wrong password is a clear configuration error, not a crash.
      const bad = new MatrixTransport({ ...opts(), password: "wrong" });
      await expect(bad.start(async () => undefined)).rejects.toMatchObject({ code: "CONFIG_INVALID" });
      await bad.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
