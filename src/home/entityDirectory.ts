import type { HaClient } from "./haClient.ts";
import type { HaRegistry, HaState } from "./haTypes.ts";
import { normalizeAreaKey, type EntityFacts } from "./permissions.ts";

/**
 * The household's entities as people talk about them: registry names and areas joined with the
 * current states, plus a forgiving word search ("kids light", "garage").
 */

/** An entity with everything Hearth needs to find it, check it and describe it. */
export interface HomeEntity extends EntityFacts {
  /** Friendly name: registry name, else HA's friendly_name, else the entity id. */
  name: string;
  /** Current state, if HA reported one. */
  state: HaState | undefined;
}

/** A search over {@link HomeEntity} lists. Empty fields match everything. */
export interface EntityQuery {
  /** Free words matched against name, entity id and area name. */
  words?: string;
  /** Area id or name. */
  area?: string;
  /** Domain such as `light`. */
  domain?: string;
}

/** Build the entity list from the (cached) registries and fresh states. */
export async function loadHomeEntities(client: HaClient, signal?: AbortSignal): Promise<HomeEntity[]> {
  const [registry, states] = await Promise.all([client.getRegistry(signal ? { signal } : {}), client.getStates(signal)]);
  return joinEntities(registry, states);
}

/** Join registries and states (exported for tests and for callers that already hold both). */
export function joinEntities(registry: HaRegistry, states: HaState[]): HomeEntity[] {
  const areaNames = new Map(registry.areas.map((a) => [a.area_id, a.name]));
  const deviceAreas = new Map(registry.devices.map((d) => [d.id, d.area_id]));
  const entries = new Map(registry.entities.map((e) => [e.entity_id, e]));
  const out: HomeEntity[] = [];
  for (const state of states) {
    const entry = entries.get(state.entity_id);
    if (entry?.disabled_by) continue;
    // An entity's own area wins over its device's, as in HA's UI.
    const areaId = entry?.area_id ?? (entry?.device_id ? deviceAreas.get(entry.device_id) : undefined) ?? undefined;
    const friendly = typeof state.attributes["friendly_name"] === "string" ? state.attributes["friendly_name"] : undefined;
    const deviceClass = typeof state.attributes["device_class"] === "string" ? state.attributes["device_class"] : undefined;
    out.push({
      entityId: state.entity_id,
      domain: state.entity_id.split(".", 1)[0] ?? "",
      name: entry?.name ?? friendly ?? entry?.original_name ?? state.entity_id,
      areaId: areaId ?? undefined,
      areaName: areaId ? areaNames.get(areaId) : undefined,
      deviceClass,
      exposed: registry.exposed ? registry.exposed.has(state.entity_id) : undefined,
      state,
    });
  }
  return out;
}

/** Entities matching `query`, best matches first. */
export function searchEntities(entities: readonly HomeEntity[], query: EntityQuery): HomeEntity[] {
  const domain = query.domain?.trim().toLowerCase();
  const area = query.area?.trim() ? normalizeAreaKey(query.area) : undefined;
  const words = tokenize(query.words ?? "");
  const scored: Array<{ e: HomeEntity; score: number }> = [];
  for (const e of entities) {
    if (domain && e.domain !== domain) continue;
    if (area && normalizeAreaKey(e.areaId ?? "") !== area && normalizeAreaKey(e.areaName ?? "") !== area) continue;
    if (words.length === 0) {
      scored.push({ e, score: 0 });
      continue;
    }
    const hay = new Set(tokenize(`${e.name} ${e.entityId.replace(/[._]/g, " ")} ${e.areaName ?? ""} ${e.domain}`));
    let hits = 0;
    for (const w of words) if (hay.has(w) || [...hay].some((h) => h.startsWith(w) && w.length >= 3)) hits++;
    // Every word has to match: "kids light" must not return the kitchen light.
    if (hits === words.length) scored.push({ e, score: hits });
  }
  scored.sort((a, b) => b.score - a.score || a.e.entityId.localeCompare(b.e.entityId));
  return scored.map((s) => s.e);
}

/** Lower-case words without possessives and noise words people add ("the", "lights" → "light"). */
function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/['’]s\b/g, "s")
    .replace(/['’]/g, "")
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0 && !NOISE.has(w))
    .map((w) => (w.length > 3 && w.endsWith("s") && !w.endsWith("ss") ? w.slice(0, -1) : w));
}

const NOISE = new Set(["the", "a", "an", "in", "on", "of", "my", "our", "is", "are", "all"]);
