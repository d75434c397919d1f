import type { HomeEntity } from "./entityDirectory.ts";
import type { HaState } from "./haTypes.ts";

/**
 * Short, model-friendly text for entity states. Attributes are whitelisted per domain: HA
 * attributes can be long (supported feature bitmasks, colour lists, entity pictures with access
 * tokens in their URLs) and none of that helps answer "is it on?".
 */

/** Attributes worth showing, in order, and how to render them. */
const KEY_ATTRIBUTES: Record<string, Array<[string, (v: unknown, s: HaState) => string | undefined]>> = {
  light: [["brightness", (v) => (typeof v === "number" ? `brightness ${Math.round((v / 255) * 100)}%` : undefined)]],
  climate: [
    ["current_temperature", (v) => (typeof v === "number" ? `now ${v}°` : undefined)],
    ["temperature", (v) => (typeof v === "number" ? `set to ${v}°` : undefined)],
    ["hvac_action", (v) => (typeof v === "string" ? v : undefined)],
  ],
  cover: [["current_position", (v) => (typeof v === "number" ? `position ${v}%` : undefined)]],
  media_player: [["media_title", (v) => (typeof v === "string" ? `playing "${v.slice(0, 60)}"` : undefined)]],
  fan: [["percentage", (v) => (typeof v === "number" ? `speed ${v}%` : undefined)]],
};

/** The state value with its unit, e.g. `21.5 °C` or `on`. */
export function stateValue(state: HaState): string {
  const unit = state.attributes["unit_of_measurement"];
  return typeof unit === "string" && unit !== "" ? `${state.state} ${unit}` : state.state;
}

/** One line: `Kids Room Light (light.kids_room, Kids Room): on, brightness 50%`. */
export function describeEntity(entity: HomeEntity): string {
  const where = entity.areaName ? `, ${entity.areaName}` : "";
  const head = `${entity.name} (${entity.entityId}${where})`;
  if (!entity.state) return `${head}: no state`;
  const extras: string[] = [];
  for (const [key, render] of KEY_ATTRIBUTES[entity.domain] ?? []) {
    const text = render(entity.state.attributes[key], entity.state);
    if (text) extras.push(text);
  }
  const since = entity.state.last_changed ? `, since ${shortTime(entity.state.last_changed)}` : "";
  return `${head}: ${stateValue(entity.state)}${extras.length ? `, ${extras.join(", ")}` : ""}${since}`;
}

/** `2026-11-22 06:40` in UTC-free local-ish form; HA timestamps are ISO with offset. */
export function shortTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
