import { describe, expect, it } from "vitest";
import type { Message, Update, User } from "grammy/types";
import { mapTelegramUpdate, type TelegramMappingContext } from "../../../src/bots/telegram/mapTelegramUpdate.ts";

const BOT: User = { id: 555, is_bot: true, first_name: "Hearth", username: "HearthHomeBot" };
const ANN: User = { id: 1001, is_bot: false, first_name: "Ann", last_name: "Lee" };
const fetchedIds: string[] = [];
const ctx: TelegramMappingContext = {
  botId: BOT.id,
  botUsername: "hearthhomebot",
  fetchFile: async (file) => {
    fetchedIds.push(file.fileId);
    return new TextEncoder().encode(file.fileId);
  },
  resolveCallbackData: (data) => (data.startsWith("hearth:cb:") ? (data === "hearth:cb:known" ? "/confirm long" : null) : data),
};
const PRIVATE = { id: 1001, type: "private", first_name: "Ann" } as const;
const GROUP = { id: -1001234, type: "supergroup", title: "Family" } as const;

function msg(fields: Partial<Message> & { chat?: Message["chat"] }): Update {
  return { update_id: 1, message: { message_id: 10, date: 1_700_000_000, chat: PRIVATE, from: ANN, ...fields } as Message } as Update;
}

