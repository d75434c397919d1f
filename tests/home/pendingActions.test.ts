import { describe, expect, it } from "vitest";
import { PendingActions } from "../../src/home/pendingActions.ts";

const input = { requester: "kid", domain: "lock", service: "unlock", entityId: "lock.front_door", entityName: "Front Door", data: { entity_id: "lock.front_door" }, reason: "locks need confirmation" };

describe("PendingActions", () => {
  it("hands out distinct ids and takes an action once", () => {
    const clock = { now: 1_000_000 };
    const p = new PendingActions({ ttlMs: 120_000, now: () => clock.now });
    const a = p.add(input);
    const b = p.add(input);
    expect(a.id).not.toBe(b.id);
    expect(a.expiresAt - a.createdAt).toBe(120_000);
    expect(p.take(`#${a.id}`)).toMatchObject({ status: "ok", action: { entityId: "lock.front_door" } });
    expect(p.take(a.id)).toEqual({ status: "unknown" });
    expect(p.list().map((x) => x.id)).toEqual([b.id]);
  });

  it("reports expiry after the ttl, using the injected clock", () => {
    const clock = { now: 5_000 };
    const p = new PendingActions({ ttlMs: 60_000, now: () => clock.now });
    const a = p.add(input);
    clock.now += 60_000;
    expect(p.peek(a.id)).toBeDefined();
    clock.now += 1;
    expect(p.list()).toEqual([]);
    expect(p.take(a.id).status).toBe("expired");
  });

  it("cancels", () => {
    const p = new PendingActions();
    const a = p.add(input);
    expect(p.cancel(a.id)).toBe(true);
    expect(p.cancel(a.id)).toBe(false);
  });
});
