import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { HomeAuditLog } from "../../src/home/auditLog.ts";
import { applyHomeMigrations, HOME_MIGRATIONS } from "../../src/home/homeMigrations.ts";
import { tempDatabase } from "./homeFixtures.ts";

describe("home audit log", () => {
  it("migrates once, tracked in schema_versions without touching user_version", () => {
    const t = tempDatabase();
    try {
      t.db.pragma("user_version = 7");
      expect(applyHomeMigrations(t.db)).toBe(HOME_MIGRATIONS.length);
      expect(applyHomeMigrations(t.db)).toBe(HOME_MIGRATIONS.length);
      expect(t.db.prepare("SELECT version FROM schema_versions WHERE component = 'home'").get()).toEqual({ version: HOME_MIGRATIONS.length });
      expect(t.db.pragma("user_version", { simple: true })).toBe(7);
    } finally {
      t.cleanup();
    }
  });

  it("records entries that survive reopening, newest first", () => {
    const t = tempDatabase();
    try {
      let now = 1_700_000_000_000;
      const log = new HomeAuditLog(t.db, { now: () => now });
      log.record({ person: "kid", action: "lock.unlock", entityId: "lock.front_door", result: "pending", detail: "id 1" });
      now += 1000;
      log.record({ person: "ann", action: "lock.unlock", entityId: "lock.front_door", result: "ok" });
      t.db.close();
      const reopened = new Database(t.path);
      try {
        const rows = new HomeAuditLog(reopened).recent(10);
        expect(rows.map((r) => [r.person, r.result, r.at])).toEqual([
          ["ann", "ok", 1_700_000_001_000],
          ["kid", "pending", 1_700_000_000_000],
        ]);
      } finally {
        reopened.close();
      }
    } finally {
      try {
        t.cleanup();
      } catch {
        // Already closed above.
      }
    }
  });

  it("rejects unknown results at the database level", () => {
    const t = tempDatabase();
    try {
      const log = new HomeAuditLog(t.db);
      expect(() => log.record({ person: "x", action: "y", entityId: "", result: "maybe" as "ok" })).toThrow();
    } finally {
      t.cleanup();
    }
  });
});