describe("mapTelegramUpdate", () => {
  it("maps a private text message", () => {
    expect(mapTelegramUpdate(msg({ text: "hello" }), ctx)).toMatchObject({
      id: "1001:10",
      transport: "telegram",
      chatId: "telegram:1001",
      chatType: "direct",
      encrypted: false,
      sender: { id: "telegram:1001", displayName: "Ann Lee" },
      text: "hello",
      attachments: [],
      mentionsBot: false,
      timestamp: 1_700_000_000_000,
    });
  });

  it("maps groups and supergroups to group and ignores channels", () => {
    expect(mapTelegramUpdate(msg({ chat: GROUP, text: "hi" }), ctx)!.chatType).toBe("group");
    expect(mapTelegramUpdate(msg({ chat: { id: -5, type: "group", title: "Old" }, text: "hi" }), ctx)!.chatType).toBe("group");
    expect(mapTelegramUpdate(msg({ chat: { id: -100999, type: "channel", title: "News" } as never, text: "hi" }), ctx)).toBeNull();
  });

  it("detects @-mentions of the bot case-insensitively, and text mentions", () => {
    const text = "hey @HearthHomeBot and @someone";
    const withEntities = msg({ chat: GROUP, text, entities: [{ type: "mention", offset: 4, length: 14 }, { type: "mention", offset: 23, length: 8 }] });
    expect(mapTelegramUpdate(withEntities, ctx)!.mentionsBot).toBe(true);
    const other = msg({ chat: GROUP, text: "@someone hi", entities: [{ type: "mention", offset: 0, length: 8 }] });
    expect(mapTelegramUpdate(other, ctx)!.mentionsBot).toBe(false);
    const textMention = msg({ chat: GROUP, text: "Hearth, lights", entities: [{ type: "text_mention", offset: 0, length: 6, user: BOT }] });
    expect(mapTelegramUpdate(textMention, ctx)!.mentionsBot).toBe(true);
    // The name in plain text without an entity is not a mention (Telegram marks real ones).
    expect(mapTelegramUpdate(msg({ chat: GROUP, text: "@HearthHomeBot" }), ctx)!.mentionsBot).toBe(false);
  });

  it("uses UTF-16 offsets for entities after emoji", () => {
    const text = "😀😀 @hearthhomebot";
    const u = msg({ chat: GROUP, text, entities: [{ type: "mention", offset: 5, length: 14 }] });
    expect(mapTelegramUpdate(u, ctx)!.mentionsBot).toBe(true);
  });

  it("normalises /cmd@bot to /cmd and ignores commands for other bots", () => {
    const mine = mapTelegramUpdate(msg({ chat: GROUP, text: "/receipt@HearthHomeBot 12.50 pharmacy" }), ctx)!;
    expect(mine.text).toBe("/receipt 12.50 pharmacy");
    expect(mine.mentionsBot).toBe(true);
    expect(mapTelegramUpdate(msg({ text: "/help" }), ctx)!.text).toBe("/help");
    expect(mapTelegramUpdate(msg({ chat: GROUP, text: "/start@OtherBot" }), ctx)).toBeNull();
  });

  it("sets replyToBot only for replies to the bot's own messages", () => {
    const toBot = msg({ text: "yes", reply_to_message: { message_id: 9, date: 1, chat: PRIVATE, from: BOT, text: "Sure?" } as never });
    expect(mapTelegramUpdate(toBot, ctx)).toMatchObject({ replyToId: "1001:9", replyToBot: true });
    const toAnn = msg({ text: "yes", reply_to_message: { message_id: 8, date: 1, chat: PRIVATE, from: ANN, text: "x" } as never });
    expect(mapTelegramUpdate(toAnn, ctx)).toMatchObject({ replyToId: "1001:8", replyToBot: false });
    expect(mapTelegramUpdate(msg({ text: "x" }), ctx)!.replyToId).toBeUndefined();
  });

  it("takes the largest photo size whatever the order, with the caption as text", async () => {
    const u = msg({
      caption: "pharmacy receipt",
      photo: [
        { file_id: "mid", file_unique_id: "m", width: 320, height: 240, file_size: 10_000 },
        { file_id: "big", file_unique_id: "b", width: 1280, height: 960, file_size: 90_000 },
        { file_id: "small", file_unique_id: "s", width: 90, height: 60, file_size: 900 },
      ],
    });
    const m = mapTelegramUpdate(u, ctx)!;
    expect(m.text).toBe("pharmacy receipt");
    expect(m.attachments).toHaveLength(1);
    expect(m.attachments[0]).toMatchObject({ kind: "image", mimeType: "image/jpeg", size: 90_000 });
    expect(new TextDecoder().decode(await m.attachments[0]!.fetch({ maxBytes: 1e6 }))).toBe("big");
  });

  it("maps an image document as an image and other documents as files", () => {
    const img = msg({ document: { file_id: "d1", file_unique_id: "u", mime_type: "image/png", file_name: "scan.png", file_size: 5 } });
    expect(mapTelegramUpdate(img, ctx)!.attachments[0]).toMatchObject({ kind: "image", mimeType: "image/png", fileName: "scan.png", size: 5 });
    const pdf = msg({ document: { file_id: "d2", file_unique_id: "u", mime_type: "application/pdf", file_name: "eob.pdf" } });
    expect(mapTelegramUpdate(pdf, ctx)!.attachments[0]).toMatchObject({ kind: "file", mimeType: "application/pdf" });
  });

  it("ignores empty, service and bot-sent messages", () => {
    expect(mapTelegramUpdate(msg({ text: "   " }), ctx)).toBeNull();
    expect(mapTelegramUpdate(msg({ sticker: {} as never }), ctx)).toBeNull();
    expect(mapTelegramUpdate(msg({ text: "beep", from: { id: 9, is_bot: true, first_name: "Other" } }), ctx)).toBeNull();
    expect(mapTelegramUpdate({ update_id: 3, edited_message: { message_id: 1, date: 1, chat: PRIVATE, from: ANN, text: "x", edit_date: 2 } as never }, ctx)).toBeNull();
  });

  it("maps a button press to its command, resolving long-command keys", () => {
    const press = (data: string): Update => ({
      update_id: 2,
      callback_query: { id: "q1", from: ANN, chat_instance: "c", data, message: { message_id: 20, date: 1, chat: GROUP, from: BOT, text: "Sure?" } as never },
    });
    expect(mapTelegramUpdate(press("/confirm 12"), ctx)).toMatchObject({
      id: "callback:q1",
      text: "/confirm 12",
      chatId: `telegram:${GROUP.id}`,
      chatType: "group",
      mentionsBot: true,
      replyToBot: true,
      replyToId: `${GROUP.id}:20`,
      sender: { id: "telegram:1001" },
    });
    expect(mapTelegramUpdate(press("hearth:cb:known"), ctx)!.text).toBe("/confirm long");
    expect(mapTelegramUpdate(press("hearth:cb:expired"), ctx)).toBeNull();
  });

  it("does not download anything while mapping", () => {
    fetchedIds.length = 0;
    mapTelegramUpdate(msg({ photo: [{ file_id: "p", file_unique_id: "p", width: 1, height: 1 }] }), ctx);
    expect(fetchedIds).toEqual([]);
  });
});
