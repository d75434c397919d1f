import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { InputError } from "../../../src/core/errors.ts";
import type { InboundMessage } from "../../../src/core/message.ts";
import { TelegramTransport, type TelegramTransportOptions } from "../../../src/bots/telegram/telegramTransport.ts";
import { BotApiEmulator } from "./botApiEmulator.ts";

/**
 * The real transport (grammY, runner, auto-retry, throttler, fetch) against the Bot API emulator
 * on 127.0.0.1. The test plays the family member through the emulator's user-side API.
 */

const TIMEOUT = 60_000;
let emu: BotApiEmulator;
let transport: TelegramTransport | undefined;
const inbox: InboundMessage[] = [];

beforeEach(async () => {
  emu = await BotApiEmulator.start();
  inbox.length = 0;
});

afterEach(async () => {
  await transport?.dispose();
  transport = undefined;
  await emu.close();
});

function makeTransport(extra: Partial<TelegramTransportOptions> = {}): TelegramTransport {
  transport = new TelegramTransport({ token: emu.token, apiRoot: emu.apiRoot, pollTimeoutSeconds: 2, editIntervalMs: 200, ...extra });
  return transport;
}

/** Start with a handler that records and (optionally) answers each message. */
async function startWith(t: TelegramTransport, answer?: (msg: InboundMessage) => Promise<void>): Promise<void> {
  await t.start(async (msg) => {
    inbox.push(msg);
    await answer?.(msg);
  });
}

