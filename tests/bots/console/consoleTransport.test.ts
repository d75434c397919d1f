import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { ConsoleTransport, fileAttachment } from "../../../src/bots/console/consoleTransport.ts";
import type { InboundMessage } from "../../../src/core/message.ts";

describe("console transport", () => {
  it("turns lines into direct messages from the configured member, /image into an attachment", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let out = "";
    output.on("data", (d) => (out += String(d)));
    const seen: InboundMessage[] = [];
    let closed!: () => void;
    const done = new Promise<void>((r) => (closed = r));
    const t = new ConsoleTransport({ user: "ann", input, output, onClose: () => closed() });
    await t.start(async (m) => {
      seen.push(m);
      const sent = await t.send(m.chatId, { text: "Hel" });
      await sent.edit!("Hello!");
    });
    input.end("hi\n\n/image ./receipt.jpg\n");
    await done;
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ text: "hi", chatType: "direct", sender: { id: "console:ann" }, chatId: "console:ann" });
    expect(seen[1]!.attachments).toHaveLength(1);
    expect(seen[1]!.attachments[0]!.fileName).toBe("receipt.jpg");
    expect(out).toContain("hearth> Hello!");
  });

  it("file attachments check the size before reading and name missing files", async () => {
    const d = mkdtempSync(join(tmpdir(), "hearth-con-"));
    const f = join(d, "big.jpg");
    writeFileSync(f, Buffer.alloc(2048, 1));
    await expect(fileAttachment(f).fetch({ maxBytes: 1024 })).rejects.toThrow(/limit is/);
    expect((await fileAttachment(f).fetch({ maxBytes: 4096 })).length).toBe(2048);
    await expect(fileAttachment(join(d, "nope.jpg")).fetch({ maxBytes: 4096 })).rejects.toThrow(/no such file/);
  });
});
