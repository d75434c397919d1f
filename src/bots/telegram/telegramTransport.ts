import { createServer, type Server } from "node:http";
import { Bot, GrammyError, HttpError, InlineKeyboard, webhookCallback, type Context } from "grammy";
import type { InlineKeyboardMarkup } from "grammy/types";
import { run, sequentialize, type RunnerHandle } from "@grammyjs/runner";
import { autoRetry } from "@grammyjs/auto-retry";
import { apiThrottler } from "@grammyjs/transformer-throttler";
import { ConfigError, InputError, ServiceError } from "../../core/errors.ts";
import { getLogger } from "../../core/logger.ts";
import type { InboundMessage, OutboundReply, ReplyButton } from "../../core/message.ts";
import type { SentReply, Transport } from "../../core/transport.ts";
import { CallbackCommands } from "./callbackCommands.ts";
import { downloadTelegramFile } from "./downloadTelegramFile.ts";
import { mapTelegramUpdate, type TelegramMappingContext } from "./mapTelegramUpdate.ts";
import { TELEGRAM_MESSAGE_LIMIT } from "./splitMessage.ts";
import { chunkReply, TelegramReply } from "./telegramReply.ts";
import { TelegramSender, describe, grammySignal, toServiceError } from "./telegramSender.ts";
import { parseTelegramChatId, parseTelegramMessageId } from "./telegramIds.ts";

const log = getLogger("telegram");

/** Where Telegram pushes updates in webhook mode. */
export interface TelegramWebhookOptions {
  /** Public HTTPS URL Telegram posts to (your reverse proxy), e.g. `https://home.example.org/tg`. */
  url: string;
  /** Local port the webhook HTTP server listens on (0 picks a free one; see `webhookPort`). */
  port: number;
  /** Local interface to bind (default 127.0.0.1: a reverse proxy in front terminates TLS). */
  host?: string;
  /** Sent by Telegram in `X-Telegram-Bot-Api-Secret-Token`; requests without it are refused. */
  secretToken: string;
}

/** Options of {@link TelegramTransport}; the config owner fills these from config and vault. */
export interface TelegramTransportOptions {
  /** Bot token VALUE (resolved from the vault by the caller). Never logged. */
  token: string;
  /** Bot API root (default `https://api.telegram.org`); point at a local Bot API server or a test emulator. */
  apiRoot?: string;
  /** `polling` (default; works behind NAT) or `webhook` (needs a public HTTPS URL). */
  mode?: "polling" | "webhook";
  webhook?: TelegramWebhookOptions;
  /** Stream answers by editing the sent message (default true); false sends only whole answers. */
  streamEdits?: boolean;
  /** Minimum time between edits of a streamed answer (default 1500 ms; Telegram rate-limits edits). */
  editIntervalMs?: number;
  /** Largest photo/file Hearth downloads (default 10 MiB); attachments' `fetch` caps at this too. */
  maxImageBytes?: number;
  /** Expected bot username (without @); a mismatch with `getMe` is logged. Mentions use `getMe`'s. */
  botUsername?: string;
  /** Command menu registered with `setMyCommands` at start (empty/absent: left unchanged). */
  commands?: { command: string; description: string }[];
  /** Long-polling timeout in seconds (default 30). */
  pollTimeoutSeconds?: number;
  /** Give up a rate-limited call when Telegram asks to wait longer than this (default 120 s). */
  maxRetryDelaySeconds?: number;
  /** Retries of one call after rate limits / server errors (default 6). */
  maxRetryAttempts?: number;
}

const DEFAULT_API_ROOT = "https://api.telegram.org";
/** Telegram shows "typing…" for 5 s per chat action; refresh a little sooner. */
const TYPING_REFRESH_MS = 4500;

/**
 * Hearth's {@link Transport} for Telegram, on grammY: long polling through `@grammyjs/runner`
 * (updates processed concurrently across chats, in order within a chat) or a webhook; API calls
 * throttled to Telegram's limits and retried on 429 `retry_after` by grammY plugins.
 *
 * Telegram is not end-to-end encrypted: every message here has `encrypted: false`.
 */
