import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { HearthError } from "../core/errors.ts";

/** A better-sqlite3 connection. */
export type Db = Database.Database;

/** One schema step. Applied once, in order, inside a transaction. */
export interface Migration {
  /** What this step does (shown in errors). */
  name: string;
  up(db: Db): void;
}

/**
 * Open (creating if needed) an SQLite database in WAL mode with sane durability settings.
 * WAL lets the CLI read the ledger while the bot writes; `synchronous=FULL` because receipts and
 * memory are the user's records, not a cache.
 */
export function openDatabase(file: string): Db {
  mkdirSync(dirname(file), { recursive: true });
  let db: Db;
  try {
    db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
  } catch (err) {
    throw new HearthError(
      "DB_OPEN_FAILED",
      `Cannot open the database ${file}: ${(err as Error).message}. Check that the data folder is writable and the file is a Hearth database (restore it from a backup if it is corrupt).`,
      { cause: err },
    );
  }
  return db;
}

/**
 * Bring a schema up to date. `PRAGMA user_version` records how many of `migrations` have run;
 * each step runs in its own transaction so a crash leaves the database at a whole version.
 * A database newer than this Hearth is refused rather than silently misread.
 */
export function migrate(db: Db, migrations: readonly Migration[]): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > migrations.length) {
    throw new HearthError(
      "DB_TOO_NEW",
      `The database was written by a newer Hearth (schema ${current}, this one knows ${migrations.length}). Upgrade Hearth or restore an older backup.`,
    );
  }
  for (let i = current; i < migrations.length; i++) {
    const step = migrations[i]!;
    db.transaction(() => {
      step.up(db);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
}

/**
 * Like {@link migrate}, for a feature that shares the core database: its version is kept in the
 * `schema_versions` row named `component` instead of `PRAGMA user_version`.
 */
export function migrateComponent(db: Db, component: string, migrations: readonly Migration[]): void {
  db.exec("CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)");
  const row = db.prepare("SELECT version FROM schema_versions WHERE component = ?").get(component) as { version: number } | undefined;
  const current = row?.version ?? 0;
  if (current > migrations.length) {
    throw new HearthError("DB_TOO_NEW", `The ${component} tables were written by a newer Hearth. Upgrade Hearth or restore an older backup.`);
  }
  for (let i = current; i < migrations.length; i++) {
    const step = migrations[i]!;
    db.transaction(() => {
      step.up(db);
      db.prepare("INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version").run(component, i + 1);
    })();
  }
}
