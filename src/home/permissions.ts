import type { HomeScope, Person } from "../core/people.ts";

/**
 * Who may see and switch what in Home Assistant, and which actions need a second person's (or a
 * second explicit) confirmation.
 *
 * Rules:
 * - An entity is visible only if HA exposes it to Assist (when `respectExposure`) AND the person's
 *   scope matches it. The exposure list is the household's own "what may a voice assistant touch"
 *   decision, so Hearth never widens it, not even for admins.
 * - A scope matches by entity id, domain or area (area id, or area name in any case/spacing);
 *   `"*"` in any list matches everything.
 * - Being allowed to control an entity implies being allowed to read it.
 * - Locks, alarm panels, garage/gate covers, and thermostat set points outside the safe range are
 *   sensitive: they go through {@link PendingActions} and need `/confirm` from someone with
 *   `canConfirm`.
 */

/** The facts about an entity that permissions depend on. */
export interface EntityFacts {
  entityId: string;
  domain: string;
  areaId: string | undefined;
  areaName: string | undefined;
  /** `device_class` attribute, e.g. `garage` for a garage door cover. */
  deviceClass: string | undefined;
  /** Whether HA exposes it to Assist; `undefined` when HA has no exposure list. */
  exposed: boolean | undefined;
}

/** Options of {@link HomePolicy}. */
export interface HomePolicyOptions {
  /**
   * Thermostat set points inside [min, max] (inclusive, in HA's temperature unit) run at once;
   * anything outside needs confirmation (config `home.climateSafeRange`). Default [60, 78].
   */
  climateSafeRange?: readonly [number, number];
  /** Intersect every scope with HA's "Expose to Assist" list. Default true. */
  respectExposure?: boolean;
}

/** Cover device classes that open the house to the outside. */
const SENSITIVE_COVER_CLASSES = new Set(["garage", "gate", "door"]);
/** Domains where every state-changing call is sensitive. */
const SENSITIVE_DOMAINS = new Set(["lock", "alarm_control_panel"]);

/** Decides read/control/confirm questions for one household configuration. */
export class HomePolicy {
  readonly climateSafeRange: readonly [number, number];
  readonly respectExposure: boolean;

  constructor(options: HomePolicyOptions = {}) {
    const range = options.climateSafeRange ?? [60, 78];
    if (!(range[0] <= range[1])) throw new RangeError(`climateSafeRange must be [min, max] with min ≤ max, got [${range[0]}, ${range[1]}]`);
    this.climateSafeRange = range;
    this.respectExposure = options.respectExposure ?? true;
  }

  /** May `person` see this entity's state and history? */
  canRead(person: Person, entity: EntityFacts): boolean {
    if (!this.#isExposed(entity)) return false;
    return scopeMatches(person.home.read, entity) || scopeMatches(person.home.control, entity);
  }

  /** May `person` call services on this entity (sensitive ones still need confirmation)? */
  canControl(person: Person, entity: EntityFacts): boolean {
    if (!this.#isExposed(entity)) return false;
    return scopeMatches(person.home.control, entity);
  }

  /** May `person` confirm sensitive actions? */
  canConfirm(person: Person): boolean {
    return person.home.canConfirm;
  }

  /**
   * May `person` talk to HA's own conversation agent? That agent acts with the token's full HA
   * rights and knows nothing of Hearth's scopes or confirmations, so only people who could do
   * (and confirm) anything anyway get it: `canConfirm` plus an unrestricted control scope.
   */
  mayConverse(person: Person): boolean {
    const c = person.home.control;
    return person.home.canConfirm && (c.areas.includes("*") || c.domains.includes("*") || c.entities.includes("*"));
  }

  /**
   * Why calling `domain.service` with `data` on `entity` needs confirmation, or `undefined` if it
   * may run at once.
   */
  sensitivity(entity: EntityFacts, service: string, data: Record<string, unknown>): string | undefined {
    if (SENSITIVE_DOMAINS.has(entity.domain)) {
      return entity.domain === "lock" ? "locks need confirmation" : "alarm panels need confirmation";
    }
    if (entity.domain === "cover" && entity.deviceClass !== undefined && SENSITIVE_COVER_CLASSES.has(entity.deviceClass)) {
      return `${entity.deviceClass} doors need confirmation`;
    }
    if (entity.domain === "climate" && service === "set_temperature") {
      const [min, max] = this.climateSafeRange;
      for (const key of ["temperature", "target_temp_low", "target_temp_high"]) {
        const v = data[key];
        if (v === undefined) continue;
        if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
          return `set points outside ${min}–${max}° need confirmation`;
        }
      }
    }
    return undefined;
  }

  #isExposed(entity: EntityFacts): boolean {
    return !this.respectExposure || entity.exposed !== false;
  }
}

/** Normalises an area name or id for comparison: "Kids' Room" → "kids_room". */
export function normalizeAreaKey(text: string): string {
  return text
    .toLowerCase()
    .replace(/['’]/g, "")
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

/** True if `scope` covers `entity` (by id, domain or area; `"*"` covers all). */
export function scopeMatches(scope: HomeScope, entity: EntityFacts): boolean {
  if (scope.entities.includes("*") || scope.entities.includes(entity.entityId)) return true;
  if (scope.domains.includes("*") || scope.domains.includes(entity.domain)) return true;
  if (scope.areas.includes("*")) return true;
  const keys = [entity.areaId, entity.areaName].filter((k): k is string => k !== undefined).map(normalizeAreaKey);
  return keys.length > 0 && scope.areas.some((a) => keys.includes(normalizeAreaKey(a)));
}
