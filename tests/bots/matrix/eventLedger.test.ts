import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EventLedger } from "../../../src/bots/matrix/eventLedger.ts";

const dir = mkdtempSync(join(tmpdir(), "hearth-ledger-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("EventLedger", () => {
  it("persists handled ids, floors and newest timestamps across reopen", () => {
    const a = new EventLedger(join(dir, "s1"));
    expect(a.isHandled("$1")).toBe(false);
    a.markHandled("$1", "!r", 100);
    a.markHandled("$1", "!r", 100); // idempotent
    a.markHandled("$2", "!r", 300);
    a.setFloorIfAbsent("!r", 50);
    a.setFloorIfAbsent("!r", 999); // first sighting wins
    a.dispose();
    const b = new EventLedger(join(dir, "s1"));
    expect(b.isHandled("$1")).toBe(true);
    expect(b.isHandled("$3")).toBe(false);
    expect(b.floor("!r")).toBe(50);
    expect(b.floor("!other")).toBeUndefined();
    expect(b.newestHandled("!r")).toBe(300);
    expect(b.newestHandled("!other")).toBeUndefined();
    b.dispose();
  });

  it("prunes old ids but keeps each room's newest ones", () => {
    const l = new EventLedger(join(dir, "s2"));
    for (let i = 0; i < 30; i++) l.markHandled(`$e${i}`, "!r", 1000 + i);
    expect(l.prune(-1)).toBe(10);
    expect(l.isHandled("$e29")).toBe(true);
    expect(l.isHandled("$e0")).toBe(false);
    expect(l.newestHandled("!r")).toBe(1029);
    l.dispose();
  });
});
