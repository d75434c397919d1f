import { HearthError, isAbortError, AbortedError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";
import type { Person } from "../core/people.ts";
import type { HomeAuditLog } from "./auditLog.ts";
import { loadHomeEntities, searchEntities, type EntityQuery, type HomeEntity } from "./entityDirectory.ts";
import { describeEntity, shortTime, stateValue } from "./formatState.ts";
import type { HaClient } from "./haClient.ts";
import type { PendingAction, PendingActions } from "./pendingActions.ts";
import type { HomePolicy } from "./permissions.ts";

/**
 * Everything a person can do with Home Assistant through Hearth, permission-checked and audited,
 * returning short reply text. The model's tools ({@link createHomeTools}) and the `/ha` commands
 * are both thin layers over this, so the two paths cannot drift apart on who may do what.
 *
 * Errors Hearth can explain (HA down, token refused, bad request) become their `userMessage`
 * text; aborts propagate.
 */

/** What one request runs with. */
export interface HomeContext {
  /** Who is asking. */
  person: Person;
  client: HaClient;
  permissions: HomePolicy;
  pending: PendingActions;
  audit: HomeAuditLog;
  signal?: AbortSignal;
}

/** Longest lists returned, to keep replies short for the model and the chat. */
const MAX_LIST = 15;
/** Data keys that would widen a call beyond the checked entity. */
const TARGET_KEYS = new Set(["entity_id", "area_id", "device_id", "floor_id", "label_id"]);

const log = getLogger("home");

type Resolved = { entity: HomeEntity } | { reply: string };

/** Permission-checked, audited Home Assistant operations for one person. */
export class HomeActions {
  readonly #ctx: HomeContext;

  constructor(ctx: HomeContext) {
    this.#ctx = ctx;
  }

  /** Entities the person may read that match `query`, one line each. */
  async find(query: EntityQuery): Promise<string> {
    return this.#guard(async () => {
      const readable = await this.#readable();
      const hits = searchEntities(readable, query);
      if (hits.length === 0) return "No matching entities you may see.";
      const lines = hits.slice(0, MAX_LIST).map(describeEntity);
      if (hits.length > MAX_LIST) lines.push(`(+${hits.length - MAX_LIST} more; narrow the search)`);
      return lines.join("\n");
    });
  }

  /** Current state of one entity (id or name). */
  async state(ref: string): Promise<string> {
    return this.#guard(async () => {
      const r = await this.#resolve(ref);
      return "reply" in r ? r.reply : describeEntity(r.entity);
    });
  }

  /**
   * What an entity did over the last `hours`. Sensors with long-term statistics (energy meters
   * and the like) answer with per-period totals from the recorder; others with state changes.
   */
  async history(ref: string, hours = 24): Promise<string> {
    return this.#guard(async () => {
      const r = await this.#resolve(ref);
      if ("reply" in r) return r.reply;
      const e = r.entity;
      const h = Math.min(Math.max(1, Math.round(hours)), 24 * 31);
      const end = new Date();
      const start = new Date(end.getTime() - h * 3_600_000);
      const unit = typeof e.state?.attributes["unit_of_measurement"] === "string" ? ` ${e.state.attributes["unit_of_measurement"] as string}` : "";
      if (e.state?.attributes["state_class"] !== undefined) {
        const period = h > 48 ? "day" : "hour";
        const stats = await this.#ctx.client.getStatistics([e.entityId], start, end, period, ["change", "mean"], this.#ctx.signal);
        const rows = stats[e.entityId] ?? [];
        if (rows.length > 0) {
          const total = rows.reduce((s, row) => s + (row.change ?? 0), 0);
          const isTotal = e.state.attributes["state_class"] !== "measurement";
          const parts = rows.slice(-MAX_LIST).map((row) => {
            const v = isTotal ? row.change : row.mean;
            return `${shortTime(new Date(row.start).toISOString())} ${v === null || v === undefined ? "?" : round(v)}`;
          });
          const head = isTotal
            ? `${e.name}: ${round(total)}${unit} used in the last ${h} h (per ${period}):`
            : `${e.name}: average per ${period} over the last ${h} h:`;
          return `${head}\n${parts.join("\n")}`;
        }
      }
      const changes = await this.#ctx.client.getHistory(e.entityId, start, end, this.#ctx.signal);
      if (changes.length === 0) return `${e.name}: no changes recorded in the last ${h} h.`;
      const shown = changes.slice(-MAX_LIST).map((c) => `${c.last_changed ? shortTime(c.last_changed) : "?"} ${c.state}${unit}`);
      const more = changes.length > MAX_LIST ? ` (last ${MAX_LIST} of ${changes.length})` : "";
      return `${e.name} over the last ${h} h${more}:\n${shown.join("\n")}`;
    });
  }

  /**
   * Call `service` (e.g. `turn_off` or `light.turn_off`, or a function choosing it from the
   * resolved entity's domain) on one entity with extra `data`.
   * Sensitive calls are parked in the pending list and the reply says how to confirm them.
   */
  async control(
    ref: string,
    service: string | ((domain: string) => string | undefined),
    data: Record<string, unknown> = {},
  ): Promise<string> {
    const { person, permissions, pending, audit } = this.#ctx;
    return this.#guard(async () => {
      const r = await this.#resolve(ref);
      if ("reply" in r) return r.reply;
      const e = r.entity;
      // A function picks the service once the domain is known (`/ha on` opens covers, turns on lights).
      if (typeof service === "function") {
        const picked = service(e.domain);
        if (picked === undefined) return `That does not fit ${e.name} (${e.domain})${e.domain === "lock" ? "; use lock or unlock" : ""}.`;
        service = picked;
      }
      const [maybeDomain, maybeService] = service.includes(".") ? service.split(".", 2) : [e.domain, service];
      const svc = (maybeService ?? "").trim();
      // homeassistant.turn_on etc. act on any domain; map to the entity's own so checks stay exact.
      if ((maybeDomain !== e.domain && maybeDomain !== "homeassistant") || !/^[a-z0-9_]+$/.test(svc)) {
        return `"${service}" is not a service of ${e.name} (${e.domain}); use e.g. ${e.domain}.turn_on.`;
      }
      const action = `${e.domain}.${svc}`;
      const cleanData: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(data)) if (!TARGET_KEYS.has(k) && v !== undefined && v !== null) cleanData[k] = v;
      if (!permissions.canControl(person, e)) {
        audit.record({ person: person.name, action, entityId: e.entityId, result: "denied", detail: "no control permission" });
        return `You may not control ${e.name}.`;
      }
      const reason = permissions.sensitivity(e, svc, cleanData);
      if (reason !== undefined) {
        const p = pending.add({
          requester: person.name,
          domain: e.domain,
          service: svc,
          entityId: e.entityId,
          entityName: e.name,
          data: { ...cleanData, entity_id: e.entityId },
          reason,
        });
        audit.record({ person: person.name, action, entityId: e.entityId, result: "pending", detail: `id ${p.id}: ${reason}` });
        return `Needs confirmation, id ${p.id}: ${describeAction(p)} (${reason}). Someone allowed to confirm must send /confirm ${p.id} within ${Math.round(pending.ttlMs / 1000)} s.`;
      }
      return this.#execute(action, e.entityId, e.name, { ...cleanData, entity_id: e.entityId }, "");
    });
  }

  /** Run a pending sensitive action, if this person may confirm and it has not expired. */
  async confirm(id: string): Promise<string> {
    const { person, permissions, pending, audit } = this.#ctx;
    return this.#guard(async () => {
      const peeked = pending.peek(id);
      if (!permissions.canConfirm(person)) {
        audit.record({ person: person.name, action: "confirm", entityId: peeked?.entityId ?? "", result: "denied", detail: `id ${id}` });
        return "You may not confirm sensitive home actions; ask a parent.";
      }
      const taken = pending.take(id);
      if (taken.status === "unknown") return `There is no pending action ${id}.`;
      const a = taken.action;
      const action = `${a.domain}.${a.service}`;
      if (taken.status === "expired") {
        audit.record({ person: person.name, action, entityId: a.entityId, result: "expired", detail: `id ${a.id} requested by ${a.requester}` });
        return `Action ${a.id} (${describeAction(a)}) expired; ask again.`;
      }
      return this.#execute(action, a.entityId, a.entityName, a.data, `confirmed id ${a.id} requested by ${a.requester}`);
    });
  }

  /** Drop a pending action (the requester or anyone who may confirm). */
  async cancel(id: string): Promise<string> {
    const { person, permissions, pending } = this.#ctx;
    const a = pending.peek(id);
    if (!a) return `There is no pending action ${id}.`;
    if (a.requester !== person.name && !permissions.canConfirm(person)) return "Only the requester or someone who may confirm can cancel it.";
    pending.cancel(id);
    return `Cancelled action ${a.id} (${describeAction(a)}).`;
  }

  /** Hand a sentence to HA's own conversation agent (only for people who may; see HomePolicy.mayConverse). */
  async ask(text: string): Promise<string> {
    const { person, permissions, audit, client, signal } = this.#ctx;
    return this.#guard(async () => {
      if (!permissions.mayConverse(person)) {
        audit.record({ person: person.name, action: "conversation", entityId: "", result: "denied", detail: text.slice(0, 100) });
        return "You may not use Home Assistant's own assistant; ask me to find, read or switch things instead.";
      }
      try {
        const reply = await client.converse(text.slice(0, 500), {}, signal);
        audit.record({ person: person.name, action: "conversation", entityId: "", result: reply.responseType === "error" ? "failed" : "ok", detail: text.slice(0, 100) });
        return reply.speech || "(Home Assistant gave no answer.)";
      } catch (err) {
        if (err instanceof HearthError) {
          audit.record({ person: person.name, action: "conversation", entityId: "", result: "failed", detail: err.userMessage });
        }
        throw err;
      }
    });
  }

  /** Recent audit entries as text (admins only). */
  auditText(limit = 20): string {
    const { person, audit } = this.#ctx;
    if (person.role !== "admin") return "Only admins can see the home audit log.";
    const rows = audit.recent(limit);
    if (rows.length === 0) return "The home audit log is empty.";
    return rows
      .map((r) => `${shortTime(new Date(r.at).toISOString())} ${r.person} ${r.action} ${r.entityId || "-"} ${r.result}${r.detail ? ` (${r.detail})` : ""}`)
      .join("\n");
  }

  async #execute(action: string, entityId: string, name: string, data: Record<string, unknown>, detail: string): Promise<string> {
    const { person, audit, client, signal } = this.#ctx;
    const [domain, service] = action.split(".", 2) as [string, string];
    try {
      const changed = await client.callService(domain, service, data, signal);
      const now = changed.find((s) => s.entity_id === entityId) ?? (await client.getState(entityId, signal));
      audit.record({ person: person.name, action, entityId, result: "ok", detail });
      return `Done: ${name} ${now ? `is now ${stateValue(now)}` : `(${action})`}.`;
    } catch (err) {
      if (isAbortError(err)) throw err;
      const text = err instanceof HearthError ? err.userMessage : "unexpected error";
      audit.record({ person: person.name, action, entityId, result: "failed", detail: detail ? `${detail}; ${text}` : text });
      throw err;
    }
  }

  /** Entities this person may read. */
  async #readable(): Promise<HomeEntity[]> {
    const { person, permissions, client, signal } = this.#ctx;
    const all = await loadHomeEntities(client, signal);
    return all.filter((e) => permissions.canRead(person, e));
  }

  /** An entity by id or words, among those the person may read; otherwise a reply saying why not. */
  async #resolve(ref: string): Promise<Resolved> {
    const wanted = ref.trim();
    if (wanted === "") return { reply: "Which entity? Give its name or id, e.g. light.kitchen." };
    const readable = await this.#readable();
    const exact = readable.find((e) => e.entityId === wanted.toLowerCase());
    if (exact) return { entity: exact };
    const hits = searchEntities(readable, { words: wanted });
    const [first] = hits;
    // Unknown and forbidden look the same, so a child cannot probe which devices exist.
    if (!first) return { reply: `I found nothing called "${wanted.slice(0, 80)}" that you may see.` };
    if (hits.length === 1) return { entity: first };
    const exactName = hits.filter((e) => e.name.toLowerCase() === wanted.toLowerCase());
    if (exactName.length === 1 && exactName[0]) return { entity: exactName[0] };
    return { reply: `Which one? ${hits.slice(0, 6).map((e) => `${e.name} (${e.entityId})`).join(", ")}` };
  }

  /** Runs `fn`, turning explainable errors into reply text. */
  async #guard(fn: () => Promise<string>): Promise<string> {
    try {
      this.#ctx.signal?.throwIfAborted();
      return await fn();
    } catch (err) {
      if (isAbortError(err) || this.#ctx.signal?.aborted) throw err instanceof AbortedError ? err : new AbortedError({ cause: err });
      if (err instanceof HearthError) {
        log.warn({ code: err.code, err: err.message }, "home action failed");
        return err.userMessage;
      }
      throw err;
    }
  }
}

/** `unlock Front Door` / `set_temperature Thermostat to 85`. */
export function describeAction(a: PendingAction): string {
  const target = a.data["temperature"];
  const extra = typeof target === "number" ? ` to ${target}°` : "";
  return `${a.service.replace(/_/g, " ")} ${a.entityName}${extra}`;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
