import { describe, expect, it } from "vitest";
import { AbortedError } from "../../src/core/errors.ts";
import { WarmSlotPool } from "../../src/llm/warmSlotPool.ts";

function pool(capacity: number) {
  let n = 0;
  return new WarmSlotPool<number>({ capacity, create: () => n++ });
}

describe("WarmSlotPool", () => {
  it("gives a conversation its own slot back (warm) and new ones fresh slots", async () => {
    const p = pool(2);
    const a = await p.acquire("a");
    expect(a.reassigned).toBe(true);
    a.release();
    const a2 = await p.acquire("a");
    expect(a2.value).toBe(a.value);
    expect(a2.reassigned).toBe(false);
    const b = await p.acquire("b");
    expect(b.value).not.toBe(a.value);
    a2.release();
    b.release();
  });

  it("evicts the least recently used idle slot and reports whom it took it from", async () => {
    const p = pool(2);
    (await p.acquire("a")).release();
    (await p.acquire("b")).release();
    (await p.acquire("a")).release(); // a is now more recent than b
    const c = await p.acquire("c");
    expect(c.reassigned).toBe(true);
    expect(c.evictedKey).toBe("b");
    expect(p.owned("a")).toBeDefined();
    expect(p.owned("b")).toBeUndefined();
    c.release();
  });

  it("queues FIFO when all slots are busy", async () => {
    const p = pool(1);
    const first = await p.acquire("a");
    const order: string[] = [];
    const waits = ["b", "c", "d"].map((k) =>
      p.acquire(k).then((l) => {
        order.push(k);
        l.release();
      }),
    );
    expect(p.queued).toBe(3);
    first.release();
    await Promise.all(waits);
    expect(order).toEqual(["b", "c", "d"]);
    expect(p.queued).toBe(0);
  });

  it("serialises two requests of the same conversation even when another slot is free", async () => {
    const p = pool(2);
    const a1 = await p.acquire("a");
    let got = false;
    const a2 = p.acquire("a").then((l) => {
      got = true;
      return l;
    });
    const b = await p.acquire("b"); // b is not blocked by a's waiter
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toBe(false);
    a1.release();
    const lease = await a2;
    expect(lease.value).toBe(a1.value);
    expect(lease.reassigned).toBe(false);
    lease.release();
    b.release();
  });

  it("removes an aborted waiter and serves the ones behind it", async () => {
    const p = pool(1);
    const first = await p.acquire("a");
    const ac = new AbortController();
    const aborted = p.acquire("b", ac.signal);
    const next = p.acquire("c");
    ac.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortedError);
    expect(p.queued).toBe(1);
    first.release();
    const c = await next;
    expect(c.evictedKey).toBe("a");
    c.release();
  });

  it("forget detaches a conversation so it starts cold next time", async () => {
    const p = pool(1);
    const a = await p.acquire("a");
    expect(p.forget("a")).toBeUndefined(); // busy: cleared on next reuse instead
    a.release();
    const again = await p.acquire("a");
    expect(again.reassigned).toBe(true);
    again.release();
    expect(p.forget("a")).toBe(again.value);
    expect(p.forget("zzz")).toBeUndefined();
  });

  it("a double release is harmless", async () => {
    const p = pool(1);
    const a = await p.acquire("a");
    a.release();
    a.release();
    const b = await p.acquire("b");
    const ac = new AbortController();
    const c = p.acquire("c", ac.signal);
    a.release(); // must not free b's slot
    await new Promise((r) => setTimeout(r, 10));
    expect(p.queued).toBe(1);
    ac.abort();
    await expect(c).rejects.toBeInstanceOf(AbortedError);
    b.release();
  });

  it("close rejects waiters and refuses new requests", async () => {
    const p = pool(1);
    await p.acquire("a");
    const waiting = p.acquire("b");
    p.close(new Error("shut down"));
    await expect(waiting).rejects.toThrow("shut down");
    await expect(p.acquire("c")).rejects.toThrow();
  });
});
