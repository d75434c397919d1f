import type { Migration } from "./database.ts";

/**
 * Hearth's core schema, in order. Never edit a released step: append a new one.
 * Feature stores (ledger, home audit) keep their own version rows in `schema_versions`.
 */
export const coreMigrations: readonly Migration[] = [
  {
    name: "conversations",
    up(db) {
      db.exec(`
        CREATE TABLE messages (
          id INTEGER PRIMARY KEY,
          chat_id TEXT NOT NULL,
          role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
          sender TEXT,
          text TEXT NOT NULL,
          tokens INTEGER,
          created_at INTEGER NOT NULL
        );
        CREATE INDEX messages_chat ON messages (chat_id, id);
        CREATE TABLE chat_state (
          chat_id TEXT PRIMARY KEY,
          summary TEXT NOT NULL DEFAULT '',
          -- Messages with id <= this are folded into the summary or trimmed, and not sent again.
          folded_through INTEGER NOT NULL DEFAULT 0,
          updated_at INTEGER NOT NULL
        );
        CREATE TABLE schema_versions (
          component TEXT PRIMARY KEY,
          version INTEGER NOT NULL
        );
      `);
    },
  },
  {
    name: "handled events",
    up(db) {
      // Transports record handled platform event ids so a restart never answers twice.
      db.exec(`
        CREATE TABLE handled_events (
          event_id TEXT PRIMARY KEY,
          handled_at INTEGER NOT NULL
        );
      `);
    },
  },
];
