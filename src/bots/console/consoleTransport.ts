import { stat, readFile } from "node:fs/promises";
import { createInterface, type Interface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { InputError } from "../../core/errors.ts";
import type { Attachment, InboundMessage, OutboundReply } from "../../core/message.ts";
import type { SentReply, Transport } from "../../core/transport.ts";

/** Options for {@link ConsoleTransport}. */
export interface ConsoleTransportOptions {
  /** Family member name to chat as (sender id `console:<name>`). */
  user: string;
  input?: Readable;
  output?: Writable;
  /** Name shown before Hearth's replies. */
  botName?: string;
  /** Called when input ends (Ctrl-D) so the app can shut down. */
  onClose?: () => void;
}

/** Guess an image MIME type from a file name (the receipts pipeline sniffs content anyway). */
function mimeFromName(path: string): string | undefined {
  const ext = path.toLowerCase().split(".").pop();
  return ext === "jpg" || ext === "jpeg" ? "image/jpeg" : ext === "png" ? "image/png" : ext === "webp" ? "image/webp" : undefined;
}

/** A local file as an attachment; the size limit is checked before reading. */
export function fileAttachment(path: string): Attachment {
  const mimeType = mimeFromName(path);
  return {
    kind: "image",
    fileName: path.split(/[\\/]/).pop() ?? path,
    ...(mimeType ? { mimeType } : {}),
    async fetch({ maxBytes }) {
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch {
        throw new InputError("FILE_NOT_FOUND", `I can't read ${path}: no such file. Check the path (relative paths start from where you ran hearth).`);
      }
      if (size > maxBytes) {
        throw new InputError(
          "FILE_TOO_LARGE",
          `${path} is ${(size / 1e6).toFixed(1)} MB; the limit is ${(maxBytes / 1e6).toFixed(0)} MB. Send a smaller photo (a phone photo of a receipt is usually 1–5 MB).`,
        );
      }
      return new Uint8Array(await readFile(path));
    },
  };
}

/**
 * The terminal chat: `hearth chat`. Each line is a message from the configured family member in a
 * direct chat; `/image PATH` sends a photo. Streamed answers are printed as they grow.
 */
export class ConsoleTransport implements Transport {
  readonly kind = "console" as const;
  readonly #options: ConsoleTransportOptions;
  readonly #out: Writable;
  #rl: Interface | undefined;
  #seq = 0;
  #openLine = false;

  constructor(options: ConsoleTransportOptions) {
    this.#options = options;
    this.#out = options.output ?? process.stdout;
  }

  /** Chat id of the console conversation. */
  get chatId(): string {
    return `console:${this.#options.user}`;
  }

  /** Turn one typed line into an inbound message (pure; exported for tests). */
  toMessage(line: string): InboundMessage | null {
    const text = line.replace(/\r$/, "");
    const image = /^\/image\s+(.+)$/.exec(text.trim());
    this.#seq++;
    return {
      id: `console-${Date.now()}-${this.#seq}`,
      transport: "console",
      chatId: this.chatId,
      chatType: "direct",
      encrypted: false,
      sender: { id: `console:${this.#options.user}`, displayName: this.#options.user },
      text: image ? "" : text,
      attachments: image ? [fileAttachment(image[1]!.trim().replace(/^["']|["']$/g, ""))] : [],
      mentionsBot: true,
      timestamp: Date.now(),
    };
  }

  async start(onMessage: (msg: InboundMessage) => Promise<void>): Promise<void> {
    const input = this.#options.input ?? process.stdin;
    const interactive = (input as { isTTY?: boolean }).isTTY === true;
    this.#rl = createInterface({ input, output: interactive ? this.#out : undefined, terminal: interactive });
    if (interactive) {
      this.#out.write(`Chatting as ${this.#options.user}. /help for commands, /image PATH to send a receipt, Ctrl-D to quit.\n`);
      this.#rl.setPrompt("you> ");
      this.#rl.prompt();
    }
    // Lines are handled one after another, like a person typing and waiting for an answer.
    let chain = Promise.resolve();
    this.#rl.on("line", (line) => {
      const msg = this.toMessage(line);
      if (!msg || (msg.text.trim() === "" && msg.attachments.length === 0)) {
        if (interactive) this.#rl?.prompt();
        return;
      }
      chain = chain.then(async () => {
        await onMessage(msg);
        this.#endLine();
        if (interactive) this.#rl?.prompt();
      });
    });
    this.#rl.on("close", () => {
      void chain.then(() => this.#options.onClose?.());
    });
  }

  #endLine(): void {
    if (this.#openLine) {
      this.#out.write("\n");
      this.#openLine = false;
    }
  }

  async send(_chatId: string, reply: OutboundReply): Promise<SentReply> {
    this.#endLine();
    const name = this.#options.botName ?? "hearth";
    let shown = reply.text;
    this.#out.write(`${name}> ${reply.text}`);
    this.#openLine = true;
    if (reply.buttons?.length) {
      this.#out.write(`\n  ${reply.buttons.map((b) => `[${b.label}: ${b.command}]`).join("  ")}`);
    }
    const id = `console-out-${++this.#seq}`;
    return {
      id,
      edit: async (text: string) => {
        // A terminal cannot rewrite earlier lines portably: print the new tail when the text grew,
        // or the whole corrected text on a fresh line otherwise.
        if (text.startsWith(shown)) this.#out.write(text.slice(shown.length));
        else this.#out.write(`\n${name}> ${text}`);
        shown = text;
        this.#openLine = true;
      },
    };
  }

  async dispose(): Promise<void> {
    this.#endLine();
    this.#rl?.close();
  }
}
