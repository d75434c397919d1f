import type { Database } from "better-sqlite3";

/**
 * Schema of the Home Assistant tables, versioned on their own. The shared database keeps the core
 * schema in `PRAGMA user_version`; components record theirs as rows of `schema_versions` so
 * their migrations can be added without renumbering anyone else's.
 */

/** Key of this component's row in `schema_versions`. */
export const HOME_SCHEMA_KEY = "home";

/** Ordered migrations; index + 1 is the version each one produces. Never edit a shipped entry. */
export const HOME_MIGRATIONS: readonly string[] = [
  `CREATE TABLE home_audit (
     id        INTEGER PRIMARY KEY AUTOINCREMENT,
     at_ms     INTEGER NOT NULL,
     person    TEXT    NOT NULL,
     action    TEXT    NOT NULL,
     entity_id TEXT    NOT NULL DEFAULT '',
     result    TEXT    NOT NULL CHECK (result IN ('ok', 'denied', 'failed', 'pending', 'expired')),
     detail    TEXT    NOT NULL DEFAULT ''
   );
   CREATE INDEX home_audit_at ON home_audit (at_ms);`,
];

/** Bring the home tables up to date; returns the resulting version. Idempotent. */
export function applyHomeMigrations(db: Database): number {
  db.exec("CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)");
  const run = db.transaction((): number => {
    const row = db.prepare("SELECT version FROM schema_versions WHERE component = ?").get(HOME_SCHEMA_KEY) as { version: number } | undefined;
    let version = row?.version ?? 0;
    if (version > HOME_MIGRATIONS.length) {
      throw new Error(`the database has home schema version ${version}, newer than this Hearth (${HOME_MIGRATIONS.length}); upgrade Hearth`);
    }
    for (; version < HOME_MIGRATIONS.length; version++) db.exec(HOME_MIGRATIONS[version] as string);
    db.prepare("INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version").run(
      HOME_SCHEMA_KEY,
      version,
    );
    return version;
  });
  // IMMEDIATE so two processes opening the same file cannot both apply migration 1.
  return run.immediate();
}
