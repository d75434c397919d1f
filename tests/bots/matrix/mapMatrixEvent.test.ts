import { describe, expect, it } from "vitest";
import type { Attachment } from "../../../src/core/message.ts";
import {
  htmlPillsBot,
  mapMatrixEvent,
  stripReplyFallback,
  textMentions,
  type MapContext,
  type MatrixEventLike,
  type MatrixMediaContent,
} from "../../../src/bots/matrix/mapMatrixEvent.ts";

const BOT = "@hearth:home.example";
const made: MatrixMediaContent[] = [];

function ctx(over: Partial<MapContext> = {}): MapContext {
  return {
    botUserId: BOT,
    mentionNames: ["Hearth", "Herd Bot"],
    chatType: "group",
    encrypted: true,
    senderDisplayName: "Ann",
    makeAttachment: (m): Attachment => {
      made.push(m);
      return { kind: m.kind, ...(m.size !== undefined ? { size: m.size } : {}), fetch: async () => new Uint8Array() };
    },
    ...over,
  };
}

function ev(content: Record<string, unknown>, over: Partial<MatrixEventLike> = {}): MatrixEventLike {
  return { event_id: "$e1", room_id: "!r:home.example", sender: "@ann:home.example", type: "m.room.message", origin_server_ts: 1700000000000, content, ...over };
}

describe("mapMatrixEvent", () => {
  it("maps a plain text message with platform-qualified ids", () => {
    const m = mapMatrixEvent(ev({ msgtype: "m.text", body: "buy milk" }), ctx({ chatType: "direct", encrypted: false }));
    expect(m).toEqual({
      id: "$e1",
      transport: "matrix",
      chatId: "matrix:!r:home.example",
      chatType: "direct",
      encrypted: false,
      sender: { id: "matrix:@ann:home.example", displayName: "Ann" },
      text: "buy milk",
      attachments: [],
      mentionsBot: false,
      timestamp: 1700000000000,
    });
  });

  it("detects mentions via m.mentions, pills, user id, display name and localpart — not substrings", () => {
    const m = (content: Record<string, unknown>): boolean => mapMatrixEvent(ev({ msgtype: "m.text", ...content }), ctx())!.mentionsBot;
    expect(m({ body: "x", "m.mentions": { user_ids: [BOT] } })).toBe(true);
    expect(m({ body: "Hearth: hi", format: "org.matrix.custom.html", formatted_body: `<a href="https://matrix.to/#/${encodeURIComponent(BOT)}">H</a>` })).toBe(true);
    expect(m({ body: `ping ${BOT}` })).toBe(true);
    expect(m({ body: "hey hearth, what's up" })).toBe(true);
    expect(m({ body: "ask herd bot please" })).toBe(true);
    expect(m({ body: "the hearthstone game" })).toBe(false);
    expect(m({ body: "nothing to see", "m.mentions": { user_ids: ["@bob:home.example"] } })).toBe(false);
  });

  it("ignores own events, notices, edits, non-messages and media without a source", () => {
    expect(mapMatrixEvent(ev({ msgtype: "m.text", body: "x" }, { sender: BOT }), ctx())).toBeNull();
    expect(mapMatrixEvent(ev({ msgtype: "m.notice", body: "x" }), ctx())).toBeNull();
    expect(mapMatrixEvent(ev({ msgtype: "m.text", body: "* x", "m.relates_to": { rel_type: "m.replace", event_id: "$a" } }), ctx())).toBeNull();
    expect(mapMatrixEvent(ev({ membership: "join" }, { type: "m.room.member" }), ctx())).toBeNull();
    expect(mapMatrixEvent(ev({ msgtype: "m.image", body: "a.png" }), ctx())).toBeNull();
  });

  it("maps replies, strips the quoted fallback, and reports replyToBot only when known", () => {
    const content = {
      msgtype: "m.text",
      body: `> <${BOT}> the answer is 42\n\nwhy?`,
      "m.relates_to": { "m.in_reply_to": { event_id: "$bot1" } },
    };
    const known = mapMatrixEvent(ev(content), ctx({ repliedToSender: BOT }))!;
    expect(known).toMatchObject({ text: "why?", replyToId: "$bot1", replyToBot: true, mentionsBot: false });
    const other = mapMatrixEvent(ev(content), ctx({ repliedToSender: "@bob:home.example" }))!;
    expect(other.replyToBot).toBe(false);
    const unknown = mapMatrixEvent(ev(content), ctx())!;
    expect("replyToBot" in unknown).toBe(false);
  });

  it("turns m.image (plain and encrypted) and image m.file into lazy attachments", () => {
    made.length = 0;
    const plain = mapMatrixEvent(ev({ msgtype: "m.image", body: "receipt.jpg", url: "mxc://s/abc", info: { mimetype: "image/jpeg", size: 1234 } }), ctx())!;
    expect(plain.text).toBe("");
    expect(plain.attachments).toHaveLength(1);
    expect(made[0]).toEqual({ kind: "image", url: "mxc://s/abc", mimeType: "image/jpeg", fileName: "receipt.jpg", size: 1234 });

    const file = { url: "mxc://s/enc", key: { kty: "oct", alg: "A256CTR", k: "k" }, iv: "iv", hashes: { sha256: "h" }, v: "v2" };
    mapMatrixEvent(ev({ msgtype: "m.file", body: "scan.png", file, info: { mimetype: "image/png" } }), ctx());
    expect(made[1]).toMatchObject({ kind: "image", file, mimeType: "image/png" });

    const captioned = mapMatrixEvent(ev({ msgtype: "m.image", body: "pharmacy receipt", filename: "IMG_1.jpg", url: "mxc://s/x" }), ctx())!;
    expect(captioned.text).toBe("pharmacy receipt");

    mapMatrixEvent(ev({ msgtype: "m.file", body: "doc.pdf", url: "mxc://s/pdf", info: { mimetype: "application/pdf", size: -5 } }), ctx());
    expect(made[3]).toEqual({ kind: "file", url: "mxc://s/pdf", mimeType: "application/pdf", fileName: "doc.pdf" });
  });

  it("formats emotes with the sender name", () => {
    expect(mapMatrixEvent(ev({ msgtype: "m.emote", body: "waves" }), ctx())!.text).toBe("* Ann waves");
  });
});

describe("mention helpers", () => {
  it("stripReplyFallback leaves ordinary quotes without a reply alone only when no fallback", () => {
    expect(stripReplyFallback("no quote")).toBe("no quote");
    expect(stripReplyFallback("> a\n> b\n\nc\nd")).toBe("c\nd");
  });
  it("textMentions handles punctuation and case", () => {
    expect(textMentions("HEARTH!", BOT, [])).toBe(true);
    expect(textMentions("@hearth do it", BOT, [])).toBe(true);
    expect(textMentions("unhearthly", BOT, [])).toBe(false);
  });
  it("htmlPillsBot accepts raw and %40-encoded ids only", () => {
    expect(htmlPillsBot(`<a href="https://matrix.to/#/${BOT}">x</a>`, BOT)).toBe(true);
    expect(htmlPillsBot(`<a href="https://matrix.to/#/%40hearth:home.example">x</a>`, BOT)).toBe(true);
    expect(htmlPillsBot(`<a href="https://matrix.to/#/@bob:home.example">x</a>`, BOT)).toBe(false);
  });
});
