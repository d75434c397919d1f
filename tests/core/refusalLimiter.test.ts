import { describe, expect, it } from "vitest";
import { RefusalLimiter } from "../../src/core/refusalLimiter.ts";

const DAY = 24 * 60 * 60 * 1000;

describe("RefusalLimiter", () => {
  it("refuses each stranger at most once per day", () => {
    let now = 1_000_000;
    const limiter = new RefusalLimiter({ now: () => now });
    expect(limiter.shouldRefuse("telegram:1")).toBe(true);
    expect(limiter.shouldRefuse("telegram:1")).toBe(false);
    expect(limiter.shouldRefuse("telegram:2")).toBe(true);
    now += DAY - 1;
    expect(limiter.shouldRefuse("telegram:1")).toBe(false);
    now += 1;
    expect(limiter.shouldRefuse("telegram:1")).toBe(true);
    expect(limiter.shouldRefuse("telegram:1")).toBe(false);
  });

  it("forgets a sender on request", () => {
    const limiter = new RefusalLimiter({ now: () => 5 });
    limiter.shouldRefuse("a");
    limiter.forget("a");
    expect(limiter.shouldRefuse("a")).toBe(true);
  });

  it("bounds memory, forgetting the oldest first", () => {
    let now = 0;
    const limiter = new RefusalLimiter({ maxEntries: 3, now: () => now });
    for (const id of ["a", "b", "c", "d"]) {
      now++;
      limiter.shouldRefuse(id);
    }
    expect(limiter.size).toBe(3);
    expect(limiter.shouldRefuse("a")).toBe(true); // evicted, so refused again
    expect(limiter.shouldRefuse("d")).toBe(false);
  });

  it("drops expired entries as time passes", () => {
    let now = 0;
    const limiter = new RefusalLimiter({ windowMs: 10, now: () => now });
    limiter.shouldRefuse("a");
    limiter.shouldRefuse("b");
    now = 100;
    limiter.shouldRefuse("c");
    expect(limiter.size).toBe(1);
  });

  it("rejects nonsensical options", () => {
    expect(() => new RefusalLimiter({ windowMs: 0 })).toThrow(RangeError);
    expect(() => new RefusalLimiter({ maxEntries: 0 })).toThrow(RangeError);
  });
});
