/**
 * Shapes of the Home Assistant REST and WebSocket payloads Hearth uses, trimmed to the fields it
 * reads. Home Assistant sends more; unknown fields are ignored, so newer HA versions keep working.
 */

/** One entity state as returned by `GET /api/states` and service calls. */
export interface HaState {
  entity_id: string;
  state: string;
  attributes: Record<string, unknown>;
  last_changed?: string;
  last_updated?: string;
}

/** An area from `config/area_registry/list`. */
export interface HaArea {
  area_id: string;
  name: string;
  aliases?: string[];
}

/** A device from `config/device_registry/list`. */
export interface HaDevice {
  id: string;
  area_id: string | null;
  name: string | null;
  name_by_user?: string | null;
}

/** An entity registry entry from `config/entity_registry/list`. */
export interface HaEntityEntry {
  entity_id: string;
  area_id: string | null;
  device_id: string | null;
  name: string | null;
  original_name?: string | null;
  disabled_by?: string | null;
  hidden_by?: string | null;
}

/** Result of `homeassistant/expose_entity/list`: entity id → assistant id → exposed. */
export interface HaExposedEntities {
  exposed_entities: Record<string, Record<string, boolean>>;
}

/** The registries joined, as the client caches them. */
export interface HaRegistry {
  areas: HaArea[];
  devices: HaDevice[];
  entities: HaEntityEntry[];
  /**
   * Entity ids exposed to Assist ("conversation"), or `undefined` when HA could not tell (then
   * nothing is filtered by exposure and a warning is logged).
   */
  exposed: ReadonlySet<string> | undefined;
  /** When this snapshot was fetched (ms since epoch). */
  fetchedAt: number;
}

/** One row of `recorder/statistics_during_period` (start/end are ms since epoch). */
export interface HaStatisticValue {
  start: number;
  end: number;
  change?: number | null;
  mean?: number | null;
  min?: number | null;
  max?: number | null;
  state?: number | null;
  sum?: number | null;
}

/** Statistics period accepted by the recorder. */
export type HaStatisticsPeriod = "5minute" | "hour" | "day" | "week" | "month";

/** What `POST /api/conversation/process` answered, reduced to what a chat needs. */
export interface HaConversationReply {
  /** The plain speech text HA would say. */
  speech: string;
  /** `action_done`, `query_answer` or `error`. */
  responseType: string;
  conversationId: string | undefined;
}

/** A request before or after the vault fills in the token (see {@link HaAuthorize}). */
export interface HaHttpRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/**
 * Fills the `{{secret:NAME}}` handle in a request (in practice the `Authorization` header) for the
 * allowed host only. Supplied by the vault's tool-boundary expander; the client never holds the
 * token itself and never keeps the returned request.
 */
export type HaAuthorize = (request: HaHttpRequest) => Promise<HaHttpRequest>;
