import { AbortedError, HearthError, ServiceError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";
import { formatHandle } from "../vault/handles.ts";
import { HaWebSocket } from "./haWebSocket.ts";
import type {
  HaArea,
  HaAuthorize,
  HaConversationReply,
  HaDevice,
  HaEntityEntry,
  HaExposedEntities,
  HaRegistry,
  HaState,
  HaStatisticValue,
  HaStatisticsPeriod,
} from "./haTypes.ts";

/**
 * Home Assistant client over its REST API (states, history, services, conversation) and its
 * WebSocket API (registries, Assist exposure, long-term statistics).
 *
 * Every request is built with the token *handle* (`Authorization: Bearer {{secret:ha_token}}`) and
 * passed through the injected `authorize` function right before it is sent; the authorized copy
 * is never stored, logged or returned, so nothing this client hands back can contain the token.
 */

/** Options of {@link HaClient}. */
export interface HaClientOptions {
  /** Base URL, e.g. `http://homeassistant.local:8123` (config `home.url`). */
  url: string;
  /** Fills the token handle for the allowed host (the vault's tool-boundary expander). */
  authorize: HaAuthorize;
  /** Vault secret name of the long-lived token (config `home.tokenHandle`). Default `ha_token`. */
  tokenName?: string;
  /** Per-call timeout in ms (config `home.timeoutMs`). Default 10 000. */
  timeoutMs?: number;
  /** How long the registries and exposure list are reused before refetching. Default 60 s. */
  registryTtlMs?: number;
  /** First WebSocket reconnect delay. Default 500 ms. */
  reconnectInitialMs?: number;
  /** Longest WebSocket reconnect delay. Default 30 s. */
  reconnectMaxMs?: number;
}

const log = getLogger("home");

/** Talks to one Home Assistant instance. Call {@link HaClient.dispose} when done. */
export class HaClient {
  /** Base URL without a trailing slash, for messages. */
  readonly baseUrl: string;
  readonly #authorize: HaAuthorize;
  readonly #handle: string;
  readonly #tokenName: string;
  readonly #timeoutMs: number;
  readonly #registryTtlMs: number;
  readonly #ws: HaWebSocket;
  #registry: HaRegistry | undefined;
  #registryLoading: Promise<HaRegistry> | undefined;

  constructor(options: HaClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch (err) {
      throw new ServiceError("HA_URL_INVALID", `home.url "${options.url}" is not a URL; set it to something like http://homeassistant.local:8123.`, { cause: err });
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new ServiceError("HA_URL_INVALID", `home.url must start with http:// or https:// (got "${options.url}").`);
    }
    this.baseUrl = options.url.replace(/\/+$/, "");
    this.#authorize = options.authorize;
    this.#tokenName = options.tokenName ?? "ha_token";
    this.#handle = formatHandle(this.#tokenName);
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#registryTtlMs = options.registryTtlMs ?? 60_000;
    this.#ws = new HaWebSocket({
      baseUrl: this.baseUrl,
      authorize: this.#authorize,
      tokenHandle: this.#handle,
      tokenName: this.#tokenName,
      timeoutMs: this.#timeoutMs,
      ...(options.reconnectInitialMs === undefined ? {} : { reconnectInitialMs: options.reconnectInitialMs }),
      ...(options.reconnectMaxMs === undefined ? {} : { reconnectMaxMs: options.reconnectMaxMs }),
    });
  }

  /** True while the WebSocket is connected and authenticated. */
  get webSocketConnected(): boolean {
    return this.#ws.connected;
  }

  /** Every entity state (`GET /api/states`). */
  async getStates(signal?: AbortSignal): Promise<HaState[]> {
    return (await this.#rest("GET", "/api/states", undefined, signal)) as HaState[];
  }

  /** One entity's state, or `undefined` if HA does not know it. */
  async getState(entityId: string, signal?: AbortSignal): Promise<HaState | undefined> {
    const res = await this.#rest("GET", `/api/states/${encodeURIComponent(entityId)}`, undefined, signal, { allow404: true });
    return res === NOT_FOUND ? undefined : (res as HaState);
  }

  /**
   * Call a service (`POST /api/services/<domain>/<service>`); returns the states HA reports as
   * changed by the call.
   */
  async callService(domain: string, service: string, data: Record<string, unknown>, signal?: AbortSignal): Promise<HaState[]> {
    if (!/^[a-z0-9_]+$/.test(domain) || !/^[a-z0-9_]+$/.test(service)) {
      throw new ServiceError("HA_BAD_SERVICE", `"${domain}.${service}" is not a Home Assistant service name.`);
    }
    const res = await this.#rest("POST", `/api/services/${domain}/${service}`, data, signal);
    return Array.isArray(res) ? (res as HaState[]) : [];
  }

  /**
   * State changes of one entity between `start` and `end` (`GET /api/history/period/<start>`),
   * oldest first, without attributes.
   */
  async getHistory(entityId: string, start: Date, end: Date, signal?: AbortSignal): Promise<HaState[]> {
    const q = new URLSearchParams({ filter_entity_id: entityId, end_time: end.toISOString() });
    // Flags without values, as HA documents them; they shrink the answer a lot.
    const path = `/api/history/period/${encodeURIComponent(start.toISOString())}?${q.toString()}&minimal_response&no_attributes&significant_changes_only`;
    const res = (await this.#rest("GET", path, undefined, signal)) as HaState[][] | undefined;
    const rows = Array.isArray(res) ? (res[0] ?? []) : [];
    // minimal_response drops entity_id from all rows but the first; put it back for callers.
    return rows.map((r) => ({ ...r, entity_id: entityId, attributes: r.attributes ?? {} }));
  }

  /** Long-term statistics (`recorder/statistics_during_period`), e.g. energy use per day. */
  async getStatistics(
    statisticIds: string[],
    start: Date,
    end: Date,
    period: HaStatisticsPeriod,
    types: Array<"change" | "mean" | "min" | "max" | "state" | "sum">,
    signal?: AbortSignal,
  ): Promise<Record<string, HaStatisticValue[]>> {
    const res = await this.#ws.command<Record<string, HaStatisticValue[]> | null>(
      "recorder/statistics_during_period",
      { start_time: start.toISOString(), end_time: end.toISOString(), statistic_ids: statisticIds, period, types },
      signal,
    );
    return res ?? {};
  }

  /** Hand a sentence to HA's conversation agent (`POST /api/conversation/process`). */
  async converse(text: string, options: { language?: string; conversationId?: string } = {}, signal?: AbortSignal): Promise<HaConversationReply> {
    const body: Record<string, unknown> = { text };
    if (options.language) body["language"] = options.language;
    if (options.conversationId) body["conversation_id"] = options.conversationId;
    const res = (await this.#rest("POST", "/api/conversation/process", body, signal)) as {
      response?: { response_type?: string; speech?: { plain?: { speech?: string } } };
      conversation_id?: string | null;
    };
    return {
      speech: res.response?.speech?.plain?.speech ?? "",
      responseType: res.response?.response_type ?? "unknown",
      conversationId: res.conversation_id ?? undefined,
    };
  }

  /**
   * Areas, devices, entity registry and the Assist exposure list, cached for `registryTtlMs`.
   * Pass `refresh` to force a fetch (after the user changed something in HA).
   */
  async getRegistry(options: { refresh?: boolean; signal?: AbortSignal } = {}): Promise<HaRegistry> {
    const cached = this.#registry;
    if (cached && !options.refresh && Date.now() - cached.fetchedAt < this.#registryTtlMs) return cached;
    // The shared load runs without any one caller's signal (the per-call timeout still bounds it),
    // so one caller giving up does not fail the others waiting on the same load.
    this.#registryLoading ??= this.#loadRegistry().finally(() => {
      this.#registryLoading = undefined;
    });
    return abortable(this.#registryLoading, options.signal);
  }

  /** Raw WebSocket command for anything not wrapped above. */
  wsCommand<T>(type: string, payload: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
    return this.#ws.command<T>(type, payload, signal);
  }

  /** Close the WebSocket and stop reconnecting. */
  dispose(): void {
    this.#ws.dispose();
  }

  async #loadRegistry(): Promise<HaRegistry> {
    const [areas, devices, entities] = await Promise.all([
      this.#ws.command<HaArea[]>("config/area_registry/list"),
      this.#ws.command<HaDevice[]>("config/device_registry/list"),
      this.#ws.command<HaEntityEntry[]>("config/entity_registry/list"),
    ]);
    let exposed: Set<string> | undefined;
    try {
      const res = await this.#ws.command<HaExposedEntities>("homeassistant/expose_entity/list");
      exposed = new Set(
        Object.entries(res.exposed_entities ?? {})
          .filter(([, flags]) => flags["conversation"] === true)
          .map(([id]) => id),
      );
    } catch (err) {
      // Only a HA too old to have exposure settings (before 2023.5) falls back to people's scopes
      // alone; any other failure must not silently widen what Hearth may touch.
      if (!(err instanceof ServiceError) || err.code !== "HA_UNKNOWN_COMMAND") throw err;
      log.warn("Home Assistant has no Assist exposure list; only per-person scopes apply");
    }
    const registry: HaRegistry = { areas, devices, entities, exposed, fetchedAt: Date.now() };
    this.#registry = registry;
    return registry;
  }

  async #rest(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    options: { allow404?: boolean } = {},
  ): Promise<unknown> {
    signal?.throwIfAborted();
    const url = `${this.baseUrl}${path}`;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let res: Response;
    try {
      // Built with the handle; the authorized request lives only inside this expression.
      const authorized = await this.#authorize({
        url,
        method,
        headers: {
          Authorization: `Bearer ${this.#handle}`,
          "Content-Type": "application/json",
          Accept: "application/json",
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      res = await fetch(authorized.url, {
        method: authorized.method,
        headers: authorized.headers,
        ...(authorized.body === undefined ? {} : { body: authorized.body }),
        signal: combined,
        redirect: "error",
      });
    } catch (err) {
      if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
      // The vault's own errors (locked, host not allowed) already say how to fix them.
      if (err instanceof HearthError) throw err;
      throw this.#unreachable(timeout.aborted ? `no answer within ${this.#timeoutMs} ms` : "connection failed", err);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw new AbortedError({ cause: signal.reason });
      throw this.#unreachable("the answer was cut off", err);
    }
    if (res.status === 401 || res.status === 403) {
      throw new ServiceError(
        "HA_AUTH",
        `Home Assistant at ${this.baseUrl} rejected the access token; create a new long-lived token in your HA profile and store it with \`hearth vault add ${this.#tokenName} --allow-host ${new URL(this.baseUrl).host}\`.`,
      );
    }
    if (res.status === 404 && options.allow404) return NOT_FOUND;
    if (!res.ok) {
      // HA puts a short reason in {"message": …}; it is about the request, not the token.
      let reason = text.slice(0, 200);
      try {
        const parsed = JSON.parse(text) as { message?: unknown };
        if (typeof parsed.message === "string") reason = parsed.message;
      } catch {
        // Plain-text body; use it as is.
      }
      throw new ServiceError(
        res.status >= 500 ? "HA_FAILED" : "HA_BAD_REQUEST",
        `Home Assistant could not do that (${res.status}${reason ? `: ${reason}` : ""}).`,
        { cause: new Error(`${method} ${path} → ${res.status}`) },
      );
    }
    if (text === "") return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ServiceError("HA_FAILED", `Home Assistant at ${this.baseUrl} sent an answer Hearth cannot read; is home.url pointing at Home Assistant?`, { cause: err });
    }
  }

  #unreachable(detail: string, cause: unknown): ServiceError {
    return new ServiceError(
      "HA_UNREACHABLE",
      `Home Assistant at ${this.baseUrl} is not answering; check it is running and that home.url is right.`,
      { cause: new Error(detail, { cause }) },
    );
  }
}

/** Waits for `promise` unless `signal` aborts first (the promise keeps running for others). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new AbortedError({ cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortedError({ cause: signal.reason }));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Marker for an allowed 404. */
const NOT_FOUND = Symbol("not found");
