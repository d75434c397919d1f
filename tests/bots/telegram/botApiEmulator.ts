import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import type { Chat, InlineKeyboardMarkup, Message, MessageEntity, PhotoSize, Update, User } from "grammy/types";

/**
 * A small Telegram Bot API emulator for tests, on 127.0.0.1. It implements the methods Hearth's
 * Telegram transport uses with the documented shapes — `{ok:true,result}` and
 * `{ok:false,error_code,description,parameters?:{retry_after}}` — plus a "user side" API so a test
 * can play a person: send text, photos and documents, press inline buttons, and read what the
 * bot sent (the *visible* text after Telegram's HTML parsing).
 *
 * Why not the npm package `telegram-test-api`: it has no getFile / file download, no photos,
 * no sendChatAction, no setMyCommands, no HTML entity parsing and no fault injection (429).
 *
 * HTML parsing is deliberately a little stricter than Telegram's (a bare `&` is an error too), so
 * an escaping bug in the transport shows up here rather than in production.
 */

/** A request the bot made, for assertions (method, decoded parameters, time received). */
export interface EmulatorCall {
  method: string;
  params: Record<string, unknown>;
  at: number;
}

/** A message in the emulated chat as a person would see it. */
export interface EmulatedMessage {
  message_id: number;
  chat: Chat;
  from: User;
  /** Visible text (entities parsed out). */
  text: string;
  entities: MessageEntity[];
  /** What the bot sent in `text`, before parsing. */
  rawText: string;
  parseMode?: string;
  replyMarkup?: InlineKeyboardMarkup;
  replyToMessageId?: number;
  edits: number;
  deleted: boolean;
  date: number;
}

/** A fault to return instead of performing a call. */
export interface InjectedFault {
  error_code: number;
  description: string;
  retry_after?: number;
}

interface StoredFile {
  file_id: string;
  file_unique_id: string;
  bytes: Uint8Array;
  file_path: string;
  /** When true, sizes are not reported and the download is sent chunked (no Content-Length). */
  hideSize: boolean;
}

interface Waiter {
  res: ServerResponse;
  offset: number;
  limit: number;
  allowed: string[] | undefined;
  timer: NodeJS.Timeout;
}

