import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Person } from "../../src/core/people.ts";
import { HomeAuditLog } from "../../src/home/auditLog.ts";
import { HaClient } from "../../src/home/haClient.ts";
import type { HaAuthorize } from "../../src/home/haTypes.ts";
import type { HomeContext } from "../../src/home/homeActions.ts";
import { PendingActions } from "../../src/home/pendingActions.ts";
import { HomePolicy } from "../../src/home/permissions.ts";

/** Shared set-up for the home tests: people, a canary token and a vault-like authorize. */

const none = { areas: [], domains: [], entities: [] };

/** Parent: sees and controls everything, may confirm. */
export const ann: Person = {
  name: "ann",
  displayName: "Ann",
  role: "admin",
  identities: ["console:ann"],
  home: { read: { ...none, areas: ["*"] }, control: { ...none, domains: ["*"] }, canConfirm: true },
};

/** Other parent without confirm rights over the house's sensitive things, and no conversation. */
export const bob: Person = {
  name: "bob",
  displayName: "Bob",
  role: "adult",
  identities: ["console:bob"],
  home: { read: { ...none, areas: ["*"] }, control: { ...none, domains: ["light", "climate"] }, canConfirm: false },
};

/** Child: sees their room and the front door, switches only their room's light and the lock. */
export const kid: Person = {
  name: "kid",
  displayName: "Kid",
  role: "child",
  identities: ["console:kid"],
  home: {
    read: { ...none, areas: ["Kids' Room"], entities: ["lock.front_door"] },
    control: { ...none, areas: ["kids_room"], entities: ["lock.front_door"] },
    canConfirm: false,
  },
};

/** A fresh random token, so any leak is unambiguous. */
export function canaryToken(): string {
  return `CANARY${randomBytes(16).toString("hex")}`;
}

/**
 * Mimics the vault's tool-boundary expander: fills `{{secret:ha_token}}` in headers only, and only
 * for the allowed host; refuses any other host.
 */
export function vaultLikeAuthorize(token: string, allowedHost: string, seen?: string[]): HaAuthorize {
  return async (request) => {
    seen?.push(JSON.stringify(request));
    const host = new URL(request.url).host;
    if (host !== allowedHost) throw new Error(`secret ha_token is not allowed for host ${host}`);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(request.headers)) headers[k] = v.replaceAll("{{secret:ha_token}}", token);
    return { ...request, headers };
  };
}

/** A temp SQLite database; `cleanup()` closes and deletes it. */
export function tempDatabase(): { db: Database.Database; path: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "hearth-home-"));
  const path = join(dir, "hearth.db");
  const db = new Database(path);
  return {
    db,
    path,
    cleanup: () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Everything a flow test needs against one HA URL. */
export interface HomeHarness {
  client: HaClient;
  policy: HomePolicy;
  pending: PendingActions;
  audit: HomeAuditLog;
  db: Database.Database;
  clock: { now: number };
  ctx(person: Person): HomeContext;
  dispose(): void;
}

/** Build client, policy, pending list (manual clock) and audit log. */
export function homeHarness(url: string, authorize: HaAuthorize, options: { timeoutMs?: number } = {}): HomeHarness {
  const client = new HaClient({ url, authorize, timeoutMs: options.timeoutMs ?? 5000, reconnectInitialMs: 50, reconnectMaxMs: 500 });
  const clock = { now: Date.now() };
  const pending = new PendingActions({ ttlMs: 120_000, now: () => clock.now });
  const tdb = tempDatabase();
  const audit = new HomeAuditLog(tdb.db);
  const policy = new HomePolicy({ climateSafeRange: [60, 78] });
  return {
    client,
    policy,
    pending,
    audit,
    db: tdb.db,
    clock,
    ctx: (person) => ({ person, client, permissions: policy, pending, audit }),
    dispose: () => {
      client.dispose();
      tdb.cleanup();
    },
  };
}
