import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openVault } from "../../src/app/openVault.ts";
import { buildApp, type Runtime } from "../../src/app/runtime.ts";
import { createTransports } from "../../src/app/transports.ts";
import { configureLogger } from "../../src/core/logger.ts";
import { BotApiEmulator } from "../bots/telegram/botApiEmulator.ts";
import { ScriptedEngine } from "../helpers/scriptedEngine.ts";
import { tempHome } from "../helpers/tempHome.ts";

/** Hearth on Telegram end to end: Bot API emulator ↔ transport ↔ pipeline ↔ receipts ledger. */
let emu: BotApiEmulator;
let home: ReturnType<typeof tempHome>;
let rt: Runtime;
let engine: ScriptedEngine;
const fixture = join(import.meta.dirname, "../fixtures/receipts/sroie/X51005712017.jpg");

beforeAll(async () => {
  configureLogger({ level: "silent" });
  emu = await BotApiEmulator.start({ botUsername: "hearth_test_bot" });
  home = tempHome({
    log: { level: "silent" },
    telegram: { enabled: true, apiRoot: emu.apiRoot },
    receipts: { dateOrder: "DMY" },
    people: [{ name: "ann", role: "admin", identities: ["telegram:1001"] }],
  });
  const keyFile = join(home.dir, "vault.key");
  writeFileSync(keyFile, randomBytes(32));
  chmodSync(keyFile, 0o600);
  const loaded = { ...home, vaultEnv: { ...home.vaultEnv, keyFile }, config: { ...home.config, vault: { ...home.config.vault, keychain: false } } };
  const vault = await openVault(loaded, { create: true });
  await vault.add("telegram_token", emu.token, { allowHosts: ["127.0.0.1"] });
  vault.dispose();
  engine = new ScriptedEngine();
  rt = await buildApp(loaded, { engine });
  for (const t of await createTransports(rt.app, loaded, rt.vault)) await rt.app.attach(t);
}, 120_000);

afterAll(async () => {
  await rt?.app.dispose(200);
  await emu?.close();
  home?.cleanup();
});

describe("Telegram end to end", () => {
  const ann = () => emu.user(1001, "Ann");

  it("registers the command menu and answers a direct message", async () => {
    expect(emu.commands.map((c) => c.command)).toEqual(expect.arrayContaining(["help", "receipts", "reset"]));
    const chat = emu.privateChat(ann());
    emu.sendText({ chat, from: ann(), text: "hello from telegram" });
    const reply = await emu.waitFor(() => emu.botMessages(chat.id).find((m) => m.text.includes("echo:")), "the reply");
    expect(reply.text).toBe("echo: hello from telegram");
  });

  it("refuses a stranger once, at no model cost", async () => {
    const stranger = emu.user(2002, "Mallory");
    const chat = emu.privateChat(stranger);
    const before = engine.requests.length;
    emu.sendText({ chat, from: stranger, text: "hi" });
    emu.sendText({ chat, from: stranger, text: "hi again" });
    await emu.waitFor(() => emu.botMessages(chat.id).length >= 1, "the refusal");
    await new Promise((r) => setTimeout(r, 1500));
    expect(emu.botMessages(chat.id)).toHaveLength(1);
    expect(emu.botMessages(chat.id)[0]!.text).toMatch(/only talk with the family/);
    expect(engine.requests.length).toBe(before);
  });

  it("stays quiet in a group until mentioned", async () => {
    const group = emu.groupChat(-500, "Family");
    const before = engine.requests.length;
    emu.sendText({ chat: group, from: ann(), text: "dinner at 7?" });
    emu.sendText({ chat: group, from: ann(), text: "@hearth_test_bot what's up" });
    const reply = await emu.waitFor(() => emu.botMessages(group.id).find((m) => m.text.includes("echo:")), "the group reply");
    expect(reply.text).toContain("what's up");
    expect(emu.botMessages(group.id)).toHaveLength(1);
    expect(engine.requests.length).toBe(before + 1);
  });

  it("files a receipt photo in the ledger", async () => {
    const chat = emu.privateChat(ann());
    emu.sendPhoto({ chat, from: ann(), bytes: new Uint8Array(readFileSync(fixture)) });
    const reply = await emu.waitFor(() => emu.botMessages(chat.id).find((m) => /Filed as receipt #\d+/.test(m.text)), "the filing reply", 120_000);
    expect(reply.text).toMatch(/13\.10/);
    expect(reply.replyMarkup?.inline_keyboard.flat().length).toBeGreaterThan(0);
    emu.sendText({ chat, from: ann(), text: "/receipts" });
    const list = await emu.waitFor(() => emu.botMessages(chat.id).find((m) => /#1 .*13\.10/.test(m.text)), "the receipts list");
    expect(list.text).toMatch(/Gerbang Alaf/i);
  }, 150_000);

  it("deletes a message with a pasted secret and tells the handle", async () => {
    const chat = emu.privateChat(ann());
    const pasted = `xoxb-${randomBytes(6).readUIntBE(0, 6)}-${randomBytes(6).readUIntBE(0, 6)}-${randomBytes(12).toString("hex")}`;
    const msg = emu.sendText({ chat, from: ann(), text: `slack token ${pasted}` });
    const reply = await emu.waitFor(() => emu.botMessages(chat.id).find((m) => m.text.includes("{{secret:")), "the vault reply");
    expect(reply.text).toMatch(/deleted your message/);
    expect(emu.message(chat.id, msg.message_id)?.deleted).toBe(true);
    const prompts = JSON.stringify(engine.requests.map((r) => r.history));
    expect(prompts).not.toContain(pasted);
  });
});