/** A port nothing listens on right now (the webhook URL must name it before the server starts). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

const ann = () => emu.user(1001, "Ann", "ann_h");

describe("TelegramTransport against a Bot API emulator", () => {
  it("answers a direct text message through the handler (echo) and registers commands", { timeout: TIMEOUT }, async () => {
    const t = makeTransport({ commands: [{ command: "help", description: "What I can do" }] });
    await startWith(t, async (msg) => {
      await t.send(msg.chatId, { text: `echo: ${msg.text}`, replyToId: msg.id });
    });
    expect(emu.commands).toEqual([{ command: "help", description: "What I can do" }]);

    const chat = emu.privateChat(ann());
    const sent = emu.sendText({ chat, from: ann(), text: "hello <there> & you" });
    const [reply] = await emu.waitFor(() => emu.botMessages(chat.id).length > 0 && emu.botMessages(chat.id), "the echo");
    expect(reply!.text).toBe("echo: hello <there> & you");
    expect(reply!.replyToMessageId).toBe(sent.message_id);

    const msg = inbox[0]!;
    expect(msg).toMatchObject({
      transport: "telegram",
      chatType: "direct",
      chatId: `telegram:${chat.id}`,
      encrypted: false,
      sender: { id: "telegram:1001", displayName: "Ann" },
      mentionsBot: false,
      id: `${chat.id}:${sent.message_id}`,
    });
  });

  it("hands over a photo whose bytes match the largest size, and refuses an oversize one before download", { timeout: TIMEOUT }, async () => {
    const t = makeTransport({ maxImageBytes: 200_000 });
    const fetched: Uint8Array[] = [];
    const errors: unknown[] = [];
    await startWith(t, async (msg) => {
      for (const a of msg.attachments) {
        try {
          fetched.push(await a.fetch({ maxBytes: 150_000 }));
        } catch (err) {
          errors.push(err);
        }
      }
    });
    const chat = emu.privateChat(ann());
    const photo = randomBytes(120_000);
    emu.sendPhoto({ chat, from: ann(), bytes: photo, caption: "receipt" });
    await emu.waitFor(() => fetched.length === 1, "the photo download");
    expect(Buffer.from(fetched[0]!).equals(photo)).toBe(true);
    expect(inbox[0]!.text).toBe("receipt");
    expect(inbox[0]!.attachments[0]).toMatchObject({ kind: "image", size: photo.length });

    // Oversize (Telegram reports the size): refused without getFile or download.
    const getFilesBefore = emu.callsOf("getFile").length;
    const downloadsBefore = emu.downloads.length;
    emu.sendPhoto({ chat, from: ann(), bytes: randomBytes(180_000) });
    await emu.waitFor(() => errors.length === 1, "the refusal");
    const err = errors[0] as InputError;
    expect(err).toBeInstanceOf(InputError);
    expect(err.code).toBe("TELEGRAM_FILE_TOO_LARGE");
    expect(err.userMessage).toMatch(/146\.\d KB|smaller photo/);
    expect(err.userMessage).toContain("smaller photo");
    expect(emu.callsOf("getFile").length).toBe(getFilesBefore);
    expect(emu.downloads.length).toBe(downloadsBefore);
    expect(fetched).toHaveLength(1);
  });

  it("enforces the size limit while streaming when Telegram did not report the size", { timeout: TIMEOUT }, async () => {
    const t = makeTransport();
    const errors: unknown[] = [];
    await startWith(t, async (msg) => {
      await msg.attachments[0]!.fetch({ maxBytes: 100_000 }).catch((err: unknown) => errors.push(err));
    });
    const chat = emu.privateChat(ann());
    emu.sendPhoto({ chat, from: ann(), bytes: randomBytes(600_000), hideSize: true });
    await emu.waitFor(() => errors.length === 1, "the streaming refusal");
    expect(errors[0]).toBeInstanceOf(InputError);
    expect((errors[0] as InputError).code).toBe("TELEGRAM_FILE_TOO_LARGE");
    expect(emu.downloads).toHaveLength(1); // it did start, and stopped
  });

  it("maps an image sent as a document to an image attachment", { timeout: TIMEOUT }, async () => {
    const t = makeTransport();
    const fetched: Uint8Array[] = [];
    await startWith(t, async (msg) => {
      fetched.push(await msg.attachments[0]!.fetch({ maxBytes: 1_000_000 }));
    });
    const chat = emu.privateChat(ann());
    const bytes = randomBytes(5000);
    emu.sendDocument({ chat, from: ann(), bytes, mimeType: "image/png", fileName: "scan.png" });
    await emu.waitFor(() => fetched.length === 1, "the document download");
    expect(inbox[0]!.attachments[0]).toMatchObject({ kind: "image", mimeType: "image/png", fileName: "scan.png" });
    expect(Buffer.from(fetched[0]!).equals(bytes)).toBe(true);
  });

  it("sets mentionsBot in groups only when the bot is @-mentioned, and replyToBot for replies to it", { timeout: TIMEOUT }, async () => {
    const t = makeTransport();
    await startWith(t);
    const group = emu.groupChat(42, "Family");
    emu.sendText({ chat: group, from: ann(), text: "anyone seen the keys?" });
    emu.sendText({ chat: group, from: ann(), text: `@${emu.bot.username} what's on the list?` });
    await emu.waitFor(() => inbox.length === 2, "two group messages");
    expect(inbox.map((m) => [m.chatType, m.mentionsBot])).toEqual([
      ["group", false],
      ["group", true],
    ]);
    const sent = await t.send(`telegram:${group.id}`, { text: "Milk and eggs." });
    const botMsgId = Number(sent.id.split(":")[1]);
    emu.sendText({ chat: group, from: ann(), text: "thanks", replyTo: botMsgId });
    await emu.waitFor(() => inbox.length === 3, "the reply");
    expect(inbox[2]).toMatchObject({ mentionsBot: false, replyToBot: true, replyToId: `${group.id}:${botMsgId}` });
  });

  it("honours a 429 retry_after and then delivers the message", { timeout: TIMEOUT }, async () => {
    const t = makeTransport();
    await startWith(t);
    const chat = emu.privateChat(ann());
    emu.sendText({ chat, from: ann(), text: "hi" }); // makes the chat known to the emulator
    await emu.waitFor(() => inbox.length === 1, "the first message");
    emu.failNext("sendMessage", { error_code: 429, description: "Too Many Requests: retry after 1", retry_after: 1 });
    await t.send(`telegram:${chat.id}`, { text: "after the wait" });
    const calls = emu.callsOf("sendMessage");
    expect(calls).toHaveLength(2);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(990);
    expect(emu.botMessages(chat.id).map((m) => m.text)).toEqual(["after the wait"]);
  });

  it("splits a 5,000-character answer into two messages, none over 4,096", { timeout: TIMEOUT }, async () => {
    const t = makeTransport();
    await startWith(t);
    const chat = emu.privateChat(ann());
    emu.sendText({ chat, from: ann(), text: "tell me a long story" });
    await emu.waitFor(() => inbox.length === 1, "the question");
    const sentence = "The quick brown fox jumps over the lazy dog. ";
    const paragraphs = Array.from({ length: 10 }, (_, i) => `${i}: ${sentence.repeat(12)}`.trim());
    const answer = `${paragraphs.join("\n\n").slice(0, 4999).trimEnd()}.`.padEnd(5000, "!");
    expect(answer).toHaveLength(5000);
    await t.send(`telegram:${chat.id}`, { text: answer, markdown: true });
    const msgs = emu.botMessages(chat.id);
    expect(msgs).toHaveLength(2);
    for (const m of msgs) expect(m.text.length).toBeLessThanOrEqual(4096);
    expect(msgs.map((m) => m.text).join("\n\n")).toBe(answer); // split on a paragraph break, nothing lost
  });

  it("delivers model output with unbalanced Markdown intact, in HTML mode", { timeout: TIMEOUT }, async () => {
    const t = makeTransport();
    await startWith(t);
    const chat = emu.privateChat(ann());
    emu.sendText({ chat, from: ann(), text: "go" });
    await emu.waitFor(() => inbox.length === 1, "the question");
    const nasty = "Costs: 5 * 3 = 15 and a_b_c, see [draft and `unclosed code <b> & *stars_ _under";
    await t.send(`telegram:${chat.id}`, { text: nasty, markdown: true });
    const [m] = emu.botMessages(chat.id);
    expect(m!.parseMode).toBe("HTML");
    expect(m!.text).toBe(nasty);
  });

  it("falls back to plain text if Telegram still rejects the HTML", { timeout: TIMEOUT }, async () => {
    const t = makeTransport();
    await startWith(t);
    const chat = emu.privateChat(ann());
    emu.sendText({ chat, from: ann(), text: "go" });
    await emu.waitFor(() => inbox.length === 1, "the question");
    emu.failNext("sendMessage", { error_code: 400, description: "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 3" });
    await t.send(`telegram:${chat.id}`, { text: "**bold** answer", markdown: true });
    const [m] = emu.botMessages(chat.id);
    expect(m!.parseMode).toBeUndefined();
    expect(m!.text).toBe("**bold** answer");
  });

  it("turns buttons into an inline keyboard and a press into the button's command", { timeout: TIMEOUT }, async () => {
    const t = makeTransport();
    await startWith(t);
    const chat = emu.privateChat(ann());
    emu.sendText({ chat, from: ann(), text: "turn off the lights" });
    await emu.waitFor(() => inbox.length === 1, "the request");
    const longCommand = `/confirm ${"x".repeat(80)}`; // over Telegram's 64-byte callback_data limit
    await t.send(`telegram:${chat.id}`, {
      text: "Turn off 3 lights?",
      buttons: [
        { label: "Yes", command: "/confirm 12" },
        { label: "Long", command: longCommand },
      ],
    });
    const [m] = emu.botMessages(chat.id);
    const buttons = m!.replyMarkup!.inline_keyboard.flat() as { text: string; callback_data: string }[];
    expect(buttons.map((b) => b.text)).toEqual(["Yes", "Long"]);
    const q1 = emu.pressButton({ from: ann(), message: m!, data: buttons[0]!.callback_data });
    await emu.waitFor(() => inbox.length === 2, "the first press");
    emu.pressButton({ from: ann(), message: m!, data: buttons[1]!.callback_data });
    await emu.waitFor(() => inbox.length === 3, "the second press");
    expect(inbox[1]).toMatchObject({ text: "/confirm 12", chatType: "direct", mentionsBot: true, replyToBot: true, sender: { id: "telegram:1001" } });
    expect(inbox[2]!.text).toBe(longCommand);
    await emu.waitFor(() => emu.answeredCallbacks.some((a) => a.callback_query_id === q1), "the callback answer");
  });

  it("streams an answer by throttled edits; the final text wins", { timeout: TIMEOUT }, async () => {
    const t = makeTransport({ editIntervalMs: 300 });
    await startWith(t);
    const chat = emu.privateChat(ann());
    emu.sendText({ chat, from: ann(), text: "count" });
    await emu.waitFor(() => inbox.length === 1, "the question");
    const reply = await t.send(`telegram:${chat.id}`, { text: "…", markdown: true });
    expect(reply.edit).toBeTypeOf("function");
    const edits: Promise<void>[] = [];
    let text = "";
    for (let i = 0; i < 20; i++) {
      text += `word${i} `;
      edits.push(reply.edit!(text));
    }
    await Promise.all(edits);
    const [m] = emu.botMessages(chat.id);
    expect(m!.text).toBe(text.trim());
    // Coalesced: far fewer Bot API edits than edit() calls.
    expect(m!.edits).toBeGreaterThanOrEqual(1);
    expect(m!.edits).toBeLessThan(10);
  });

  it("continues a streamed answer in a new message past 4,096 characters, keeping the buttons last", { timeout: TIMEOUT }, async () => {
    const t = makeTransport({ editIntervalMs: 100 });
    await startWith(t);
    const chat = emu.privateChat(ann());
    emu.sendText({ chat, from: ann(), text: "long please" });
    await emu.waitFor(() => inbox.length === 1, "the question");
    const reply = await t.send(`telegram:${chat.id}`, { text: "Thinking", markdown: true, buttons: [{ label: "Stop", command: "/stop" }] });
    const para = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(30).trim();
    const full = [para, para, para].join("\n\n"); // ≈ 5,200 characters
    await reply.edit!(para);
    await reply.edit!(full);
    const msgs = emu.botMessages(chat.id);
    expect(msgs).toHaveLength(2);
    expect(msgs.map((m) => m.text).join("\n\n")).toBe(full);
    expect(msgs[0]!.replyMarkup).toBeUndefined();
    expect(msgs[1]!.replyMarkup?.inline_keyboard.flat()).toEqual([{ text: "Stop", callback_data: "/stop" }]);
  });

  it("offers no edit handle when streamEdits is off", { timeout: TIMEOUT }, async () => {
    const t = makeTransport({ streamEdits: false });
    await startWith(t);
    const chat = emu.privateChat(ann());
    emu.sendText({ chat, from: ann(), text: "hi" });
    await emu.waitFor(() => inbox.length === 1, "the question");
    const reply = await t.send(`telegram:${chat.id}`, { text: "whole answer" });
    expect(reply.edit).toBeUndefined();
  });

  it("sends typing actions and redacts where permitted", { timeout: TIMEOUT }, async () => {
    const t = makeTransport();
    await startWith(t);
    const chat = emu.privateChat(ann());
    const group = emu.groupChat(7, "Family");
    const secret = emu.sendText({ chat, from: ann(), text: "my pin is 1234" });
    const inGroup = emu.sendText({ chat: group, from: ann(), text: "wifi password is hunter2" });
    await emu.waitFor(() => inbox.length === 2, "the messages");
    await t.setTyping(`telegram:${chat.id}`, true);
    await t.setTyping(`telegram:${chat.id}`, false);
    expect(emu.chatActions).toEqual([expect.objectContaining({ chat_id: chat.id, action: "typing" })]);

    expect(await t.redact(`telegram:${chat.id}`, inbox[0]!.id, "secret pasted")).toBe(true);
    expect(emu.message(chat.id, secret.message_id)!.deleted).toBe(true);
    // Not an admin in the group: Telegram refuses, we report false.
    expect(await t.redact(`telegram:${group.id}`, inbox[1]!.id, "secret pasted")).toBe(false);
    emu.setBotAdmin(group.id, true);
    expect(await t.redact(`telegram:${group.id}`, inbox[1]!.id, "secret pasted")).toBe(true);
    expect(emu.message(group.id, inGroup.message_id)!.deleted).toBe(true);
  });

  it("fails start with a clear message when the token is rejected", { timeout: TIMEOUT }, async () => {
    const [id] = emu.token.split(":");
    const t = makeTransport({ token: `${id}:${"A".repeat(35)}` });
    await expect(t.start(async () => {})).rejects.toMatchObject({ code: "CONFIG_INVALID", userMessage: expect.stringContaining("hearth vault add telegram_token") });
  });

  it("receives updates through a webhook with the secret token", { timeout: TIMEOUT }, async () => {
    const port = await freePort();
    const t2 = makeTransport({ mode: "webhook", webhook: { url: `http://127.0.0.1:${port}/tg-hook`, port, secretToken: "s3cret-Token" } });
    await startWith(t2, async (msg) => {
      await t2.send(msg.chatId, { text: `got ${msg.text}` });
    });
    expect(emu.webhook).toEqual({ url: `http://127.0.0.1:${port}/tg-hook`, secret_token: "s3cret-Token" });
    const chat = emu.privateChat(ann());
    emu.sendText({ chat, from: ann(), text: "ping" });
    await emu.waitFor(() => emu.botMessages(chat.id).length === 1, "the webhook reply");
    expect(emu.botMessages(chat.id)[0]!.text).toBe("got ping");

    // A request without the secret is refused.
    const r = await fetch(`http://127.0.0.1:${port}/tg-hook`, { method: "POST", body: JSON.stringify({ update_id: 999 }), headers: { "content-type": "application/json" } });
    expect(r.status).toBe(401);
  });
});
