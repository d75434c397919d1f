import type { Database, Statement } from "better-sqlite3";
import { applyHomeMigrations } from "./homeMigrations.ts";

/**
 * Who did what to which Home Assistant entity, and how it ended. Kept in SQLite so `/audit` can
 * answer "who opened the garage at 3 am?" after a restart. Details hold HA's short error text or
 * who confirmed; never tokens (the HA client never sees them, and nothing here reads requests).
 */

/** How an attempt ended. */
export type AuditResult = "ok" | "denied" | "failed" | "pending" | "expired";

/** One audit row. */
export interface AuditEntry {
  id: number;
  /** Milliseconds since epoch. */
  at: number;
  /** `Person.name`. */
  person: string;
  /** What was attempted, e.g. `lock.unlock`, `confirm`, `conversation`. */
  action: string;
  /** Entity id, or "" when none. */
  entityId: string;
  result: AuditResult;
  detail: string;
}

/** Fields the caller supplies to {@link HomeAuditLog.record}. */
export type NewAuditEntry = Omit<AuditEntry, "id" | "at" | "detail"> & { detail?: string };

/** Options of {@link HomeAuditLog}. */
export interface HomeAuditLogOptions {
  /** Clock, injectable for tests. Default `Date.now`. */
  now?: () => number;
}

/** Append-only log of Home Assistant actions. */
export class HomeAuditLog {
  readonly #insert: Statement;
  readonly #recent: Statement;
  readonly #now: () => number;

  /** Applies the home migrations to `db` (the caller owns and closes it). */
  constructor(db: Database, options: HomeAuditLogOptions = {}) {
    applyHomeMigrations(db);
    this.#now = options.now ?? Date.now;
    this.#insert = db.prepare("INSERT INTO home_audit (at_ms, person, action, entity_id, result, detail) VALUES (?, ?, ?, ?, ?, ?)");
    this.#recent = db.prepare("SELECT id, at_ms AS at, person, action, entity_id AS entityId, result, detail FROM home_audit ORDER BY id DESC LIMIT ?");
  }

  /** Append an entry; returns its id. */
  record(entry: NewAuditEntry): number {
    // Details are capped so a chatty HA error cannot bloat the table.
    const detail = (entry.detail ?? "").slice(0, 500);
    const info = this.#insert.run(this.#now(), entry.person, entry.action, entry.entityId, entry.result, detail);
    return Number(info.lastInsertRowid);
  }

  /** The newest `limit` entries, newest first. */
  recent(limit = 20): AuditEntry[] {
    return this.#recent.all(Math.max(1, Math.min(500, Math.floor(limit)))) as AuditEntry[];
  }
}
