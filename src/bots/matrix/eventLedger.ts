import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * Which Matrix events the bot has already handled, per room, in a small SQLite file under the
 * transport's `storeDir`. It is what makes restarts safe:
 *
 * - `handled` de-duplicates by event id, so an event seen again (re-sync after a restart, a retried
 *   decryption, a back-paginated gap) is never delivered twice.
 * - `floor` is the server timestamp before which a room's history is never handled: the moment the
 *   bot joined, or the newest event when the bot first saw the room. Without it the first start
 *   would answer the whole backlog.
 * - the newest handled timestamp per room tells the catch-up after a restart how far back to
 *   paginate to find messages sent while the bot was down.
 */
export class EventLedger {
  private readonly db: Database.Database;
  private readonly stmts: {
    isHandled: Database.Statement<[string], { one: number }>;
    mark: Database.Statement<[string, string, number, number]>;
    floor: Database.Statement<[string], { floor_ts: number }>;
    setFloor: Database.Statement<[string, number]>;
    newest: Database.Statement<[string], { ts: number | null }>;
  };

  /** Open (or create) `<storeDir>/matrix-events.sqlite`. */
  constructor(storeDir: string) {
    mkdirSync(storeDir, { recursive: true, mode: 0o700 });
    this.db = new Database(join(storeDir, "matrix-events.sqlite"));
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS handled (event_id TEXT PRIMARY KEY, room_id TEXT NOT NULL, ts INTEGER NOT NULL, handled_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS handled_room_ts ON handled(room_id, ts);
      CREATE TABLE IF NOT EXISTS room_floor (room_id TEXT PRIMARY KEY, floor_ts INTEGER NOT NULL);
    `);
    this.stmts = {
      isHandled: this.db.prepare("SELECT 1 AS one FROM handled WHERE event_id = ?"),
      mark: this.db.prepare("INSERT OR IGNORE INTO handled (event_id, room_id, ts, handled_at) VALUES (?, ?, ?, ?)"),
      floor: this.db.prepare("SELECT floor_ts FROM room_floor WHERE room_id = ?"),
      setFloor: this.db.prepare("INSERT OR IGNORE INTO room_floor (room_id, floor_ts) VALUES (?, ?)"),
      newest: this.db.prepare("SELECT MAX(ts) AS ts FROM handled WHERE room_id = ?"),
    };
  }

  /** True when `eventId` was already delivered. */
  isHandled(eventId: string): boolean {
    return this.stmts.isHandled.get(eventId) !== undefined;
  }

  /** Record that `eventId` has been delivered (idempotent). */
  markHandled(eventId: string, roomId: string, ts: number): void {
    this.stmts.mark.run(eventId, roomId, ts, Date.now());
  }

  /** The room's history floor (server ms), or undefined when the room is new to the bot. */
  floor(roomId: string): number | undefined {
    return this.stmts.floor.get(roomId)?.floor_ts;
  }

  /** Set the room's floor unless it already has one (the first sighting wins). */
  setFloorIfAbsent(roomId: string, ts: number): void {
    this.stmts.setFloor.run(roomId, ts);
  }

  /** Server timestamp of the newest handled event in the room, if any. */
  newestHandled(roomId: string): number | undefined {
    return this.stmts.newest.get(roomId)?.ts ?? undefined;
  }

  /**
   * Forget handled ids older than `maxAgeMs`, but keep each room's newest few so the restart
   * catch-up still knows where it stopped.
   */
  prune(maxAgeMs: number): number {
    const cutoff = Date.now() - maxAgeMs;
    const res = this.db
      .prepare(
        `DELETE FROM handled WHERE handled_at < ? AND event_id NOT IN (
           SELECT event_id FROM (SELECT event_id, ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY ts DESC) AS rn FROM handled) WHERE rn <= 20)`,
      )
      .run(cutoff);
    return res.changes;
  }

  /** Close the database. */
  dispose(): void {
    if (this.db.open) this.db.close();
  }
}