export class TelegramTransport implements Transport {
  readonly kind = "telegram" as const;
  readonly #options: Required<Pick<TelegramTransportOptions, "apiRoot" | "mode" | "streamEdits" | "editIntervalMs" | "maxImageBytes" | "pollTimeoutSeconds">> &
    TelegramTransportOptions;
  readonly #bot: Bot;
  readonly #abort = new AbortController();
  /** `#abort.signal` typed for grammY calls. */
  readonly #signal = grammySignal(this.#abort.signal);
  readonly #sender: TelegramSender;
  readonly #callbacks = new CallbackCommands();
  readonly #busyReplies = new Set<TelegramReply>();
  readonly #typing = new Map<number, NodeJS.Timeout>();
  #runner: RunnerHandle | undefined;
  #server: Server | undefined;
  #webhookPort: number | undefined;
  #started = false;
  #disposed = false;

  constructor(options: TelegramTransportOptions) {
    // Checked without echoing the value: a token in a config error would end up in logs.
    if (!/^\d{1,20}:[A-Za-z0-9_-]{20,}$/.test(options.token)) {
      throw new ConfigError("The Telegram bot token does not look like one from BotFather (digits:letters). Store it with `hearth vault add telegram_token`.");
    }
    const mode = options.mode ?? "polling";
    if (mode === "webhook" && !options.webhook) {
      throw new ConfigError("Telegram webhook mode needs telegram.webhook.url, .port and .secretToken; or set telegram.mode to polling.");
    }
    if (options.webhook && !/^[A-Za-z0-9_-]{1,256}$/.test(options.webhook.secretToken)) {
      throw new ConfigError("telegram.webhook.secretToken must be 1–256 characters of A–Z, a–z, 0–9, _ and -.");
    }
    this.#options = {
      ...options,
      apiRoot: (options.apiRoot ?? DEFAULT_API_ROOT).replace(/\/+$/, ""),
      mode,
      streamEdits: options.streamEdits ?? true,
      editIntervalMs: options.editIntervalMs ?? 1500,
      maxImageBytes: options.maxImageBytes ?? 10 * 1024 * 1024,
      pollTimeoutSeconds: options.pollTimeoutSeconds ?? 30,
    };
    this.#bot = new Bot(options.token, { client: { apiRoot: this.#options.apiRoot } });
    this.#sender = new TelegramSender(this.#bot.api, this.#abort.signal);
  }

  /** Port the webhook server actually listens on (after `start` in webhook mode). */
  get webhookPort(): number | undefined {
    return this.#webhookPort;
  }

  /** Connect: check the token (`getMe`), register commands, then poll or listen for the webhook. */
  async start(onMessage: (msg: InboundMessage) => Promise<void>): Promise<void> {
    if (this.#disposed) throw new ServiceError("TELEGRAM_DISPOSED", "The Telegram connection was shut down; restart Hearth.");
    if (this.#started) throw new ServiceError("TELEGRAM_ALREADY_STARTED", "The Telegram transport is already running.");
    this.#started = true;
    const bot = this.#bot;

    // getMe before the retry plugin is installed, so a wrong token or unreachable API fails start
    // with a clear message instead of retrying forever.
    try {
      await bot.init(this.#signal);
    } catch (err) {
      this.#started = false;
      if (err instanceof GrammyError && (err.error_code === 401 || err.error_code === 404)) {
        throw new ConfigError("Telegram rejected the bot token. Create or copy the token in @BotFather and store it with `hearth vault add telegram_token`.", {
          cause: err,
        });
      }
      throw new ServiceError("TELEGRAM_UNREACHABLE", `Cannot reach the Telegram Bot API at ${this.#options.apiRoot}; check the internet connection or telegram.apiRoot.`, {
        cause: err instanceof HttpError ? new Error(`HttpError (${describe(err).name})`) : err,
      });
    }
    const me = bot.botInfo;
    if (this.#options.botUsername && this.#options.botUsername.replace(/^@/, "").toLowerCase() !== me.username.toLowerCase()) {
      log.warn({ configured: this.#options.botUsername, actual: me.username }, "telegram.botUsername does not match the token's bot; using the token's");
    }

    // Order matters: transformers installed later wrap earlier ones, so every retry attempt made
    // by autoRetry passes through the throttler again.
    bot.api.config.use(apiThrottler());
    bot.api.config.use(
      autoRetry({ maxRetryAttempts: this.#options.maxRetryAttempts ?? 6, maxDelaySeconds: this.#options.maxRetryDelaySeconds ?? 120 }),
    );
    bot.api.config.use(async (prev, method, payload, signal) => {
      const res = await prev(method, payload, signal);
      if (!res.ok) log.debug({ method, code: res.error_code, description: res.description }, "Bot API call failed");
      return res;
    });

    const mapping: TelegramMappingContext = {
      botId: me.id,
      botUsername: me.username,
      resolveCallbackData: (data) => this.#callbacks.resolve(data),
      fetchFile: (file, options) =>
        downloadTelegramFile({
          apiRoot: this.#options.apiRoot,
          token: this.#options.token,
          fileId: file.fileId,
          ...(file.size !== undefined && { knownSize: file.size }),
          maxBytes: Math.min(options.maxBytes, this.#options.maxImageBytes),
          noun: file.noun,
          getFile: (fileId, signal) => bot.api.getFile(fileId, grammySignal(signal ?? this.#abort.signal)),
          signal: options.signal ? AbortSignal.any([options.signal, this.#abort.signal]) : this.#abort.signal,
        }),
    };

    bot.catch((err) => log.error({ err: describe(err.error) }, "Telegram update handler failed"));
    // One chat's updates in order (a reply must not overtake the question), chats in parallel.
    bot.use(sequentialize((ctx: Context) => ctx.chat?.id.toString()));
    bot.use(async (ctx) => {
      if (ctx.callbackQuery) {
        const expired = ctx.callbackQuery.data !== undefined && this.#callbacks.resolve(ctx.callbackQuery.data) === null;
        // Answer at once so the button stops spinning; the real answer arrives as a message.
        await ctx.answerCallbackQuery(expired ? { text: "This button has expired; please ask again." } : undefined).catch((err: unknown) =>
          log.debug({ err: describe(err) }, "answerCallbackQuery failed"),
        );
      }
      const msg = mapTelegramUpdate(ctx.update, mapping);
      if (!msg) return;
      try {
        await onMessage(msg);
      } catch (err) {
        log.error({ err, chatId: msg.chatId }, "message handler failed");
      }
    });

    try {
      if (this.#options.commands && this.#options.commands.length > 0) {
        await bot.api.setMyCommands(this.#options.commands, undefined, this.#signal);
      }
      const allowed_updates = ["message", "callback_query"] as const;
      if (this.#options.mode === "webhook") {
        await this.#startWebhook(allowed_updates);
      } else {
        // A webhook left over from an earlier configuration would make getUpdates fail with 409.
        await bot.api.deleteWebhook({ drop_pending_updates: false }, this.#signal);
        this.#runner = run(bot, {
          runner: { fetch: { timeout: this.#options.pollTimeoutSeconds, allowed_updates }, silent: true, retryInterval: "exponential" },
        });
      }
    } catch (err) {
      throw toServiceError(err, "start receiving messages");
    }
    log.info({ bot: me.username, mode: this.#options.mode }, "Telegram connected");
  }

  async #startWebhook(allowed_updates: readonly ("message" | "callback_query")[]): Promise<void> {
    const hook = this.#options.webhook!;
    // "return" after the timeout: Telegram gets its 200 while a slow model keeps answering;
    // sequentialize still keeps the chat's updates in order.
    const handle = webhookCallback(this.#bot, "http", { secretToken: hook.secretToken, onTimeout: "return", timeoutMilliseconds: 8000 });
    const path = new URL(hook.url).pathname;
    const server = createServer((req, res) => {
      if (req.method !== "POST" || (req.url ?? "").split("?")[0] !== path) {
        res.writeHead(404).end();
        return;
      }
      handle(req, res).catch((err: unknown) => {
        log.warn({ err: describe(err) }, "webhook request failed");
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(hook.port, hook.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw new ConfigError(`Cannot listen for the Telegram webhook on port ${hook.port}: ${(err as Error).message}. Choose another telegram.webhook.port.`, { cause: err });
    });
    const addr = server.address();
    this.#webhookPort = typeof addr === "object" && addr ? addr.port : hook.port;
    await this.#bot.api.setWebhook(hook.url, { secret_token: hook.secretToken, allowed_updates: [...allowed_updates] }, this.#signal);
  }

  /**
   * Send a reply, split at 4,096 characters on paragraph/line/sentence/word boundaries; Markdown is
   * rendered to Telegram HTML (plain text if Telegram rejects it). Buttons become an inline
   * keyboard on the last message. With `streamEdits`, the returned handle can `edit()` the text.
   */
  async send(chatId: string, reply: OutboundReply): Promise<SentReply> {
    const chat = parseTelegramChatId(chatId);
    const markdown = reply.markdown ?? false;
    const chunks = chunkReply(reply.text, markdown, TELEGRAM_MESSAGE_LIMIT);
    if (chunks.length === 0) throw new InputError("TELEGRAM_EMPTY_MESSAGE", "There was nothing to send (the reply text was empty).");
    const keyboard = reply.buttons && reply.buttons.length > 0 ? this.#keyboard(reply.buttons) : undefined;
    const replyTo = reply.replyToId !== undefined && !reply.replyToId.startsWith("callback:") ? parseTelegramMessageId(reply.replyToId) : undefined;

    const sent: { messageId: number; text: string; hasKeyboard: boolean }[] = [];
    for (const [i, text] of chunks.entries()) {
      const isLast = i === chunks.length - 1;
      const messageId = await this.#sender.send(chat, text, { markdown, ...(isLast && keyboard && { keyboard }) }, i === 0 ? replyTo : undefined);
      sent.push({ messageId, text, hasKeyboard: isLast && keyboard !== undefined });
    }
    const handle = new TelegramReply({
      sender: this.#sender,
      chatId: chat,
      chunks: sent,
      markdown,
      ...(keyboard && { keyboard }),
      intervalMs: this.#options.editIntervalMs,
      limit: TELEGRAM_MESSAGE_LIMIT,
      onBusy: (r, busy) => (busy ? this.#busyReplies.add(r) : this.#busyReplies.delete(r)),
    });
    if (this.#options.streamEdits) return handle;
    return { id: handle.id };
  }

  #keyboard(buttons: readonly ReplyButton[]): InlineKeyboardMarkup {
    const kb = new InlineKeyboard();
    // Short labels share a row; long ones get their own so Telegram does not truncate them.
    let rowWidth = 0;
    for (const b of buttons) {
      const width = [...b.label].length;
      if (rowWidth > 0 && (rowWidth + width > 28 || width > 14)) {
        kb.row();
        rowWidth = 0;
      }
      kb.text(b.label, this.#callbacks.encode(b.command));
      rowWidth += width;
    }
    return kb;
  }

  /** Show "typing…" until called with false; refreshed because Telegram shows it for 5 s only. */
  async setTyping(chatId: string, typing: boolean): Promise<void> {
    const chat = parseTelegramChatId(chatId);
    const existing = this.#typing.get(chat);
    if (existing) clearInterval(existing);
    this.#typing.delete(chat);
    if (!typing || this.#disposed) return;
    const ping = () =>
      this.#bot.api.sendChatAction(chat, "typing", undefined, this.#signal).catch((err: unknown) => {
        log.debug({ err: describe(err) }, "sendChatAction failed");
      });
    const timer = setInterval(() => void ping(), TYPING_REFRESH_MS);
    timer.unref();
    this.#typing.set(chat, timer);
    await ping();
  }

  /** Delete a message (e.g. a pasted secret); false when Telegram does not permit it (not admin, too old). */
  async redact(chatId: string, messageId: string, reason: string): Promise<boolean> {
    const chat = parseTelegramChatId(chatId);
    if (messageId.startsWith("callback:")) return false; // button presses are not messages
    const ok = await this.#sender.delete(chat, parseTelegramMessageId(messageId));
    log.info({ chatId, ok, reason }, "redacted Telegram message");
    return ok;
  }

  /** Stop polling / the webhook server, cancel queued edits and typing, abort pending calls. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const timer of this.#typing.values()) clearInterval(timer);
    this.#typing.clear();
    for (const reply of [...this.#busyReplies]) reply.cancel();
    const runner = this.#runner;
    this.#runner = undefined;
    if (runner?.isRunning()) await runner.stop().catch((err: unknown) => log.debug({ err: describe(err) }, "runner stop failed"));
    const server = this.#server;
    this.#server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    // Last, so a runner stopping cleanly can still confirm its offset first.
    this.#abort.abort();
  }
}