class ApiError extends Error {
  readonly code: number;
  readonly retryAfter: number | undefined;
  constructor(code: number, description: string, retryAfter?: number) {
    super(description);
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

const badRequest = (what: string) => new ApiError(400, `Bad Request: ${what}`);

/** The Telegram Bot API stand-in; create with {@link BotApiEmulator.start}, end with `close()`. */
export class BotApiEmulator {
  readonly token: string;
  readonly bot: User;
  apiRoot = "";
  readonly calls: EmulatorCall[] = [];
  /** file_path of every completed or attempted download. */
  readonly downloads: string[] = [];
  readonly chatActions: { chat_id: number; action: string; at: number }[] = [];
  readonly answeredCallbacks: { callback_query_id: string; text?: string }[] = [];
  commands: { command: string; description: string }[] = [];
  webhook: { url: string; secret_token?: string } | undefined;

  readonly #server: Server;
  readonly #updates: Update[] = [];
  #nextUpdateId = 1;
  #nextMessageId = 1;
  #waiter: Waiter | undefined;
  readonly #messages = new Map<string, EmulatedMessage>();
  readonly #files = new Map<string, StoredFile>();
  readonly #filesByPath = new Map<string, StoredFile>();
  readonly #faults = new Map<string, InjectedFault[]>();
  readonly #callbacks = new Set<string>();
  readonly #admins = new Set<number>();
  #delivering = false;
  #closed = false;

  private constructor(server: Server, token: string, bot: User) {
    this.#server = server;
    this.token = token;
    this.bot = bot;
  }

  /** Start an emulator on a free port of 127.0.0.1. */
  static async start(options: { botUsername?: string } = {}): Promise<BotApiEmulator> {
    const botId = 7_000_000_000 + Math.floor(Math.random() * 1_000_000);
    const token = `${botId}:${randomBytes(26).toString("base64url")}`;
    const bot: User = { id: botId, is_bot: true, first_name: "Hearth", username: options.botUsername ?? "hearth_test_bot" };
    let emu: BotApiEmulator | undefined;
    const server = createServer((req, res) => void emu!.#handle(req, res));
    emu = new BotApiEmulator(server, token, bot);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    emu.apiRoot = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return emu;
  }

  /** Stop the server and drop every pending long poll. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#waiter) {
      clearTimeout(this.#waiter.timer);
      this.#waiter.res.destroy();
      this.#waiter = undefined;
    }
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  // ---------------------------------------------------------------- user side

  /** A person. */
  user(id: number, firstName: string, username?: string): User {
    return { id, is_bot: false, first_name: firstName, ...(username !== undefined && { username }) };
  }

  /** The private chat between `user` and the bot. */
  privateChat(user: User): Chat.PrivateChat {
    return { id: user.id, type: "private", first_name: user.first_name };
  }

  /** A supergroup (ids of supergroups are negative, -100…). */
  groupChat(id: number, title: string): Chat.SupergroupChat {
    return { id: -1_000_000_000_000 - id, type: "supergroup", title };
  }

  /** Make the bot an administrator of a group (so it may delete others' messages). */
  setBotAdmin(chatId: number, admin: boolean): void {
    if (admin) this.#admins.add(chatId);
    else this.#admins.delete(chatId);
  }

  /** A person sends text; mention and command entities are added like a Telegram client does. */
  sendText(options: { chat: Chat; from: User; text: string; entities?: MessageEntity[]; replyTo?: number }): Message {
    const entities = options.entities ?? autoEntities(options.text);
    return this.#userMessage(options.chat, options.from, {
      text: options.text,
      ...(entities.length > 0 && { entities }),
      ...this.#replyTo(options.chat, options.replyTo),
    });
  }

  /**
   * A person sends a photo. Telegram stores several sizes; `bytes` becomes the largest, the others
   * are small thumbnails with different content. `hideSize` leaves sizes unreported.
   */
  sendPhoto(options: { chat: Chat; from: User; bytes: Uint8Array; caption?: string; width?: number; height?: number; hideSize?: boolean }): Message {
    const w = options.width ?? 1280;
    const h = options.height ?? 960;
    const hide = options.hideSize ?? false;
    const sizes: PhotoSize[] = [
      this.#photoSize(randomBytes(900), 90, 68, hide),
      this.#photoSize(randomBytes(12_000), 320, 240, hide),
      this.#photoSize(options.bytes, w, h, hide),
    ];
    return this.#userMessage(options.chat, options.from, {
      photo: sizes,
      ...(options.caption !== undefined && { caption: options.caption, caption_entities: autoEntities(options.caption) }),
    });
  }

  /** A person sends a file ("send as file"), e.g. an uncompressed image. */
  sendDocument(options: { chat: Chat; from: User; bytes: Uint8Array; mimeType: string; fileName: string; caption?: string }): Message {
    const f = this.#storeFile(options.bytes, `documents/${options.fileName}`, false);
    return this.#userMessage(options.chat, options.from, {
      document: { file_id: f.file_id, file_unique_id: f.file_unique_id, file_name: options.fileName, mime_type: options.mimeType, file_size: f.bytes.byteLength },
      ...(options.caption !== undefined && { caption: options.caption }),
    });
  }

  /** A person presses an inline button on one of the bot's messages; returns the query id. */
  pressButton(options: { from: User; message: EmulatedMessage; data: string }): string {
    const id = randomBytes(8).toString("hex");
    this.#callbacks.add(id);
    const m = options.message;
    this.#enqueue({
      update_id: 0,
      callback_query: {
        id,
        from: options.from,
        chat_instance: String(m.chat.id),
        data: options.data,
        message: { message_id: m.message_id, date: m.date, chat: m.chat, from: m.from, text: m.text } as Message.TextMessage,
      },
    });
    return id;
  }

  /** Messages the bot sent into `chatId` (not deleted), oldest first, as they read now. */
  botMessages(chatId: number): EmulatedMessage[] {
    return [...this.#messages.values()].filter((m) => m.chat.id === chatId && m.from.id === this.bot.id && !m.deleted).sort((a, b) => a.message_id - b.message_id);
  }

  /** Any message by id (including deleted ones, flagged). */
  message(chatId: number, messageId: number): EmulatedMessage | undefined {
    return this.#messages.get(`${chatId}:${messageId}`);
  }

  /** Calls of one method, in order. */
  callsOf(method: string): EmulatorCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Make the next `times` calls of `method` fail with `fault` instead of running. */
  failNext(method: string, fault: InjectedFault, times = 1): void {
    const list = this.#faults.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(fault);
    this.#faults.set(method, list);
  }

  /** Resolve once `probe` returns a truthy value (polled), or fail after `timeoutMs`. */
  async waitFor<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  #replyTo(chat: Chat, replyTo: number | undefined): Partial<Message> {
    if (replyTo === undefined) return {};
    const target = this.#messages.get(`${chat.id}:${replyTo}`);
    if (!target) throw new Error(`no message ${replyTo} in chat ${chat.id}`);
    return { reply_to_message: { message_id: target.message_id, date: target.date, chat, from: target.from, text: target.text } as Message.TextMessage } as Partial<Message>;
  }

  #photoSize(bytes: Uint8Array, width: number, height: number, hide: boolean): PhotoSize {
    const f = this.#storeFile(bytes, `photos/file_${this.#files.size}.jpg`, hide);
    return { file_id: f.file_id, file_unique_id: f.file_unique_id, width, height, ...(!hide && { file_size: bytes.byteLength }) };
  }

  #storeFile(bytes: Uint8Array, path: string, hideSize: boolean): StoredFile {
    const f: StoredFile = {
      file_id: `F${randomBytes(16).toString("base64url")}`,
      file_unique_id: randomBytes(6).toString("hex"),
      bytes,
      file_path: path,
      hideSize,
    };
    this.#files.set(f.file_id, f);
    this.#filesByPath.set(path, f);
    return f;
  }

  #userMessage(chat: Chat, from: User, content: Partial<Message>): Message {
    const message = { message_id: this.#nextMessageId++, date: Math.floor(Date.now() / 1000), chat, from, ...content } as Message;
    this.#messages.set(`${chat.id}:${message.message_id}`, {
      message_id: message.message_id,
      chat,
      from,
      text: message.text ?? message.caption ?? "",
      entities: [],
      rawText: message.text ?? "",
      edits: 0,
      deleted: false,
      date: message.date,
    });
    this.#enqueue({ update_id: 0, message } as Update);
    return message;
  }

  #enqueue(update: Update): void {
    this.#updates.push({ ...update, update_id: this.#nextUpdateId++ });
    if (this.webhook) void this.#deliverWebhook();
    else this.#answerWaiter();
  }

  // ---------------------------------------------------------------- bot side (HTTP)

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const fileMatch = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    if (fileMatch) return this.#download(fileMatch[1]!, decodeURIComponent(fileMatch[2]!), res);
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    if (!m) return send(res, 404, { ok: false, error_code: 404, description: "Not Found" });
    if (m[1] !== this.token) return send(res, 401, { ok: false, error_code: 401, description: "Unauthorized" });
    const method = m[2]!;
    let params: Record<string, unknown>;
    try {
      params = { ...Object.fromEntries(url.searchParams), ...(await readParams(req)) };
    } catch {
      return send(res, 400, { ok: false, error_code: 400, description: "Bad Request: invalid request body" });
    }
    this.calls.push({ method, params, at: Date.now() });
    const fault = this.#faults.get(method)?.shift();
    if (fault) {
      return send(res, fault.error_code, {
        ok: false,
        error_code: fault.error_code,
        description: fault.description,
        ...(fault.retry_after !== undefined && { parameters: { retry_after: fault.retry_after } }),
      });
    }
    try {
      if (method === "getUpdates") return this.#getUpdates(params, req, res);
      const result = this.#call(method, params);
      send(res, 200, { ok: true, result });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      send(res, err.code, {
        ok: false,
        error_code: err.code,
        description: err.message,
        ...(err.retryAfter !== undefined && { parameters: { retry_after: err.retryAfter } }),
      });
    }
  }

  #call(method: string, p: Record<string, unknown>): unknown {
    switch (method) {
      case "getMe":
        return { ...this.bot, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };
      case "setMyCommands": {
        const commands = parseJson(p.commands) as { command: string; description: string }[];
        if (!Array.isArray(commands)) throw badRequest("parameter \"commands\" is required");
        for (const c of commands) {
          if (!/^[a-z0-9_]{1,32}$/.test(c.command)) throw badRequest("BOT_COMMAND_INVALID");
          if (typeof c.description !== "string" || c.description.length < 1 || c.description.length > 256) throw badRequest("BOT_COMMAND_DESCRIPTION_INVALID");
        }
        this.commands = commands;
        return true;
      }
      case "deleteWebhook":
        this.webhook = undefined;
        if (p.drop_pending_updates === true || p.drop_pending_updates === "true") this.#updates.length = 0;
        return true;
      case "setWebhook": {
        const url = String(p.url ?? "");
        if (!/^https?:\/\//.test(url)) throw badRequest("bad webhook: invalid URL");
        this.webhook = { url, ...(p.secret_token !== undefined && { secret_token: String(p.secret_token) }) };
        if (this.#waiter) this.#reply409();
        void this.#deliverWebhook();
        return true;
      }
      case "sendMessage":
        return this.#sendMessage(p);
      case "editMessageText":
        return this.#editMessageText(p);
      case "deleteMessage":
        return this.#deleteMessage(p);
      case "sendChatAction": {
        const action = String(p.action ?? "");
        if (!["typing", "upload_photo", "record_video", "upload_document", "find_location"].includes(action)) throw badRequest("wrong parameter action in request");
        this.chatActions.push({ chat_id: Number(p.chat_id), action, at: Date.now() });
        return true;
      }
      case "answerCallbackQuery": {
        const id = String(p.callback_query_id ?? "");
        if (!this.#callbacks.delete(id)) throw badRequest("query is too old and response timeout expired or query ID is invalid");
        this.answeredCallbacks.push({ callback_query_id: id, ...(p.text !== undefined && { text: String(p.text) }) });
        return true;
      }
      case "getFile": {
        const f = this.#files.get(String(p.file_id ?? ""));
        if (!f) throw badRequest("invalid file_id");
        if (f.bytes.byteLength > 20 * 1024 * 1024) throw badRequest("file is too big");
        return { file_id: f.file_id, file_unique_id: f.file_unique_id, file_path: f.file_path, ...(!f.hideSize && { file_size: f.bytes.byteLength }) };
      }
      default:
        throw new ApiError(404, "Not Found");
    }
  }

  #chat(p: Record<string, unknown>): Chat {
    const id = Number(p.chat_id);
    if (!Number.isSafeInteger(id)) throw badRequest("chat not found");
    for (const m of this.#messages.values()) if (m.chat.id === id) return m.chat;
    throw badRequest("chat not found");
  }

  #formatted(p: Record<string, unknown>): { text: string; entities: MessageEntity[] } {
    const raw = typeof p.text === "string" ? p.text : "";
    const mode = p.parse_mode === undefined ? undefined : String(p.parse_mode);
    let parsed: { text: string; entities: MessageEntity[] };
    if (mode === undefined || mode === "") parsed = { text: raw, entities: [] };
    else if (mode.toLowerCase() === "html") parsed = parseTelegramHtml(raw);
    else throw badRequest(`unsupported parse_mode`);
    if (parsed.text.trim() === "") throw badRequest("message text is empty");
    if (parsed.text.length > 4096) throw badRequest("message is too long");
    return parsed;
  }

  #markup(p: Record<string, unknown>): InlineKeyboardMarkup | undefined {
    if (p.reply_markup === undefined) return undefined;
    const markup = parseJson(p.reply_markup) as InlineKeyboardMarkup;
    for (const row of markup.inline_keyboard ?? []) {
      for (const b of row) {
        if ("callback_data" in b && Buffer.byteLength(b.callback_data, "utf8") > 64) throw badRequest("BUTTON_DATA_INVALID");
        if (!b.text) throw badRequest("text buttons are unallowed in the inline keyboard");
      }
    }
    return markup;
  }

  #sendMessage(p: Record<string, unknown>): Message {
    const chat = this.#chat(p);
    const { text, entities } = this.#formatted(p);
    const markup = this.#markup(p);
    const replyParams = p.reply_parameters === undefined ? undefined : (parseJson(p.reply_parameters) as { message_id: number });
    const stored: EmulatedMessage = {
      message_id: this.#nextMessageId++,
      chat,
      from: this.bot,
      text,
      entities,
      rawText: String(p.text),
      ...(p.parse_mode !== undefined && { parseMode: String(p.parse_mode) }),
      ...(markup && { replyMarkup: markup }),
      ...(replyParams && { replyToMessageId: replyParams.message_id }),
      edits: 0,
      deleted: false,
      date: Math.floor(Date.now() / 1000),
    };
    this.#messages.set(`${chat.id}:${stored.message_id}`, stored);
    return toMessage(stored);
  }

  #editMessageText(p: Record<string, unknown>): Message {
    const chat = this.#chat(p);
    const m = this.#messages.get(`${chat.id}:${Number(p.message_id)}`);
    if (!m || m.deleted) throw badRequest("message to edit not found");
    if (m.from.id !== this.bot.id) throw badRequest("message can't be edited");
    const { text, entities } = this.#formatted(p);
    const markup = this.#markup(p);
    if (text === m.text && JSON.stringify(entities) === JSON.stringify(m.entities) && JSON.stringify(markup) === JSON.stringify(m.replyMarkup)) {
      throw badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message");
    }
    m.text = text;
    m.entities = entities;
    m.rawText = String(p.text);
    if (p.parse_mode !== undefined) m.parseMode = String(p.parse_mode);
    else delete m.parseMode;
    if (markup) m.replyMarkup = markup;
    else delete m.replyMarkup; // Telegram removes the keyboard when an edit carries none
    m.edits++;
    return toMessage(m);
  }

  #deleteMessage(p: Record<string, unknown>): true {
    const chat = this.#chat(p);
    const m = this.#messages.get(`${chat.id}:${Number(p.message_id)}`);
    if (!m || m.deleted) throw badRequest("message to delete not found");
    const own = m.from.id === this.bot.id;
    if (!own && chat.type !== "private" && !this.#admins.has(chat.id)) throw badRequest("message can't be deleted");
    m.deleted = true;
    return true;
  }

  #getUpdates(p: Record<string, unknown>, req: IncomingMessage, res: ServerResponse): void {
    if (this.webhook) {
      send(res, 409, { ok: false, error_code: 409, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" });
      return;
    }
    const offset = Number(p.offset ?? 0);
    const limit = Math.min(100, Math.max(1, Number(p.limit ?? 100)));
    const timeout = Math.max(0, Number(p.timeout ?? 0));
    const allowed = p.allowed_updates === undefined ? undefined : (parseJson(p.allowed_updates) as string[]);
    // Confirm: everything below the offset is gone for good.
    if (offset > 0) while (this.#updates.length > 0 && this.#updates[0]!.update_id < offset) this.#updates.shift();
    if (this.#waiter) this.#reply409();
    const ready = this.#pending(offset, limit, allowed);
    if (ready.length > 0 || timeout === 0) {
      send(res, 200, { ok: true, result: ready });
      return;
    }
    const waiter: Waiter = {
      res,
      offset,
      limit,
      allowed,
      timer: setTimeout(() => {
        if (this.#waiter === waiter) this.#waiter = undefined;
        send(res, 200, { ok: true, result: [] });
      }, timeout * 1000),
    };
    this.#waiter = waiter;
    // The client gave up (runner stopped): forget the poll.
    res.on("close", () => {
      clearTimeout(waiter.timer);
      if (this.#waiter === waiter) this.#waiter = undefined;
    });
    void req;
  }

  #pending(offset: number, limit: number, allowed: string[] | undefined): Update[] {
    return this.#updates
      .filter((u) => u.update_id >= offset)
      .filter((u) => !allowed || allowed.length === 0 || Object.keys(u).some((k) => k !== "update_id" && allowed.includes(k)))
      .slice(0, limit);
  }

  #answerWaiter(): void {
    const w = this.#waiter;
    if (!w) return;
    const ready = this.#pending(w.offset, w.limit, w.allowed);
    if (ready.length === 0) return;
    this.#waiter = undefined;
    clearTimeout(w.timer);
    send(w.res, 200, { ok: true, result: ready });
  }

  #reply409(): void {
    const w = this.#waiter!;
    this.#waiter = undefined;
    clearTimeout(w.timer);
    send(w.res, 409, { ok: false, error_code: 409, description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running" });
  }

  /** Push queued updates to the webhook one at a time, in order; retry failures shortly after. */
  async #deliverWebhook(): Promise<void> {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      while (this.webhook && !this.#closed && this.#updates.length > 0) {
        const update = this.#updates[0]!;
        let ok = false;
        try {
          const r = await fetch(this.webhook.url, {
            method: "POST",
            headers: { "content-type": "application/json", ...(this.webhook.secret_token !== undefined && { "x-telegram-bot-api-secret-token": this.webhook.secret_token }) },
            body: JSON.stringify(update),
          });
          await r.arrayBuffer();
          ok = r.ok;
        } catch {
          ok = false;
        }
        if (ok) this.#updates.shift();
        else await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      this.#delivering = false;
    }
  }

  #download(token: string, path: string, res: ServerResponse): void {
    if (token !== this.token) return send(res, 401, { ok: false, error_code: 401, description: "Unauthorized" });
    this.downloads.push(path);
    const f = this.#filesByPath.get(path);
    if (!f) return send(res, 404, { ok: false, error_code: 404, description: "Not Found" });
    if (!f.hideSize) {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": f.bytes.byteLength });
      res.end(f.bytes);
      return;
    }
    // Chunked, in pieces, so the client can only find out the size by counting.
    res.writeHead(200, { "content-type": "application/octet-stream" });
    const piece = 64 * 1024;
    let at = 0;
    const pump = (): void => {
      while (at < f.bytes.byteLength) {
        const chunk = f.bytes.subarray(at, at + piece);
        at += chunk.byteLength;
        if (!res.write(chunk)) {
          res.once("drain", pump);
          return;
        }
      }
      res.end();
    };
    res.on("error", () => {});
    pump();
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

async function readParams(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString("utf8");
  if (body === "") return {};
  const type = req.headers["content-type"] ?? "";
  if (type.includes("application/json")) return JSON.parse(body) as Record<string, unknown>;
  if (type.includes("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(body));
  throw new Error(`unsupported content type ${type}`);
}

function parseJson(value: unknown): unknown {
  return typeof value === "string" ? JSON.parse(value) : value;
}

function toMessage(m: EmulatedMessage): Message {
  return {
    message_id: m.message_id,
    date: m.date,
    chat: m.chat,
    from: m.from,
    text: m.text,
    ...(m.entities.length > 0 && { entities: m.entities }),
    ...(m.replyMarkup && { reply_markup: m.replyMarkup }),
  } as Message;
}

/** Mention and command entities, as a Telegram client would attach to typed text. */
export function autoEntities(text: string): MessageEntity[] {
  const entities: MessageEntity[] = [];
  const cmd = /^\/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?/.exec(text);
  if (cmd) entities.push({ type: "bot_command", offset: 0, length: cmd[0].length });
  for (const m of text.matchAll(/(?<![\w/])@[A-Za-z][A-Za-z0-9_]{3,31}/g)) {
    if (cmd && m.index < cmd[0].length) continue;
    entities.push({ type: "mention", offset: m.index, length: m[0].length });
  }
  return entities;
}

const TAGS: Record<string, MessageEntity["type"]> = {
  b: "bold",
  strong: "bold",
  i: "italic",
  em: "italic",
  u: "underline",
  ins: "underline",
  s: "strikethrough",
  strike: "strikethrough",
  del: "strikethrough",
  code: "code",
  pre: "pre",
  a: "text_link",
  "tg-spoiler": "spoiler",
  span: "spoiler",
  blockquote: "blockquote",
};

/**
 * Parse Telegram's HTML parse mode into visible text and entities, failing like the Bot API with
 * "can't parse entities: …" on unsupported or unbalanced tags and on unescaped `<` or `&`.
 */
export function parseTelegramHtml(html: string): { text: string; entities: MessageEntity[] } {
  const fail = (why: string, at: number): never => {
    throw badRequest(`can't parse entities: ${why} at byte offset ${Buffer.byteLength(html.slice(0, at), "utf8")}`);
  };
  let text = "";
  const entities: MessageEntity[] = [];
  const stack: { tag: string; start: number; type: MessageEntity["type"]; url?: string; language?: string }[] = [];
  let i = 0;
  while (i < html.length) {
    const ch = html[i]!;
    if (ch === "<") {
      const m = /^<(\/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z-]+(?:\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'<>]+))?)*)\s*>/.exec(html.slice(i));
      if (!m) fail(/^<\/?[A-Za-z]/.test(html.slice(i)) ? "Can't find end of the tag" : "Unsupported start tag", i);
      const [whole, closing, rawName, attrs] = m!;
      const name = rawName!.toLowerCase();
      const type = TAGS[name];
      if (!type) fail(`Unsupported ${closing ? "end" : "start"} tag "${name}"`, i);
      if (closing) {
        const top = stack.pop();
        if (!top || top.tag !== name) fail(`Can't find end tag corresponding to start tag "${top?.tag ?? name}"`, i);
        const length = text.length - top!.start;
        // <pre><code class="language-x"> is one "pre" entity with a language, not two entities.
        const codeInPre = name === "code" && stack.at(-1)?.tag === "pre";
        if (length > 0 && !codeInPre) {
          const e = { type: top!.type, offset: top!.start, length, ...(top!.url !== undefined && { url: top!.url }), ...(top!.language !== undefined && { language: top!.language }) };
          entities.push(e as MessageEntity);
        }
      } else {
        const attr = (key: string) => new RegExp(`${key}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'<>]+))`, "i").exec(attrs ?? "");
        const entry: (typeof stack)[number] = { tag: name, start: text.length, type: type! };
        if (name === "a") {
          const href = attr("href");
          if (!href) fail('Tag "a" must have attribute "href"', i);
          entry.url = unescapeAttr(href![1] ?? href![2] ?? href![3] ?? "");
        }
        if (name === "span" && !/class\s*=\s*"?tg-spoiler/.test(attrs ?? "")) fail('Tag "span" must have class "tg-spoiler"', i);
        if (name === "code" && stack.at(-1)?.tag === "pre") {
          const cls = attr("class");
          const lang = /^language-(.+)$/.exec(cls?.[1] ?? cls?.[2] ?? cls?.[3] ?? "");
          if (lang) stack.at(-1)!.language = lang[1]!;
        }
        stack.push(entry);
      }
      i += whole!.length;
    } else if (ch === "&") {
      const m = /^&(lt|gt|amp|quot|#(\d{1,7})|#x([0-9a-fA-F]{1,6}));/.exec(html.slice(i));
      if (!m) fail("Unclosed or unsupported HTML entity (a bare & must be written &amp;)", i);
      const [whole, name, dec, hex] = m!;
      text += name === "lt" ? "<" : name === "gt" ? ">" : name === "amp" ? "&" : name === "quot" ? '"' : String.fromCodePoint(Number.parseInt(dec ?? hex!, dec ? 10 : 16));
      i += whole!.length;
    } else {
      text += ch;
      i++;
    }
  }
  if (stack.length > 0) fail(`Can't find end tag corresponding to start tag "${stack.at(-1)!.tag}"`, html.length);
  return { text, entities: entities.sort((a, b) => a.offset - b.offset) };
}

function unescapeAttr(value: string): string {
  return value.replace(/&(lt|gt|amp|quot);/g, (_, n: string) => ({ lt: "<", gt: ">", amp: "&", quot: '"' })[n]!);
}
