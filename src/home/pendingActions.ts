/**
 * Sensitive Home Assistant actions waiting for `/confirm ID`. In memory on purpose: a restart
 * should drop every half-approved "unlock the front door" rather than resurrect it later.
 */

/** A service call that was requested but not yet confirmed. */
export interface PendingAction {
  /** Short id people type after `/confirm`. */
  id: string;
  /** `Person.name` of whoever asked. */
  requester: string;
  domain: string;
  service: string;
  entityId: string;
  /** Friendly entity name for messages. */
  entityName: string;
  /** Service data including `entity_id`. */
  data: Record<string, unknown>;
  /** Why it needs confirmation, e.g. "locks need confirmation". */
  reason: string;
  createdAt: number;
  expiresAt: number;
}

/** Fields the caller supplies to {@link PendingActions.add}. */
export type NewPendingAction = Omit<PendingAction, "id" | "createdAt" | "expiresAt">;

/** Outcome of {@link PendingActions.take}. */
export type TakeResult =
  | { status: "ok"; action: PendingAction }
  | { status: "expired"; action: PendingAction }
  | { status: "unknown" };

/** Options of {@link PendingActions}. */
export interface PendingActionsOptions {
  /** How long an action waits for confirmation, in ms (config `home.confirmSeconds` × 1000). Default 2 min. */
  ttlMs?: number;
  /** Clock, injectable for tests. Default `Date.now`. */
  now?: () => number;
  /** How long an expired action is remembered so `/confirm` can say "expired" instead of "unknown". Default 1 h. */
  tombstoneMs?: number;
}

/** The set of actions awaiting confirmation. */
export class PendingActions {
  readonly ttlMs: number;
  readonly #now: () => number;
  readonly #tombstoneMs: number;
  readonly #actions = new Map<string, PendingAction>();
  #nextId = 1;

  constructor(options: PendingActionsOptions = {}) {
    this.ttlMs = options.ttlMs ?? 120_000;
    this.#now = options.now ?? Date.now;
    this.#tombstoneMs = options.tombstoneMs ?? 3_600_000;
  }

  /** Store an action and give it an id and an expiry. */
  add(input: NewPendingAction): PendingAction {
    this.#prune();
    const now = this.#now();
    const action: PendingAction = { ...input, id: String(this.#nextId++), createdAt: now, expiresAt: now + this.ttlMs };
    this.#actions.set(action.id, action);
    return action;
  }

  /** Look at an action without removing it. */
  peek(id: string): PendingAction | undefined {
    return this.#actions.get(normalizeId(id));
  }

  /** Remove an action for execution; tells apart expired and never-existing ids. */
  take(id: string): TakeResult {
    const key = normalizeId(id);
    const action = this.#actions.get(key);
    if (!action) return { status: "unknown" };
    this.#actions.delete(key);
    return this.#now() > action.expiresAt ? { status: "expired", action } : { status: "ok", action };
  }

  /** Drop an action; true if it was there. */
  cancel(id: string): boolean {
    return this.#actions.delete(normalizeId(id));
  }

  /** Actions still waiting (not expired), oldest first. */
  list(): PendingAction[] {
    const now = this.#now();
    return [...this.#actions.values()].filter((a) => a.expiresAt >= now);
  }

  /** Forget everything. */
  dispose(): void {
    this.#actions.clear();
  }

  #prune(): void {
    const cutoff = this.#now() - this.#tombstoneMs;
    for (const [id, a] of this.#actions) if (a.expiresAt < cutoff) this.#actions.delete(id);
  }
}

function normalizeId(id: string): string {
  return id.trim().replace(/^#/, "");
}
