import type { Db } from "../storage/database.ts";

/** A stored turn. Text is always already redacted (handles, never secret values). */
export interface StoredMessage {
  id: number;
  role: "user" | "assistant";
  sender: string | null;
  text: string;
  createdAt: number;
}

/**
 * Per-chat conversation memory in SQLite. It survives restarts; `/reset` clears one chat.
 * Old turns are not deleted when the context budget is exceeded: they are marked folded (and,
 * with the summarize policy, described by the chat's summary) so history stays auditable.
 */
export class ConversationStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Append a turn and return its id. */
  append(chatId: string, role: "user" | "assistant", text: string, sender: string | null = null): number {
    const info = this.#db
      .prepare("INSERT INTO messages (chat_id, role, sender, text, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(chatId, role, sender, text, Date.now());
    return Number(info.lastInsertRowid);
  }

  /** Turns not yet folded away, oldest first. */
  activeTurns(chatId: string): StoredMessage[] {
    const folded = this.state(chatId).foldedThrough;
    return (
      this.#db
        .prepare("SELECT id, role, sender, text, created_at AS createdAt FROM messages WHERE chat_id = ? AND id > ? ORDER BY id")
        .all(chatId, folded) as StoredMessage[]
    );
  }

  /** The chat's running summary and fold point. */
  state(chatId: string): { summary: string; foldedThrough: number } {
    const row = this.#db.prepare("SELECT summary, folded_through AS foldedThrough FROM chat_state WHERE chat_id = ?").get(chatId) as
      | { summary: string; foldedThrough: number }
      | undefined;
    return row ?? { summary: "", foldedThrough: 0 };
  }

  /** Mark turns up to `throughId` as folded, replacing the summary. */
  fold(chatId: string, throughId: number, summary: string): void {
    this.#db
      .prepare(
        `INSERT INTO chat_state (chat_id, summary, folded_through, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (chat_id) DO UPDATE SET summary = excluded.summary, folded_through = excluded.folded_through, updated_at = excluded.updated_at`,
      )
      .run(chatId, summary, throughId, Date.now());
  }

  /** Forget a chat entirely (`/reset`). Returns how many turns were removed. */
  reset(chatId: string): number {
    return this.#db.transaction(() => {
      const n = this.#db.prepare("DELETE FROM messages WHERE chat_id = ?").run(chatId).changes;
      this.#db.prepare("DELETE FROM chat_state WHERE chat_id = ?").run(chatId);
      return n;
    })();
  }

  /** Number of stored turns for a chat (all, folded or not). */
  count(chatId: string): number {
    return (this.#db.prepare("SELECT COUNT(*) AS n FROM messages WHERE chat_id = ?").get(chatId) as { n: number }).n;
  }
}
