import { AbortedError, HearthError, ServiceError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";
import type { HaAuthorize } from "./haTypes.ts";

/**
 * One authenticated WebSocket connection to Home Assistant (`/api/websocket`) that multiplexes
 * commands by id and reconnects by itself with exponential backoff.
 *
 * Authentication goes through the injected `authorize` function like every REST call: the auth
 * message is built with the secret handle, and the token only exists in the authorized copy for
 * the moment it takes to send it.
 */

/** Options of {@link HaWebSocket}. */
export interface HaWebSocketOptions {
  /** Base http(s) URL of Home Assistant, used to derive the ws(s) URL and in error messages. */
  baseUrl: string;
  authorize: HaAuthorize;
  /** The handle text to authorize, e.g. `{{secret:ha_token}}`. */
  tokenHandle: string;
  /** The vault secret name behind the handle, for the "how to fix" text. */
  tokenName: string;
  /** Longest wait for the connection (including auth) and for each command's result. */
  timeoutMs: number;
  /** First reconnect delay after a dropped connection. Default 500 ms. */
  reconnectInitialMs?: number;
  /** Longest reconnect delay. Default 30 s. */
  reconnectMaxMs?: number;
}

interface PendingCommand {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

interface OpenConnection {
  socket: WebSocket;
}

const log = getLogger("home");

/** A self-healing, id-multiplexed Home Assistant WebSocket client. */
export class HaWebSocket {
  readonly #opts: Required<HaWebSocketOptions>;
  readonly #wsUrl: string;
  #conn: OpenConnection | undefined;
  #connecting: Promise<OpenConnection> | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, PendingCommand>();
  #reconnectTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  /** Set after auth_invalid: retrying with the same token would only hammer HA. */
  #authFailed = false;
  #disposed = false;

  constructor(options: HaWebSocketOptions) {
    this.#opts = { reconnectInitialMs: 500, reconnectMaxMs: 30_000, ...options };
    const u = new URL("/api/websocket", options.baseUrl);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    this.#wsUrl = u.toString();
  }

  /** True while an authenticated connection is open. */
  get connected(): boolean {
    return this.#conn !== undefined;
  }

  /**
   * Send a command (`{type, ...payload}`) and wait for its `result`. Rejects with a
   * {@link ServiceError} when HA is unreachable, refuses the token or answers with an error.
   */
  async command<T>(type: string, payload: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
    if (this.#disposed) throw new ServiceError("HA_CLOSED", "The Home Assistant connection was closed.");
    signal?.throwIfAborted();
    // A command is a reason to try right now rather than wait out the backoff.
    this.#authFailed = false;
    const conn = await this.#ensureConnected(signal);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#pending.delete(id);
      };
      const onAbort = (): void => {
        cleanup();
        reject(new AbortedError({ cause: signal?.reason }));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(this.#unreachable(`no answer to ${type} within ${this.#opts.timeoutMs} ms`));
      }, this.#opts.timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        resolve: (v) => {
          cleanup();
          resolve(v as T);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      });
      try {
        conn.socket.send(JSON.stringify({ ...payload, id, type }));
      } catch (err) {
        cleanup();
        reject(this.#unreachable("sending failed", err));
      }
    });
  }

  /** Close the connection, stop reconnecting and fail anything still waiting. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    clearTimeout(this.#reconnectTimer);
    const conn = this.#conn;
    this.#conn = undefined;
    this.#failPending(new ServiceError("HA_CLOSED", "The Home Assistant connection was closed."));
    try {
      conn?.socket.close();
    } catch {
      // Already closing; nothing to release.
    }
  }

  #ensureConnected(signal?: AbortSignal): Promise<OpenConnection> {
    if (this.#conn) return Promise.resolve(this.#conn);
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    if (!signal) return this.#connecting;
    // The shared attempt keeps running for other callers; only this caller stops waiting.
    return new Promise<OpenConnection>((resolve, reject) => {
      const onAbort = (): void => reject(new AbortedError({ cause: signal.reason }));
      signal.addEventListener("abort", onAbort, { once: true });
      this.#connecting?.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  #connect(): Promise<OpenConnection> {
    clearTimeout(this.#reconnectTimer);
    return new Promise<OpenConnection>((resolve, reject) => {
      let settled = false;
      let socket: WebSocket;
      try {
        socket = new WebSocket(this.#wsUrl);
      } catch (err) {
        reject(this.#unreachable("cannot open the WebSocket", err));
        return;
      }
      const fail = (err: HearthError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try {
          socket.close();
        } catch {
          // The socket may not be open yet; closing is best effort.
        }
        reject(err);
      };
      const timer = setTimeout(() => fail(this.#unreachable(`no WebSocket handshake within ${this.#opts.timeoutMs} ms`)), this.#opts.timeoutMs);
      const conn: OpenConnection = { socket };

      socket.addEventListener("message", (event: MessageEvent) => {
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(String(event.data)) as Record<string, unknown>;
        } catch {
          log.warn("ignoring a non-JSON WebSocket message from Home Assistant");
          return;
        }
        if (!settled) {
          if (msg["type"] === "auth_required") {
            // A vault refusal (locked, host not allowed) explains itself; keep its message.
            this.#sendAuth(socket).catch((err: unknown) => fail(err instanceof HearthError ? err : this.#unreachable("authorizing the WebSocket failed", err)));
          } else if (msg["type"] === "auth_ok") {
            settled = true;
            clearTimeout(timer);
            this.#conn = conn;
            this.#attempt = 0;
            log.info({ url: this.#opts.baseUrl }, "connected to Home Assistant WebSocket");
            resolve(conn);
          } else if (msg["type"] === "auth_invalid") {
            this.#authFailed = true;
            fail(this.#authError());
          }
          return;
        }
        this.#onCommandMessage(msg);
      });
      socket.addEventListener("error", () => {
        fail(this.#unreachable("the WebSocket connection failed"));
      });
      socket.addEventListener("close", () => {
        fail(this.#unreachable("the WebSocket closed during the handshake"));
        if (this.#conn === conn) {
          this.#conn = undefined;
          this.#failPending(this.#unreachable("the connection was lost"));
          this.#scheduleReconnect();
        }
      });
    });
  }

  async #sendAuth(socket: WebSocket): Promise<void> {
    const handle = this.#opts.tokenHandle;
    const authorized = await this.#opts.authorize({
      url: this.#wsUrl,
      method: "GET",
      headers: { Authorization: `Bearer ${handle}` },
      body: JSON.stringify({ type: "auth", access_token: handle }),
    });
    // The vault may fill only headers; then the token is taken from the authorized header for this
    // one message. Neither copy outlives this function.
    let body = authorized.body ?? "";
    if (body.includes(handle) || body === "") {
      const header = authorized.headers["Authorization"] ?? authorized.headers["authorization"] ?? "";
      const token = header.replace(/^Bearer\s+/i, "");
      if (token === "" || token.includes(handle)) throw new Error("the authorize function did not fill in the token");
      body = JSON.stringify({ type: "auth", access_token: token });
    }
    socket.send(body);
  }

  #onCommandMessage(msg: Record<string, unknown>): void {
    if (msg["type"] !== "result" || typeof msg["id"] !== "number") return;
    const pending = this.#pending.get(msg["id"]);
    if (!pending) return;
    if (msg["success"] === true) {
      pending.resolve(msg["result"]);
    } else {
      const error = (msg["error"] ?? {}) as { code?: unknown; message?: unknown };
      const text = typeof error.message === "string" ? error.message : "unknown error";
      const code = typeof error.code === "string" ? error.code : "unknown";
      const cause = new Error(`websocket error ${code}: ${text}`);
      if (code === "unknown_command") {
        pending.reject(new ServiceError("HA_UNKNOWN_COMMAND", "This Home Assistant version does not support that request; update Home Assistant.", { cause }));
      } else if (code === "unauthorized") {
        // Registry and exposure commands are admin-only in HA.
        pending.reject(
          new ServiceError("HA_FORBIDDEN", "The Home Assistant user behind the token may not do that; create the long-lived token as an HA administrator.", { cause }),
        );
      } else {
        pending.reject(new ServiceError("HA_COMMAND_FAILED", `Home Assistant refused the request: ${text}`, { cause }));
      }
    }
  }

  #scheduleReconnect(): void {
    if (this.#disposed || this.#authFailed) return;
    const base = Math.min(this.#opts.reconnectMaxMs, this.#opts.reconnectInitialMs * 2 ** this.#attempt);
    // Jitter so several Hearth processes do not hit a rebooting HA in lockstep.
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.#attempt++;
    log.warn({ delayMs: delay, attempt: this.#attempt }, "Home Assistant WebSocket lost; reconnecting");
    this.#reconnectTimer = setTimeout(() => {
      if (this.#disposed || this.#conn || this.#connecting) return;
      this.#connecting = this.#connect().finally(() => {
        this.#connecting = undefined;
      });
      this.#connecting.catch((err: unknown) => {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, "Home Assistant reconnect failed");
        this.#scheduleReconnect();
      });
    }, delay);
    // Reconnecting must not keep an otherwise finished process alive.
    this.#reconnectTimer.unref();
  }

  #failPending(err: unknown): void {
    for (const p of [...this.#pending.values()]) p.reject(err);
    this.#pending.clear();
  }

  #unreachable(detail: string, cause?: unknown): ServiceError {
    return new ServiceError(
      "HA_UNREACHABLE",
      `Home Assistant at ${this.#opts.baseUrl} is not answering; check it is running and that home.url is right.`,
      { cause: new Error(detail, cause === undefined ? undefined : { cause }) },
    );
  }

  #authError(): ServiceError {
    return new ServiceError(
      "HA_AUTH",
      `Home Assistant at ${this.#opts.baseUrl} rejected the access token; create a new long-lived token in your HA profile and store it with \`hearth vault add ${this.#opts.tokenName} --allow-host ${new URL(this.#opts.baseUrl).host}\`.`,
    );
  }
}
